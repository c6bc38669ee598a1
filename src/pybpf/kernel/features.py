"""What this kernel supports, found by asking it (the questions ``bpftool feature probe``
answers): program types, map types, helpers per program type, attach types accepted at
load, the kernel configuration that matters for BPF, and whether kprobes exist.

Each probe makes the smallest object of its kind and closes it at once. A program type
counts as present when the kernel loads a trivial program of that type, or refuses it
only after recognising the type (a verifier log, or ENOTSUPP for struct_ops without a
struct); EPERM is reported as "not permitted" rather than absent, because the type
exists and the refusal is a policy one (lockdown, missing capabilities).
"""

from __future__ import annotations

import ctypes
import errno
import gzip
import os
import platform
import struct

from pybpf.errors import BPFError
from pybpf.isa import Instruction, encode
from pybpf.isa.helpers import HELPER_NAMES
from pybpf.kernel import attrs
from pybpf.kernel.btf import load_btf
from pybpf.kernel.fds import create_fd
from pybpf.kernel.syscall import ENOTSUPP, Command, bpf
from pybpf.object import AttachType, MapFlag, MapSpec, MapType, ProgramType

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

YES, NO, NOT_PERMITTED = "yes", "no", "not permitted"

_SLEEPABLE = 1 << 4
#: the expected attach type a program type must be loaded with, where it needs one
_LOAD_ATTACH = {
    ProgramType.CGROUP_SOCK_ADDR: AttachType.CGROUP_INET4_CONNECT,
    ProgramType.CGROUP_SOCKOPT: AttachType.CGROUP_GETSOCKOPT,
    ProgramType.SK_LOOKUP: AttachType.SK_LOOKUP,
    ProgramType.NETFILTER: AttachType.NETFILTER,
    ProgramType.TRACING: AttachType.TRACE_FENTRY,
    ProgramType.LSM: AttachType.LSM_MAC,
    ProgramType.LIRC_MODE2: AttachType.LIRC_MODE2,
}
#: program types whose load names a BTF id (we pass id 1: enough to be recognised)
_NEEDS_BTF_ID = {ProgramType.TRACING, ProgramType.LSM, ProgramType.EXT, ProgramType.STRUCT_OPS}

#: attach types and the program type that carries them
_ATTACH_PROGRAM = {
    **{a: ProgramType.CGROUP_SKB for a in (AttachType.CGROUP_INET_INGRESS,
                                           AttachType.CGROUP_INET_EGRESS)},
    **{a: ProgramType.CGROUP_SOCK for a in (
        AttachType.CGROUP_INET_SOCK_CREATE, AttachType.CGROUP_INET4_POST_BIND,
        AttachType.CGROUP_INET6_POST_BIND, AttachType.CGROUP_INET_SOCK_RELEASE)},
    **{a: ProgramType.CGROUP_SOCK_ADDR for a in AttachType
       if a.name.startswith(("CGROUP_INET4_", "CGROUP_INET6_", "CGROUP_UDP", "CGROUP_UNIX_"))
       and not a.name.endswith("POST_BIND")},
    AttachType.CGROUP_SOCK_OPS: ProgramType.SOCK_OPS,
    AttachType.CGROUP_DEVICE: ProgramType.CGROUP_DEVICE,
    AttachType.CGROUP_SYSCTL: ProgramType.CGROUP_SYSCTL,
    AttachType.CGROUP_GETSOCKOPT: ProgramType.CGROUP_SOCKOPT,
    AttachType.CGROUP_SETSOCKOPT: ProgramType.CGROUP_SOCKOPT,
    AttachType.SK_SKB_STREAM_PARSER: ProgramType.SK_SKB,
    AttachType.SK_SKB_STREAM_VERDICT: ProgramType.SK_SKB,
    AttachType.SK_SKB_VERDICT: ProgramType.SK_SKB,
    AttachType.SK_MSG_VERDICT: ProgramType.SK_MSG,
    AttachType.FLOW_DISSECTOR: ProgramType.FLOW_DISSECTOR,
    AttachType.SK_LOOKUP: ProgramType.SK_LOOKUP,
    AttachType.XDP: ProgramType.XDP,
    AttachType.XDP_DEVMAP: ProgramType.XDP,
    AttachType.XDP_CPUMAP: ProgramType.XDP,
    AttachType.SK_REUSEPORT_SELECT: ProgramType.SK_REUSEPORT,
    AttachType.SK_REUSEPORT_SELECT_OR_MIGRATE: ProgramType.SK_REUSEPORT,
    AttachType.TCX_INGRESS: ProgramType.SCHED_CLS,
    AttachType.TCX_EGRESS: ProgramType.SCHED_CLS,
    AttachType.NETKIT_PRIMARY: ProgramType.SCHED_CLS,
    AttachType.NETKIT_PEER: ProgramType.SCHED_CLS,
    AttachType.NETFILTER: ProgramType.NETFILTER,
    AttachType.PERF_EVENT: ProgramType.PERF_EVENT,
    AttachType.TRACE_KPROBE_MULTI: ProgramType.KPROBE,
    AttachType.TRACE_KPROBE_SESSION: ProgramType.KPROBE,
    AttachType.TRACE_UPROBE_MULTI: ProgramType.KPROBE,
    AttachType.TRACE_UPROBE_SESSION: ProgramType.KPROBE,
    AttachType.LIRC_MODE2: ProgramType.LIRC_MODE2,
}

