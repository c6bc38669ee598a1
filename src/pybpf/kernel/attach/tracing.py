"""Attaching tracing programs: tracepoints, raw tracepoints, uprobes/uretprobes, USDT
probes, perf events (profiling) — and clear refusals for kprobes and trampolines on
kernels that lack them.

Perf-event based hooks (tracepoint, uprobe, perf event) open a perf event and tie the
program to it with a BPF link (BPF_LINK_CREATE, attach type BPF_PERF_EVENT); the
returned link owns the perf event too, so closing the link removes the hook entirely.
Where a hook needs one event per CPU (sampling), or per site (USDT probes inlined in
several places), a :class:`LinkGroup` owns them all.
"""

from __future__ import annotations

import ctypes
import difflib
import errno
import fnmatch
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pybpf.engine.link import Link
from pybpf.errors import BPFError, PybpfError
from pybpf.kernel.link import BpfLink, create_link
from pybpf.kernel.perf_event import PerfEvent, PerfEventError, online_cpus
from pybpf.kernel.syscall import Command, bpf
from pybpf.object import AttachType
from pybpf.tracefs import Tracefs

if TYPE_CHECKING:
    from pybpf.usdt import UsdtProbe


class AttachError(BPFError):
    """A hook that cannot be attached here, with the reason and what to use instead."""

    def __init__(self, what: str, errno_: int, hint: str) -> None:
        super().__init__("attach", errno_, hint, what)


class PerfEventLink(Link):
    """A BPF link over a perf event; closing it closes both (link first)."""

    def __init__(self, link: BpfLink, event: PerfEvent) -> None:
        super().__init__(f"{event.description} link")
        self.link = link
        self.event = event

    @property
    def fd(self) -> int:
        """The BPF link's fd."""
        return self.link.fd

    def detach(self) -> None:
        """Detach the program now (the objects stay open until closed)."""
        self.link.detach()

    def pin(self, path: str) -> None:
        """Pin the BPF link (the hook then outlives this process)."""
        self.link.pin(path)

    def _close(self) -> None:
        """Detach: release the link, then the perf event."""
        try:
            self.link.close()
        finally:
            self.event.close()


class LinkGroup(Link):
    """Several links that make one attachment (per-CPU events, every USDT site)."""

    def __init__(self, links: Sequence[Link], description: str) -> None:
        super().__init__(description)
        self.links = list(links)

    def _close(self) -> None:
        """Close every member (all of them, even if one fails)."""
        errors = []
        for link in self.links:
            try:
                link.close()
            except OSError as exc:  # keep closing the rest
                errors.append(exc)
        if errors:
            raise errors[0]

    def __len__(self) -> int:
        return len(self.links)


def link_perf_event(prog_fd: int, event: PerfEvent, cookie: int = 0) -> PerfEventLink:
    """Tie ``prog_fd`` to an open perf event with a BPF link (the event is closed if
    this fails, and owned by the link if it succeeds)."""
    return PerfEventLink(_perf_event_bpf_link(prog_fd, event, cookie), event)


def _perf_event_bpf_link(prog_fd: int, event: PerfEvent, cookie: int) -> BpfLink:
    """BPF_LINK_CREATE on a perf event; the event is closed if the kernel refuses."""
    try:
        return create_link(prog_fd, event.fileno(), AttachType.PERF_EVENT, extra=(cookie,))
    except BaseException:
        event.close()
        raise


def attach_tracepoint(prog_fd: int, tracepoint: str, *, cookie: int = 0,
                      tracefs: Tracefs | None = None) -> PerfEventLink:
    """Run the program on every hit of ``category:name`` (e.g. ``sched:sched_process_exec``)."""
    tracefs = tracefs or Tracefs()
    fmt = tracefs.format(tracepoint)
    event = PerfEvent.tracepoint(fmt.id, name=fmt.qualified_name, pid=-1, cpu=0, sample_type=0)
    return link_perf_event(prog_fd, event, cookie)


class _RawTracepointOpenAttr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_uint64), ("prog_fd", ctypes.c_uint32), ("pad", ctypes.c_uint32),
                ("cookie", ctypes.c_uint64)]


