"""The kernel BTF ids that BTF-attached programs name at load (``attach_btf_id``):
iterators (``bpf_iter_<target>``), BTF raw tracepoints (``btf_trace_<name>``), fentry/
fexit targets and LSM hooks (``bpf_lsm_<hook>``), read from the running kernel's BTF."""

from __future__ import annotations

import errno
from functools import cache

from pybpf.errors import BPFError
from pybpf.object import AttachType, ProgramType

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pybpf.btf import BTF
    from pybpf.object import ProgramSpec

# BTF is imported where a program needs it: every program load asks attach_btf_id, and
# most programs (socket filters, XDP, tracepoints) name no BTF id.

VMLINUX = "/sys/kernel/btf/vmlinux"


@cache
def vmlinux() -> BTF:
    """The running kernel's BTF (parsed once per process)."""
    from pybpf.btf import BTF, BTFError

    try:
        return BTF.load(VMLINUX)
    except BTFError as exc:
        raise BPFError("BPF_PROG_LOAD", errno.ENOENT, f"the kernel's BTF is needed for this program type: {exc}") from None


def attach_btf_id(spec: ProgramSpec) -> int:
    """The BTF id ``spec`` attaches to, or 0 for programs that do not name one."""
    if spec.type not in (ProgramType.TRACING, ProgramType.LSM) or not spec.attach_to:
        return 0
    from pybpf.btf import Kind

    target = spec.attach_to.rpartition("/")[2]
    attach = spec.expected_attach_type
    if attach == AttachType.TRACE_ITER:
        name, kind = f"bpf_iter_{target}", Kind.FUNC
    elif attach == AttachType.TRACE_RAW_TP:
        name, kind = f"btf_trace_{target}", Kind.TYPEDEF
    elif spec.type == ProgramType.LSM:
        name, kind = f"bpf_lsm_{target}", Kind.FUNC
    else:
        name, kind = target, Kind.FUNC
    found = vmlinux().find(name, kind)
    if found is None:
        import difflib  # for the message only

        close = difflib.get_close_matches(name, [t.name for t in vmlinux().types if t.kind == kind and t.name], n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise BPFError("BPF_PROG_LOAD", errno.ENOENT, f"the kernel's BTF has no {kind.name.lower()} {name}{hint}",
                       f"program {spec.name!r}")
    return found.id
