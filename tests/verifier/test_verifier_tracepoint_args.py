"""BTF tracepoint arguments that are not trusted pointers (maybe NULL, maybe an error
pointer, untrusted): pybpf's verdicts beside the kernel's for programs that read
through each of them with and without a NULL check, and the generated table
(src/pybpf/verifier/tracepoint_args.py) against the running kernel."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from pybpf.btf import Kind
from pybpf.isa.assembler import assemble
from pybpf.object import AttachType, ProgramSpec, ProgramType
from pybpf.verifier import state as s
from pybpf.verifier import verify
from pybpf.verifier.tracepoint_args import ARGS, KERNELS

VMLINUX = Path("/sys/kernel/btf/vmlinux")
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not VMLINUX.exists(), reason="the running kernel has no BTF (/sys/kernel/btf/vmlinux)")


def _kernel_available() -> None:
    from pybpf.kernel.engine import available

    why = available()
    if why is not None:
        pytest.skip(f"the kernel's verifier is not available: {why}")


def _readable_offset(tracepoint: str, arg: int) -> int:
    """A byte offset of the struct argument ``arg`` points to that holds a number (a
    read there is allowed through a trusted pointer)."""
    from pybpf.verifier.btf_pointers import find_target, kernel_btf, skip_modifiers

    btf = kernel_btf()
    target = find_target(btf, ProgramType.TRACING, AttachType.TRACE_RAW_TP, tracepoint)
    _, pointer = skip_modifiers(btf, target.params[arg])
    struct_id, struct = skip_modifiers(btf, pointer.ref)
    for member in struct.members:
        _, t = skip_modifiers(btf, member.type)
        if t.kind == Kind.INT and not member.bit_size:
            return member.offset // 8
    return -1


def _context_offset(tracepoint: str, arg: int) -> int:
    from pybpf.verifier.btf_pointers import find_target, kernel_btf, slot_size

    btf = kernel_btf()
    target = find_target(btf, ProgramType.TRACING, AttachType.TRACE_RAW_TP, tracepoint)
    return sum(slot_size(btf, t) for t in target.params[:arg])


def _programs() -> list[tuple[str, str, str]]:
    """(tracepoint, what, program) for every table entry whose struct has a byte to read:
    a read through the argument without a NULL check and with one."""
    if platform.release() not in KERNELS:
        return []
    made = []
    for tracepoint, args in ARGS.items():
        for arg in args:
            byte = _readable_offset(tracepoint, arg)
            if byte < 0:
                continue
            at = _context_offset(tracepoint, arg)
            made.append((tracepoint, f"arg{arg} unchecked", f"r1 = *(u64 *)(r1 +{at})\nr0 = *(u8 *)(r1 +{byte})\n"
                                                            "r0 = 0\nexit"))
            made.append((tracepoint, f"arg{arg} checked", f"r1 = *(u64 *)(r1 +{at})\nif r1 == 0 goto +1\n"
                                                          f"r0 = *(u8 *)(r1 +{byte})\nr0 = 0\nexit"))
    return made


def _spec(tracepoint: str, text: str) -> ProgramSpec:
    return ProgramSpec("verifier_tparg", ProgramType.TRACING, assemble(text),
                       expected_attach_type=AttachType.TRACE_RAW_TP, attach_to=tracepoint)


def _ours(spec: ProgramSpec) -> tuple[bool, str]:
    verdict = verify(spec.instructions, spec.type, {}, attach_type=spec.expected_attach_type,
                     attach_to=spec.attach_to)
    return verdict.accepted, verdict.message


def _kernels(spec: ProgramSpec) -> tuple[bool, str]:
    from pybpf.engine import BPFError, VerifierError
    from pybpf.kernel.programs import load_program

    try:
        load_program(spec).close()
    except VerifierError as exc:
        lines = [line for line in exc.log.splitlines()
                 if line.strip() and not line.startswith(("processed", "stack depth", "verification time"))]
        return False, lines[-1] if lines else str(exc)
    except BPFError as exc:
        return False, str(exc)
    return True, ""


@pytest.mark.skipif(platform.release() not in KERNELS, reason=f"the table was made on kernels {', '.join(KERNELS)}")
def test_a_maybe_null_argument_needs_its_check():
    tracepoint = next(name for name, args in ARGS.items() if s.nullable(s.TRUSTED_PTR) in args.values())
    unchecked, checked = [p for t, _, p in _programs() if t == tracepoint][:2]
    accepted, message = _ours(_spec(tracepoint, unchecked))
    assert (accepted, message) == (False, "R1 invalid mem access 'trusted_ptr_or_null_'")
    verdict = verify(_spec(tracepoint, unchecked).instructions, ProgramType.TRACING, {},
                     attach_type=AttachType.TRACE_RAW_TP, attach_to=tracepoint)
    assert "may be NULL here" in verdict.why
    assert _ours(_spec(tracepoint, checked)) == (True, "")


@pytest.mark.skipif(platform.release() not in KERNELS, reason=f"the table was made on kernels {', '.join(KERNELS)}")
def test_an_error_pointer_argument_is_a_number():
    tracepoint, args = next((name, args) for name, args in ARGS.items() if s.SCALAR in args.values())
    arg = next(a for a, kind in args.items() if kind == s.SCALAR)
    text = f"r1 = *(u64 *)(r1 +{_context_offset(tracepoint, arg)})\nr0 = *(u8 *)(r1 +0)\nr0 = 0\nexit"
    assert _ours(_spec(tracepoint, text)) == (False, "R1 invalid mem access 'scalar'")


def test_programs_on_the_tables_arguments_against_the_kernel():
    """Every table entry with a byte to read, read with and without a NULL check: the
    same verdict and final message as the kernel's."""
    _kernel_available()
    programs = _programs()
    if not programs:
        pytest.skip(f"the table was made on kernels {', '.join(KERNELS)}, this is {platform.release()}")
    differ = []
    for tracepoint, what, text in programs:
        spec = _spec(tracepoint, text)
        if _ours(spec) != _kernels(spec):
            differ.append((tracepoint, what, _ours(spec), _kernels(spec)))
    assert not differ
    assert len(programs) >= 40