#: kernel options bpftool reports, in its order
CONFIG_OPTIONS = (
    "CONFIG_BPF", "CONFIG_BPF_SYSCALL", "CONFIG_HAVE_EBPF_JIT", "CONFIG_BPF_JIT",
    "CONFIG_BPF_JIT_ALWAYS_ON", "CONFIG_DEBUG_INFO_BTF", "CONFIG_DEBUG_INFO_BTF_MODULES",
    "CONFIG_CGROUPS", "CONFIG_CGROUP_BPF", "CONFIG_CGROUP_NET_CLASSID",
    "CONFIG_SOCK_CGROUP_DATA", "CONFIG_BPF_EVENTS", "CONFIG_KPROBE_EVENTS",
    "CONFIG_UPROBE_EVENTS", "CONFIG_TRACING", "CONFIG_FTRACE_SYSCALLS",
    "CONFIG_FUNCTION_ERROR_INJECTION", "CONFIG_BPF_KPROBE_OVERRIDE", "CONFIG_NET",
    "CONFIG_XDP_SOCKETS", "CONFIG_LWTUNNEL_BPF", "CONFIG_NET_ACT_BPF", "CONFIG_NET_CLS_BPF",
    "CONFIG_NET_CLS_ACT", "CONFIG_NET_SCH_INGRESS", "CONFIG_XFRM", "CONFIG_IP_ROUTE_CLASSID",
    "CONFIG_IPV6_SEG6_BPF", "CONFIG_BPF_LIRC_MODE2", "CONFIG_BPF_STREAM_PARSER",
    "CONFIG_NETFILTER_XT_MATCH_BPF", "CONFIG_BPFILTER", "CONFIG_BPFILTER_UMH",
    "CONFIG_TEST_BPF", "CONFIG_HZ", "CONFIG_BPF_LSM", "CONFIG_KPROBES", "CONFIG_UPROBES",
)
SYSCTLS = {
    "unprivileged_bpf_disabled": "/proc/sys/kernel/unprivileged_bpf_disabled",
    "bpf_jit_enable": "/proc/sys/net/core/bpf_jit_enable",
    "bpf_jit_harden": "/proc/sys/net/core/bpf_jit_harden",
    "bpf_jit_kallsyms": "/proc/sys/net/core/bpf_jit_kallsyms",
    "bpf_jit_limit": "/proc/sys/net/core/bpf_jit_limit",
}
_TRIVIAL = encode([Instruction(0xB7), Instruction(0x95)])   # r0 = 0; exit
_LICENSE = ctypes.create_string_buffer(b"GPL")
_LOG_SIZE = 4096


