"""Seccomp filters as text: any cbpf form, and bpf_asm annotated in seccomp terms
(``ld [16]  ; arg0 low word``, ``ret #0x50001  ; errno(1)``) so that a filter from
anywhere, not only one built here, reads as a policy.
"""

from __future__ import annotations

from collections.abc import Sequence

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.asm import disassemble, format_bytecode, format_c
from pybpf.cbpf.dump import dump
from pybpf.cbpf.instruction import CbpfError, Instruction
from pybpf.seccomp import data
from pybpf.seccomp.actions import Action
from pybpf.seccomp.policy import SeccompPolicy

_FIELDS = {data.NR: "nr", data.ARCH: "arch", data.IP: "instruction_pointer low word",
           data.IP + 4: "instruction_pointer high word"}
for _index in range(6):
    _low, _high = data.arg_offsets(_index)
    _FIELDS |= {_low: f"arg{_index} low word", _high: f"arg{_index} high word"}


def _note(ins: Instruction) -> str:
    if ins.code == c.LD | c.W | c.ABS:
        return _FIELDS.get(ins.k, "outside seccomp_data")
    if ins.code == c.RET | c.K:
        return str(Action.from_value(ins.k))
    return ""


def annotated(program: Sequence[Instruction]) -> str:
    """bpf_asm text with the seccomp_data field of each load and the action of each return."""
    lines = disassemble(program).expandtabs(8).splitlines()
    out = []
    for ins, line in zip(program, lines, strict=True):
        note = _note(ins)
        out.append(f"{line:<40}; {note}" if note else line)
    return "\n".join(out) + "\n"


def dump_filter(filt: SeccompPolicy | Sequence[Instruction], style: str = "asm") -> str:
    """The filter as text: ``asm`` (annotated bpf_asm), ``policy`` (a policy's rules and
    its commented source), ``bytecode`` or ``c`` (bpf_asm's outputs), or ``d``/``dd``/``ddd``
    (tcpdump's listings, :func:`pybpf.cbpf.dump`)."""
    if style == "policy":
        if not isinstance(filt, SeccompPolicy):
            raise CbpfError("style 'policy' needs a SeccompPolicy, not a built program")
        return filt.listing() + "\n" + filt.assembly()
    program = filt.build() if isinstance(filt, SeccompPolicy) else list(filt)
    if style == "asm":
        return annotated(program)
    if style == "bytecode":
        return format_bytecode(program)
    if style == "c":
        return format_c(program)
    if style in ("d", "dd", "ddd"):
        return dump(program, style)
    raise CbpfError(f"unknown seccomp dump style {style!r} (asm, policy, bytecode, c, d, dd or ddd)")