def attach_raw_tracepoint(prog_fd: int, name: str, by_btf: bool = False) -> BpfLink:
    """Run a raw tracepoint program on tracepoint ``name`` (``sched_switch``: no category;
    the program sees the tracepoint's C arguments, not the formatted record). A ``tp_btf``
    program (``by_btf``) named its tracepoint at load, so none is passed here."""
    name = name.split(":")[-1]
    encoded = ctypes.create_string_buffer(name.encode())
    attr = _RawTracepointOpenAttr(name=0 if by_btf else ctypes.addressof(encoded), prog_fd=prog_fd)
    description = f"raw tracepoint {name}"
    fd = bpf(Command.RAW_TRACEPOINT_OPEN, attr, description,
             hints={errno.ENOENT: f"the kernel has no tracepoint called {name!r}"})
    return BpfLink(fd, description)


class _IterCreateAttr(ctypes.Structure):
    _fields_ = [("link_fd", ctypes.c_uint32), ("flags", ctypes.c_uint32)]


class IteratorOutput(Link):
    """An attached BPF iterator: :meth:`read` runs it once over its target (tasks, maps...)
    and returns what the program printed with bpf_seq_printf; :meth:`close` detaches."""

    def __init__(self, link: BpfLink, description: str):
        super().__init__(description)
        self.link = link

    def read(self) -> str:
        """A fresh pass of the iterator, its whole output as text."""
        fd = bpf(Command.ITER_CREATE, _IterCreateAttr(link_fd=self.link.fd), self.description)
        chunks = []
        try:
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
        finally:
            os.close(fd)
        return b"".join(chunks).decode("utf-8", "replace")

    def pin(self, path: str) -> None:
        """Pin the iterator's link (bpftool iter pin: reading the pin runs it)."""
        self.link.pin(path)

    def _close(self) -> None:
        self.link.close()


def attach_iterator(prog_fd: int, target: str = "") -> IteratorOutput:
    """Attach an ``iter/...`` program (its target was named at load); read() runs it."""
    link = create_link(prog_fd, 0, AttachType.TRACE_ITER)
    return IteratorOutput(link, f"iterator {target}".strip())