def _try_load(prog_type: ProgramType, code: bytes,
              attach: AttachType | None = None) -> tuple[int, str]:
    """Load and close at once: (0 or the errno, the verifier log)."""
    insns = ctypes.create_string_buffer(code, len(code))
    log = ctypes.create_string_buffer(_LOG_SIZE)
    attach = attach if attach is not None else _LOAD_ATTACH.get(prog_type)
    attr = attrs.ProgLoadAttr(
        prog_type=prog_type, insn_cnt=len(code) // 8, insns=ctypes.addressof(insns),
        license=ctypes.addressof(_LICENSE), log_level=1, log_size=_LOG_SIZE,
        log_buf=ctypes.addressof(log), expected_attach_type=attach or 0,
        attach_btf_id=1 if prog_type in _NEEDS_BTF_ID else 0,
        prog_flags=_SLEEPABLE if prog_type == ProgramType.SYSCALL else 0)
    try:
        os.close(bpf(Command.PROG_LOAD, attr))
        return 0, ""
    except BPFError as exc:
        return exc.errno, log.value.decode(errors="replace")


def _verdict(err: int, log: str) -> str:
    if err == 0 or err == ENOTSUPP or (err != errno.ENOSPC and log.strip()):
        return YES
    return NOT_PERMITTED if err == errno.EPERM else NO


def program_type(prog_type: ProgramType) -> str:
    """YES, NO or NOT_PERMITTED for one program type."""
    return _verdict(*_try_load(prog_type, _TRIVIAL))


def helper_available(prog_type: ProgramType, helper_id: int) -> bool:
    """Whether programs of ``prog_type`` may call helper ``helper_id``.

    The probe calls the helper with whatever registers hold; the verifier then refuses
    the arguments of an available helper, but refuses an unavailable one by name.
    """
    code = encode([Instruction(0x85, 0, 0, 0, helper_id), Instruction(0xB7), Instruction(0x95)])
    err, log = _try_load(prog_type, code)
    if err == 0:
        return True
    refusals = ("invalid func", "unknown func", "cannot use helper", "unknown helper")
    return bool(log) and not any(text in log for text in refusals)


def attach_type(kind: AttachType) -> str:
    """Whether BPF_PROG_LOAD accepts ``kind`` as the expected attach type of its program
    type ("n/a" for attach types that need a BTF target, which this probe cannot name)."""
    prog_type = _ATTACH_PROGRAM.get(kind)
    if prog_type is None:
        return "n/a"
    return _verdict(*_try_load(prog_type, _TRIVIAL, kind))


def _storage_btf() -> bytes:
    """BTF with ``int`` (id 1) and ``long long`` (id 2): what local-storage maps need."""
    strings = b"\0int\0long long\0"
    types = (struct.pack("<III", 1, 0x01000000, 4) + struct.pack("<I", 0x01000020)
             + struct.pack("<III", 5, 0x01000000, 8) + struct.pack("<I", 0x01000040))
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return header + types + strings


def _map_probe_spec(kind: MapType) -> MapSpec:
    page = os.sysconf("SC_PAGE_SIZE")
    spec = MapSpec("probe", kind, 4, 4, 1)
    if kind in (MapType.QUEUE, MapType.STACK, MapType.BLOOM_FILTER):
        spec.key_size = 0
    elif kind in (MapType.RINGBUF, MapType.USER_RINGBUF):
        spec.key_size, spec.value_size, spec.max_entries = 0, 0, page
    elif kind == MapType.STACK_TRACE:
        spec.value_size = 8
    elif kind == MapType.LPM_TRIE:
        spec.key_size, spec.value_size, spec.flags = 8, 8, MapFlag.NO_PREALLOC
    elif kind in (MapType.CGROUP_STORAGE, MapType.PERCPU_CGROUP_STORAGE):
        spec.key_size, spec.max_entries = 16, 0
    elif kind in (MapType.SK_STORAGE, MapType.INODE_STORAGE, MapType.TASK_STORAGE,
                  MapType.CGRP_STORAGE):
        spec.value_size, spec.max_entries, spec.flags = 8, 0, MapFlag.NO_PREALLOC
        spec.btf_key_type_id, spec.btf_value_type_id = 1, 2
    elif kind == MapType.ARENA:
        spec.key_size, spec.value_size, spec.flags = 0, 0, MapFlag.MMAPABLE
    return spec