def test_the_table_matches_the_running_kernel():
    """The generator, run again (as root), writes the same table: what the kernel does
    with every pointer argument of every BTF tracepoint."""
    _kernel_available()
    if platform.release() not in KERNELS:
        pytest.skip(f"the table was made on kernels {', '.join(KERNELS)}, this is {platform.release()}")
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "nullable_tracepoint_args.py"), "--check"],
                          capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 0, done.stdout + done.stderr


def test_fexit_reads_a_returned_struct_pointer():
    """The return value after an fexit program's arguments has no parameter name (the
    ``__nullable`` test must not look for one): a function returning a struct pointer."""
    from pybpf.verifier.btf_pointers import kernel_btf, skip_modifiers

    btf = kernel_btf()
    for t in btf.types:
        if t.kind != Kind.FUNC or not t.name:
            continue
        proto = btf.types[t.ref]
        _, ret = skip_modifiers(btf, proto.ref) if proto.ref else (0, None)
        if ret is not None and ret.kind == Kind.PTR and skip_modifiers(btf, ret.ref)[1].kind == Kind.STRUCT \
                and all(skip_modifiers(btf, m.type)[1].kind in (Kind.PTR, Kind.INT) for m in proto.members):
            break
    else:
        pytest.skip("no function returning a struct pointer in the kernel's BTF")
    text = f"r2 = *(u64 *)(r1 +{8 * len(proto.members)})\nr0 = 0\nexit"
    verdict = verify(assemble(text), ProgramType.TRACING, {}, attach_type=AttachType.TRACE_FEXIT, attach_to=t.name)
    assert verdict.accepted, verdict.message
