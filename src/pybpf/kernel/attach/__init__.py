"""Attaching loaded programs to the running kernel, by probe name or section name.

``attach(program, "tracepoint:sched:sched_process_exec")`` takes the probe names
bpftrace users type; with no target, the program's ELF section name (libbpf's
conventions: ``tracepoint/sched/sched_process_exec``, ``uprobe/libc.so.6:malloc``, ...)
says where it goes. Every attachment is an object with ``close()`` (and a context
manager) that removes the hook.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING, Any

from pybpf.engine.link import Link
from pybpf.kernel.attach.network import (
    CGROUP_HOOKS,
    XDP_MODES,
    SocketAttachment,
    attach_cgroup,
    attach_socket,
    attach_tc,
    attach_xdp,
    interface_index,
)
from pybpf.kernel.attach.tracing import (
    AttachError,
    IteratorOutput,
    LinkGroup,
    PerfEventLink,
    attach_iterator,
    attach_kprobe,
    attach_kprobe_multi,
    attach_perf_event,
    attach_raw_tracepoint,
    attach_tracepoint,
    attach_uprobe,
    attach_uprobe_multi,
    attach_usdt,
    attach_usdt_site,
    link_perf_event,
    resolve_uprobe,
)
from pybpf.object.sections import section_kind

__all__ = [
    "AttachError", "CGROUP_HOOKS", "IteratorOutput", "LinkGroup", "PerfEventLink", "SocketAttachment", "XDP_MODES",
    "attach", "attach_cgroup", "attach_iterator", "attach_kprobe", "attach_kprobe_multi", "attach_perf_event", "attach_raw_tracepoint",
    "attach_socket", "attach_tc", "attach_tracepoint", "attach_uprobe", "attach_uprobe_multi", "attach_usdt", "attach_usdt_site", "attach_xdp",
    "interface_index", "link_perf_event", "parse_target", "resolve_uprobe", "target_of_section",
]

_KIND_ALIASES = {"t": "tracepoint", "tp": "tracepoint", "rawtracepoint": "raw_tracepoint", "rt": "raw_tracepoint",
                 "raw_tp": "raw_tracepoint", "u": "uprobe", "ur": "uretprobe", "U": "usdt", "k": "kprobe",
                 "kr": "kretprobe", "p": "profile", "s": "software", "h": "hardware"}


def target_of_section(section: str) -> str:
    """The probe name a libbpf section names: ``tracepoint/sched/x`` → ``tracepoint:sched:x``,
    ``uprobe/libc.so.6:malloc`` → ``uprobe:libc.so.6:malloc``, ``xdp`` → ``xdp`` (from the
    one table of section names, :mod:`pybpf.object.sections`)."""
    kind = section_kind(section)
    name = kind.probe_name() if kind is not None else None
    if name is None:
        raise AttachError(f"section {section!r}", errno.EINVAL,
                          "the section name does not say where to attach; give a target such as "
                          "tracepoint:CATEGORY:NAME")
    return name


def parse_target(target: str) -> tuple[str, list[str]]:
    """Split ``kind:a:b`` into the kind (aliases resolved) and its fields."""
    kind, _, rest = target.partition(":")
    kind = _KIND_ALIASES.get(kind, kind)
    return kind, rest.split(":") if rest else []


if TYPE_CHECKING:
    from pybpf.kernel.programs import KernelProgram


def attach(program: KernelProgram, target: str | None = None, **options: Any) -> Link:
    """Attach a loaded kernel program to ``target``,
    a bpftrace-style probe name; without one, to what its section names. ``options``
    complete targets a section leaves open: ``interface=`` for xdp/tc, ``cgroup=`` for
    cgroup hooks, ``socket=`` for socket filters, ``pid=`` for uprobes/USDT/perf events.
    The program keeps a reference: closing it (or its collection) detaches too."""
    attachment = _attach(program, target, **options)
    program.attachments.append(attachment)
    return attachment


def _attach(program: KernelProgram, target: str | None = None, **options: Any) -> Link:
    """The attachment itself (see :func:`attach`)."""
    if target is None:
        section = getattr(program.spec, "section", "") or ""
        if not section:
            raise AttachError(f"program {program.spec.name!r}", errno.EINVAL,
                              "it has no section name to infer the hook from; give a target")
        target = target_of_section(section)
    kind, fields = parse_target(target)
    fd = program.fd
    pid = options.get("pid", -1)

    def need(count: int, form: str) -> list[str]:
        if len(fields) < count or not all(fields[:count]):
            raise AttachError(f"target {target!r}", errno.EINVAL, f"expected {form}")
        return fields

    if kind == "tracepoint":
        category, name = need(2, "tracepoint:CATEGORY:NAME")[:2]
        return attach_tracepoint(fd, f"{category}:{name}", cookie=options.get("cookie", 0))
    if kind == "raw_tracepoint":
        return attach_raw_tracepoint(fd, need(1, "raw_tracepoint:NAME")[-1])
    if kind == "tp_btf":
        return attach_raw_tracepoint(fd, fields[-1] if fields else "", by_btf=True)
    if kind == "iter":
        return attach_iterator(fd, fields[-1] if fields else "")
    if kind in ("uprobe", "uretprobe"):
        binary, symbol = need(2, f"{kind}:BINARY:SYMBOL[+OFFSET]")[:2]
        name, _, offset = symbol.partition("+")
        address = int(name, 0) if name[:1].isdigit() else None
        return attach_uprobe(fd, binary, None if address is not None else name, offset=int(offset or "0", 0),
                             address=address, retprobe=kind == "uretprobe", pid=pid)
    if kind in ("uprobe_multi", "uretprobe_multi"):
        binary, patterns = need(2, f"{kind}:BINARY:PATTERN[,PATTERN...]")[:2]
        return attach_uprobe_multi(fd, binary, patterns.split(","), retprobe=kind == "uretprobe_multi", pid=pid)
    if kind == "usdt":
        parts = need(2, "usdt:BINARY:[PROVIDER:]NAME")
        provider, name = (parts[1], parts[2]) if len(parts) > 2 else (None, parts[1])
        return attach_usdt(fd, parts[0], name, provider, pid=pid, specs=program.usdt_specs,
                           usdt_cookie=options.get("cookie", 0))
    if kind in ("kprobe_multi", "kretprobe_multi"):
        functions = need(1, f"{kind}:FUNCTION[,FUNCTION...]")[0].split(",")
        return attach_kprobe_multi(fd, functions, retprobe=kind == "kretprobe_multi")
    if kind in ("kprobe", "kretprobe"):
        return attach_kprobe(fd, need(1, f"{kind}:FUNCTION")[0], retprobe=kind == "kretprobe")
    if kind in ("profile", "software", "hardware", "perf_event"):
        return _attach_sampling(fd, kind, fields, target, pid)
    if kind == "xdp":
        interface = fields[0] if fields and fields[0] else options.get("interface")
        if interface is None:
            raise AttachError(f"target {target!r}", errno.EINVAL, "expected xdp:INTERFACE[:MODE] or interface=")
        return attach_xdp(fd, interface, fields[1] if len(fields) > 1 else options.get("mode", "auto"))
    if kind == "tc":
        interface = fields[0] if fields and fields[0] not in ("ingress", "egress", "") else options.get("interface")
        direction = next((f for f in fields if f in ("ingress", "egress")), options.get("direction", "ingress"))
        if interface is None:
            raise AttachError(f"target {target!r}", errno.EINVAL, "expected tc:INTERFACE:ingress|egress or interface=")
        return attach_tc(fd, interface, direction)
    if kind == "cgroup":
        path = fields[0] if fields and fields[0] else options.get("cgroup")
        hook = fields[1] if len(fields) > 1 else options.get("hook")
        if not path or not hook:
            raise AttachError(f"target {target!r}", errno.EINVAL, "expected cgroup:PATH:HOOK (or cgroup= and hook=)")
        return attach_cgroup(fd, path, hook)
    if kind == "socket":
        sock = options.get("socket")
        if sock is None:
            raise AttachError(f"target {target!r}", errno.EINVAL, "socket filters need socket=<a socket object>")
        return attach_socket(fd, sock)
    if kind in ("fentry", "fexit", "lsm"):
        raise AttachError(f"target {target!r}", errno.EOPNOTSUPP,
                          f"{kind} programs attach when they are loaded (BPF trampolines); see the load error")
    raise AttachError(f"target {target!r}", errno.EINVAL, f"unknown probe kind {kind!r}")


def _attach_sampling(fd: int, kind: str, fields: list[str], target: str, pid: int) -> LinkGroup:
    """``profile:hz:99``, ``software:cpu-clock:100000`` (a period), ``hardware:cycles:1000000``."""
    try:
        if kind == "profile":
            unit, rate = fields[0], int(fields[1])
            if unit != "hz":
                raise ValueError
            return attach_perf_event(fd, "cpu-clock", frequency=rate, pid=pid)
        event = fields[0]
        period = int(fields[1]) if len(fields) > 1 else None
        return attach_perf_event(fd, event, period=period, frequency=None if period else 99, pid=pid)
    except (IndexError, ValueError):
        raise AttachError(f"target {target!r}", errno.EINVAL,
                          "expected profile:hz:RATE, software:EVENT[:PERIOD] or hardware:EVENT[:PERIOD]") from None