def resolve_uprobe(binary: str, symbol: str | None = None, offset: int = 0,
                   address: int | None = None) -> tuple[str, int]:
    """(path, file offset) of a uprobe target: ``symbol`` (+``offset``) or an ELF virtual
    ``address`` in ``binary`` (a path or a library name such as ``c``)."""
    # ELF reading (pyelftools) is imported by the functions that need it: tracepoint-only
    # users of this module (pybpf trace's start-up) do not pay for it
    from pybpf.symbols import ElfSymbols, SymbolError, find_library
    try:
        path = find_library(binary) if "/" not in binary else binary
        elf = ElfSymbols.cached(path)
    except SymbolError as exc:
        raise AttachError(f"uprobe on {binary}", errno.ENOENT, str(exc)) from None
    if symbol is not None:
        try:
            start = elf.call_address(symbol)   # an IFUNC's implementation, not its resolver
        except SymbolError as exc:
            raise AttachError(f"uprobe on {path}", errno.ENOENT, str(exc)) from None
        if start is None:
            close = difflib.get_close_matches(symbol, elf.names(), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise AttachError(f"uprobe on {path}", errno.ENOENT, f"no function {symbol!r} in {path}{hint}")
        address = start + offset
    if address is None:
        raise AttachError(f"uprobe on {path}", errno.EINVAL, "give a symbol or an address")
    file_offset = elf.offset_of_vaddr(address)
    if file_offset is None:
        raise AttachError(f"uprobe on {path}", errno.EINVAL, f"address 0x{address:x} is in no loadable segment")
    return path, file_offset


def attach_uprobe(prog_fd: int, binary: str, symbol: str | None = None, *, offset: int = 0,
                  address: int | None = None, retprobe: bool = False, pid: int = -1,
                  cookie: int = 0) -> PerfEventLink:
    """Run the program when ``symbol`` (or ``address``) in ``binary`` is called (or
    returns, with ``retprobe``) — in every process, or only in ``pid``."""
    path, file_offset = resolve_uprobe(binary, symbol, offset, address)
    event = PerfEvent.uprobe(path, file_offset, retprobe=retprobe, pid=pid, cpu=0 if pid == -1 else -1)
    return link_perf_event(prog_fd, event, cookie)


class _UprobeMultiAttr(ctypes.Structure):
    """BPF_LINK_CREATE for BPF_TRACE_UPROBE_MULTI."""

    _fields_ = [("prog_fd", ctypes.c_uint32), ("target_fd", ctypes.c_uint32), ("attach_type", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("path", ctypes.c_uint64), ("offsets", ctypes.c_uint64),
                ("ref_ctr_offsets", ctypes.c_uint64), ("cookies", ctypes.c_uint64), ("cnt", ctypes.c_uint32),
                ("multi_flags", ctypes.c_uint32), ("pid", ctypes.c_uint32)]


def attach_uprobe_multi(prog_fd: int, binary: str, patterns: Sequence[str], *, retprobe: bool = False,
                        pid: int = -1) -> BpfLink:
    """One uprobe_multi link on every function of ``binary`` matching any of ``patterns``
    (shell globs, ``malloc`` or ``str*``); the program must be loaded for it
    (section ``uprobe.multi/...``). Refusals name what matched nothing."""
    from pybpf.symbols import ElfSymbols, SymbolError, find_library
    path = find_library(binary) if "/" not in binary else binary
    try:
        elf = ElfSymbols.cached(path)
    except SymbolError as exc:
        raise AttachError(f"uprobe_multi on {binary}", errno.ENOENT, str(exc)) from None
    names = sorted({name for name in elf.names() for pattern in patterns if fnmatch.fnmatchcase(name, pattern)})
    if not names:
        raise AttachError(f"uprobe_multi on {path}", errno.ENOENT, f"no function matches {', '.join(patterns)}")
    try:   # an IFUNC's implementation, not its resolver
        addresses = {address for address in map(elf.call_address, names) if address is not None}
    except SymbolError as exc:
        raise AttachError(f"uprobe_multi on {path}", errno.ENOENT, str(exc)) from None
    offsets = sorted({offset for offset in map(elf.offset_of_vaddr, addresses) if offset is not None})
    encoded = ctypes.create_string_buffer(os.fsencode(path))
    array = (ctypes.c_uint64 * len(offsets))(*offsets)
    attr = _UprobeMultiAttr(prog_fd=prog_fd, attach_type=AttachType.TRACE_UPROBE_MULTI,
                            path=ctypes.addressof(encoded), offsets=ctypes.addressof(array), cnt=len(offsets),
                            multi_flags=1 if retprobe else 0, pid=max(pid, 0))
    description = f"uprobe_multi on {len(offsets)} functions of {path}"
    return BpfLink(bpf(Command.LINK_CREATE, attr, description,
                    hints={errno.EINVAL: "the program must be loaded for uprobe_multi (section uprobe.multi/...)"}),
                description)


def attach_usdt(prog_fd: int, binary: str, name: str, provider: str | None = None, *,
                pid: int = -1, cookies: Sequence[int] = (), specs: Any = None, usdt_cookie: int = 0) -> LinkGroup:
    """Run the program at every site of USDT probe ``provider:name`` in ``binary``, with
    its semaphore raised while attached (and the semaphores of the probes it needs to
    fire: :func:`hold_companions`). ``cookies`` (one per site, in
    :func:`pybpf.usdt.find_probe` order) let the program tell sites apart; with ``specs``
    (the program's ``__bpf_usdt_specs`` map, <bpf/usdt.bpf.h>) each site's argument spec
    is written there, ``usdt_cookie`` in it, and its index is the site's cookie."""
    from pybpf.symbols import find_library
    from pybpf.usdt import find_probe
    path = find_library(binary) if "/" not in binary else binary
    sites: list[UsdtProbe] = find_probe(path, name, provider)
    if specs is not None:
        from pybpf.usdt.specs import write_specs

        cookies = write_specs(specs, sites, usdt_cookie)
    links: list[Link] = []
    try:
        for i, site in enumerate(sites):
            links.append(attach_usdt_site(prog_fd, site, pid=pid, cookie=cookies[i] if i < len(cookies) else 0,
                                          companions=False))
        links.extend(hold_companions(sites[0], pid=pid))
    except BaseException:
        LinkGroup(links, "").close()
        raise
    return LinkGroup(links, f"usdt {sites[0].qualified_name} in {path} ({len(sites)} sites)")


def attach_usdt_site(prog_fd: int, site: UsdtProbe, *, pid: int = -1, cookie: int = 0,
                     companions: bool = True) -> Link:
    """Run the program at one site of a USDT probe (a program compiled for that site's
    argument locations), its semaphore raised while attached — and, unless
    ``companions`` is false (the caller holds them), those of :func:`hold_companions`."""
    event = PerfEvent.uprobe(site.path, site.offset, ref_ctr_offset=site.semaphore_offset, pid=pid,
                             cpu=0 if pid == -1 else -1)
    link = link_perf_event(prog_fd, event, cookie)
    try:
        held = hold_companions(site, pid=pid) if companions else []
    except BaseException:
        link.close()
        raise
    return LinkGroup([link, *held], link.description) if held else link


class SemaphoreHold(Link):
    """A uprobe with no program whose only work is to keep a USDT semaphore raised."""

    def __init__(self, event: PerfEvent) -> None:
        super().__init__(event.description)
        self.event = event

    def _close(self) -> None:
        self.event.close()


def hold_companions(site: UsdtProbe, *, pid: int = -1) -> list[Link]:
    """Raise, for as long as the returned holds stay open, the semaphores of the other
    probes ``site`` needs to fire at all (CPython 3.11 fires ``function__entry`` only
    while ``line``'s semaphore is raised: :mod:`pybpf.usdt.companions`) — as a tracer
    attached to those probes would, with program-less uprobes counting them."""
    from pybpf.usdt.companions import companion_sites

    holds: list[Link] = []
    try:
        for companion in companion_sites(site):
            holds.append(SemaphoreHold(PerfEvent.uprobe(companion.path, companion.offset, pid=pid,
                                                        cpu=0 if pid == -1 else -1,
                                                        ref_ctr_offset=companion.semaphore_offset)))
    except BaseException:
        LinkGroup(holds, "").close()
        raise
    return holds


def attach_perf_event(prog_fd: int, event: str = "cpu-clock", *, frequency: int | None = None,
                      period: int | None = None, pid: int = -1,
                      cpus: Sequence[int] | None = None) -> LinkGroup:
    """Run a perf_event program on samples of a software or hardware event, on every CPU
    (or ``cpus``), at ``frequency`` Hz or every ``period`` events (default 99 Hz)."""
    if frequency is None and period is None:
        frequency = 99
    links: list[PerfEventLink] = []
    try:
        for cpu in (cpus if cpus is not None else online_cpus()):
            perf = PerfEvent.named(event, pid=pid, cpu=cpu, sample_freq=frequency or 0,
                                   sample_period=period or 0)
            links.append(link_perf_event(prog_fd, perf))
    except BaseException:
        LinkGroup(links, "").close()
        raise
    rate = f"{frequency} Hz" if frequency else f"every {period}"
    return LinkGroup(links, f"perf event {event} at {rate} on {len(links)} CPUs")


class _KprobeMultiAttr(ctypes.Structure):
    """BPF_LINK_CREATE for BPF_TRACE_KPROBE_MULTI."""

    _fields_ = [("prog_fd", ctypes.c_uint32), ("target_fd", ctypes.c_uint32), ("attach_type", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("multi_flags", ctypes.c_uint32), ("cnt", ctypes.c_uint32),
                ("syms", ctypes.c_uint64), ("addrs", ctypes.c_uint64), ("cookies", ctypes.c_uint64)]


def attach_kprobe_multi(prog_fd: int, functions: Sequence[str], *, retprobe: bool = False,
                        tracefs: Tracefs | None = None) -> BpfLink:
    """One kprobe_multi link on kernel ``functions`` (exact names; the program must be
    loaded for it, section ``kprobe.multi/...``). Where the kernel has no kprobes the error
    says so and names the tracepoints that cover the functions that have one."""
    names = [ctypes.create_string_buffer(name.encode()) for name in functions]
    pointers = (ctypes.c_uint64 * len(names))(*[ctypes.addressof(n) for n in names])
    attr = _KprobeMultiAttr(prog_fd=prog_fd, attach_type=AttachType.TRACE_KPROBE_MULTI, cnt=len(names),
                            syms=ctypes.addressof(pointers), multi_flags=1 if retprobe else 0)
    description = f"kprobe_multi on {len(names)} kernel functions"
    try:
        return BpfLink(bpf(Command.LINK_CREATE, attr, description), description)
    except BPFError as exc:
        if os.path.exists("/sys/bus/event_source/devices/kprobe"):
            raise
        try:
            catalog = tracefs or Tracefs()
            instead = {f: catalog.tracepoint_for_function(f) for f in functions}
        except PybpfError:
            instead = {}
        named = ", ".join(f"{f} -> tracepoint:{t}" for f, t in instead.items() if t)
        hint = f"; use tracepoints instead ({named})" if named else "; use tracepoints instead"
        raise AttachError(description, exc.errno, "this kernel has no kprobes (built without CONFIG_KPROBES), "
                          f"so kprobe_multi links are refused too{hint}") from None


def attach_kprobe(prog_fd: int, function: str, *, retprobe: bool = False, offset: int = 0,
                  cookie: int = 0, tracefs: Tracefs | None = None) -> PerfEventLink:
    """Run the program when kernel ``function`` is entered (or returns): through the
    kprobe PMU, else through tracefs's kprobe_events (older kernels). Where the kernel has
    neither the error names the tracepoint that reports the same event."""
    catalog: Tracefs | None
    try:
        catalog = tracefs or Tracefs()
        suggestion = catalog.tracepoint_for_function(function)
    except PybpfError:  # no tracefs: refuse without a suggestion
        catalog, suggestion = None, None
    try:
        event = PerfEvent.kprobe(function, offset=offset, retprobe=retprobe, suggestion=suggestion)
    except PerfEventError as exc:
        if catalog is not None and (catalog.root / "kprobe_events").exists():
            return _kprobe_event(prog_fd, function, retprobe, offset, cookie, catalog)
        raise AttachError(f"{'kretprobe' if retprobe else 'kprobe'} {function}", exc.errno or errno.ENOENT,
                          str(exc)) from None
    return link_perf_event(prog_fd, event, cookie)


class KprobeEventLink(PerfEventLink):
    """A kprobe made through tracefs's kprobe_events; closing also removes the probe."""

    def __init__(self, link: BpfLink, event: PerfEvent, control: str, name: str):
        super().__init__(link, event)
        self.control, self.probe_name = control, name

    def _close(self) -> None:
        """Detach, then delete the probe definition."""
        try:
            super()._close()
        finally:
            with open(self.control, "a") as control:
                control.write(f"-:kprobes/{self.probe_name}\n")


def _kprobe_event(prog_fd: int, function: str, retprobe: bool, offset: int, cookie: int,
                  tracefs: Tracefs) -> KprobeEventLink:
    """The kprobe_events path: define ``kprobes/pybpf_PID_FUNCTION``, attach to its event."""
    name = f"pybpf_{os.getpid()}_{function}" + ("_ret" if retprobe else "")
    control = str(tracefs.root / "kprobe_events")
    where = f"{function}+{offset}" if offset else function
    try:
        with open(control, "a") as events:
            events.write(f"{'r' if retprobe else 'p'}:kprobes/{name} {where}\n")
    except OSError as exc:
        raise AttachError(f"kprobe {function}", exc.errno or errno.EINVAL,
                          f"{control} refused the probe: {exc.strerror} (is {function} a kernel function?)") from None
    try:
        fmt = tracefs.format(f"kprobes:{name}")
        event = PerfEvent.tracepoint(fmt.id, name=fmt.qualified_name, pid=-1, cpu=0, sample_type=0)
        return KprobeEventLink(_perf_event_bpf_link(prog_fd, event, cookie), event, control, name)
    except BaseException:
        with open(control, "a") as events:
            events.write(f"-:kprobes/{name}\n")
        raise
