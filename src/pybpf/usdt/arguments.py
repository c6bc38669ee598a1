"""USDT argument specs (``-4@%edi``, ``8@-16(%rbp)``, ``4@$5``) decoded into what a BPF
program needs to fetch the argument from the probed process's registers.

The assembler wrote each argument as ``SIZE@OPERAND`` in AT&T syntax when the traced
program was compiled; at the probe, the value is a constant, a register, or memory at
register + displacement (optionally + index * scale). A BPF program sees registers as
``struct pt_regs`` fields, so registers are described by their offset in it. The
``bitshift`` is how far to shift left and back (arithmetically when signed) to narrow
a 64-bit read to the argument's size — the same recipe libbpf's usdt.bpf.h uses.
"""

from __future__ import annotations

import enum
import re

from pybpf.usdt.errors import UsdtError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

#: byte offset of each x86-64 register in the kernel's ``struct pt_regs``
_X86_64_PT_REGS = {
    "r15": 0, "r14": 8, "r13": 16, "r12": 24, "rbp": 32, "rbx": 40, "r11": 48, "r10": 56,
    "r9": 64, "r8": 72, "rax": 80, "rcx": 88, "rdx": 96, "rsi": 104, "rdi": 112,
    "rip": 128, "rsp": 152,
}
#: sub-register names → the 64-bit register that holds them
_X86_64_ALIASES = {
    **{f"e{r}": f"r{r}" for r in ("ax", "bx", "cx", "dx", "si", "di", "bp", "sp")},
    **{r: f"r{r}" for r in ("ax", "bx", "cx", "dx", "si", "di", "bp", "sp")},
    **{f"{r}l": f"r{r}x" for r in "abcd"}, **{f"{r}h": f"r{r}x" for r in "abcd"},
    **{f"{r}l": f"r{r}" for r in ("si", "di", "bp", "sp")},
    **{f"r{n}{s}": f"r{n}" for n in range(8, 16) for s in ("d", "w", "b")},
}
_OPERAND = re.compile(
    r"^(?:\$(?P<const>-?(?:0x[0-9a-fA-F]+|\d+))"
    r"|%(?P<reg>\w+)"
    r"|(?P<disp>-?(?:0x[0-9a-fA-F]+|\d+))?\(%(?P<base>\w+)(?:,%(?P<index>\w+)(?:,(?P<scale>[1248]))?)?\))$"
)
#: a global the assembler addresses relative to %rip: ``40+CheckpointStats(%rip)``,
#: ``counter(%rip)``, ``counter+8(%rip)``, ``-8+counter(%rip)``
_RIP_OPERAND = re.compile(r"^(?:(?P<before>-?(?:0x[0-9a-fA-F]+|\d+))\+)?(?P<symbol>[A-Za-z_.$][\w.$]*)"
                          r"(?P<after>[+-](?:0x[0-9a-fA-F]+|\d+))?\(%rip\)$")


class ArgKind(enum.IntEnum):
    """How the argument's value is found (values match libbpf's BPF_USDT_ARG_*)."""

    CONST = 0
    REG = 1
    REG_DEREF = 2
    SIB = 3
    #: memory at a global's address (pybpf's own: libbpf has no such kind); ``value`` is
    #: the global's link-time address plus the displacement once the file's symbol table
    #: resolved ``symbol`` (:func:`pybpf.usdt.notes.read_probes`)
    GLOBAL = 4


@dataclass(frozen=True)
class UsdtArgument:
    """One decoded argument of a USDT probe."""

    spec: str
    size: int
    signed: bool
    kind: ArgKind
    value: int = 0            #: the constant, or the displacement added to the address
    reg_offset: int = -1      #: pt_regs offset of the (base) register
    index_offset: int = -1    #: pt_regs offset of the index register (SIB only)
    scale: int = 1
    symbol: str = ""          #: the global a GLOBAL argument is in
    resolved: bool = True     #: False for a GLOBAL whose symbol the file's tables lack

    @property
    def bitshift(self) -> int:
        """Bits to shift left then right to narrow a 64-bit value to ``size`` bytes."""
        return 64 - 8 * self.size


def x86_64_register_offset(name: str) -> int:
    """The ``struct pt_regs`` offset of an x86-64 register name (any width)."""
    full = _X86_64_ALIASES.get(name, name)
    if full not in _X86_64_PT_REGS:
        raise UsdtError(f"unknown x86-64 register %{name}")
    return _X86_64_PT_REGS[full]


def parse_argument(spec: str) -> UsdtArgument:
    """Decode one ``SIZE@OPERAND`` argument (x86-64 operand syntax)."""
    size_text, at, operand = spec.partition("@")
    if not at:
        raise UsdtError(f"USDT argument {spec!r}: expected SIZE@OPERAND")
    try:
        size = int(size_text)
    except ValueError:
        raise UsdtError(f"USDT argument {spec!r}: size {size_text!r} is not a number") from None
    if abs(size) not in (1, 2, 4, 8):
        raise UsdtError(f"USDT argument {spec!r}: size {size} is not 1, 2, 4 or 8 bytes")
    common = (spec, abs(size), size < 0)            # spec, size, signed
    rip = _RIP_OPERAND.match(operand)
    if rip is not None:      # the global's address is resolved with the file's symbols
        displacement = sum(int(part, 0) for part in (rip["before"], rip["after"]) if part)
        return UsdtArgument(*common, kind=ArgKind.GLOBAL, value=displacement, symbol=rip["symbol"], resolved=False)
    match = _OPERAND.match(operand)
    if match is None:
        raise UsdtError(f"USDT argument {spec!r}: operand {operand!r} is not a constant, register or memory reference")
    if match["const"] is not None:
        return UsdtArgument(*common, kind=ArgKind.CONST, value=int(match["const"], 0))
    if match["reg"] is not None:
        return UsdtArgument(*common, kind=ArgKind.REG, reg_offset=_register(spec, match["reg"]))
    displacement = int(match["disp"], 0) if match["disp"] else 0
    base = _register(spec, match["base"])
    if match["index"] is None:
        return UsdtArgument(*common, kind=ArgKind.REG_DEREF, value=displacement, reg_offset=base)
    return UsdtArgument(*common, kind=ArgKind.SIB, value=displacement, reg_offset=base,
                        index_offset=_register(spec, match["index"]), scale=int(match["scale"] or 1))


def parse_arguments(text: str) -> tuple[UsdtArgument, ...]:
    """Decode a note's whole argument string (space separated specs; may be empty)."""
    return tuple(parse_argument(spec) for spec in text.split())


def _register(spec: str, name: str) -> int:
    try:
        return x86_64_register_offset(name)
    except UsdtError as exc:
        raise UsdtError(f"USDT argument {spec!r}: {exc}") from None