def map_type(kind: MapType) -> str:
    """YES, NO or NOT_PERMITTED for one map type."""
    if kind == MapType.UNSPEC:
        return NO
    spec = _map_probe_spec(kind)
    inner = btf = 0
    try:
        if kind in (MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS):
            inner = create_fd(MapSpec("probe_inner", MapType.ARRAY, 4, 4, 1))
        if spec.btf_value_type_id:
            btf = load_btf(_storage_btf())
        attr = attrs.MapCreateAttr(
            map_type=kind, key_size=spec.key_size, value_size=spec.value_size,
            max_entries=spec.max_entries, map_flags=spec.flags, inner_map_fd=inner,
            btf_fd=btf, btf_key_type_id=spec.btf_key_type_id,
            btf_value_type_id=spec.btf_value_type_id,
            btf_vmlinux_value_type_id=1 if kind == MapType.STRUCT_OPS else 0)
        os.close(bpf(Command.MAP_CREATE, attr))
        return YES
    except BPFError as exc:
        if kind == MapType.STRUCT_OPS and exc.errno == ENOTSUPP:
            return YES  # recognised, refused only for want of a real struct_ops type
        return NOT_PERMITTED if exc.errno == errno.EPERM else NO
    finally:
        for fd in (inner, btf):
            if fd:
                os.close(fd)


def kernel_config() -> tuple[str, dict[str, str | None]]:
    """(where it was read, the options bpftool reports: "y", "m", a value or None)."""
    release = platform.release()
    for path in ("/proc/config.gz", f"/boot/config-{release}"):
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt") as f:
                text = f.read()
        except OSError:
            continue
        found: dict[str, str] = {}
        for line in text.splitlines():
            name, sep, value = line.partition("=")
            if sep and name in CONFIG_OPTIONS:
                found[name] = value.strip('"')
        return path, {name: found.get(name) for name in CONFIG_OPTIONS}
    return "", {}


def sysctls() -> dict[str, int | None]:
    """The BPF sysctls, None where unreadable."""
    out: dict[str, int | None] = {}
    for name, path in SYSCTLS.items():
        try:
            with open(path) as f:
                out[name] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            out[name] = None
    return out


def kprobes() -> dict[str, bool]:
    """Whether kprobes exist: the perf PMU and the tracefs control file."""
    return {
        "kprobe_pmu": os.path.isdir("/sys/bus/event_source/devices/kprobe"),
        "kprobe_events": any(os.path.exists(f"{root}/kprobe_events") for root in
                             ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")),
    }


@dataclass
class Features:
    """Everything :func:`probe` found, ready for a table or JSON."""

    program_types: dict[str, str] = field(default_factory=dict)
    map_types: dict[str, str] = field(default_factory=dict)
    helpers: dict[str, list[str]] = field(default_factory=dict)
    attach_types: dict[str, str] = field(default_factory=dict)
    config_source: str = ""
    config: dict[str, str | None] = field(default_factory=dict)
    sysctls: dict[str, int | None] = field(default_factory=dict)
    kprobes: dict[str, bool] = field(default_factory=dict)

    def as_json(self) -> dict:
        """A JSON-ready dict (sections as bpftool names them, plus ours)."""
        return {
            "system_config": {"source": self.config_source, **self.sysctls, **self.config},
            "program_types": self.program_types, "map_types": self.map_types,
            "attach_types": self.attach_types, "helpers": self.helpers,
            "kprobes": self.kprobes,
        }


def probe(helpers: bool = True, types: list[ProgramType] | None = None) -> Features:
    """Probe the kernel. ``types`` limits the helper probe to some program types."""
    found = Features()
    for kind in ProgramType:
        if kind != ProgramType.UNSPEC:
            found.program_types[str(kind)] = program_type(kind)
    for map_kind in MapType:
        if map_kind != MapType.UNSPEC:
            found.map_types[str(map_kind)] = map_type(map_kind)
    for attach_kind in AttachType:
        found.attach_types[str(attach_kind)] = attach_type(attach_kind)
    if helpers:
        # only types whose trivial program loads: others fail before any helper check
        wanted = types or [kind for kind in ProgramType if kind != ProgramType.UNSPEC
                           and _try_load(kind, _TRIVIAL)[0] == 0]
        for kind in wanted:
            found.helpers[str(kind)] = [
                f"bpf_{HELPER_NAMES[i]}" for i in sorted(HELPER_NAMES)
                if i and helper_available(kind, i)]
    found.config_source, found.config = kernel_config()
    found.sysctls = sysctls()
    found.kprobes = kprobes()
    return found
