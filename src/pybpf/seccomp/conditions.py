"""Argument conditions of seccomp rules, and the classic BPF that tests them.

System call arguments are 64 bits but classic BPF compares 32, so each condition tests
the high word and then the low one, as libseccomp does: ``arg(1) > 5`` holds when
high > 0, or high == 0 and low > 5. Values are taken modulo 2**64, so ``arg(0) == -1``
is ``0xffffffffffffffff`` (a full register of ones, as libseccomp reads it too).
"""

from __future__ import annotations

from pybpf.cbpf.instruction import CbpfError
from pybpf.seccomp.data import M64, arg_offsets

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

_SYMBOLS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "masked_eq": "=="}


@dataclass(frozen=True)
class Condition:
    """``args[index] <op> value`` (for ``masked_eq``: ``args[index] & mask == value``)."""

    index: int
    op: str
    value: int
    mask: int = M64

    def __post_init__(self):
        arg_offsets(self.index)
        if self.op not in _SYMBOLS:
            raise CbpfError(f"unknown comparison {self.op!r} (one of {', '.join(_SYMBOLS)})")
        object.__setattr__(self, "value", self.value & M64)
        object.__setattr__(self, "mask", self.mask & M64)

    def holds(self, args: tuple[int, ...]) -> bool:
        """Whether the condition holds for these arguments: the reference the generated
        code is tested against."""
        a = (args[self.index] if self.index < len(args) else 0) & M64
        return {"eq": a == self.value, "ne": a != self.value, "lt": a < self.value, "le": a <= self.value,
                "gt": a > self.value, "ge": a >= self.value, "masked_eq": a & self.mask == self.value}[self.op]

    def __str__(self) -> str:
        masked = f" & {self.mask:#x}" if self.op == "masked_eq" else ""
        return f"arg{self.index}{masked} {_SYMBOLS[self.op]} {self.value:#x}"


class Arg:
    """``arg(n)``: compare with ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` or
    :meth:`masked_eq` to make a :class:`Condition`."""

    __hash__ = None  # comparisons build conditions, so an Arg is no dictionary key

    def __init__(self, index: int):
        arg_offsets(index)
        self.index = index

    def __eq__(self, value: int) -> Condition:  # type: ignore[override]
        return Condition(self.index, "eq", value)

    def __ne__(self, value: int) -> Condition:  # type: ignore[override]
        return Condition(self.index, "ne", value)

    def __lt__(self, value: int) -> Condition:
        return Condition(self.index, "lt", value)

    def __le__(self, value: int) -> Condition:
        return Condition(self.index, "le", value)

    def __gt__(self, value: int) -> Condition:
        return Condition(self.index, "gt", value)

    def __ge__(self, value: int) -> Condition:
        return Condition(self.index, "ge", value)

    def masked_eq(self, mask: int, value: int) -> Condition:
        """``args[n] & mask == value`` (flag tests: ``arg(2).masked_eq(O_WRONLY|O_RDWR, 0)``)."""
        return Condition(self.index, "masked_eq", value, mask)


def arg(index: int) -> Arg:
    """System call argument ``index`` (0-5), to compare."""
    return Arg(index)


#: for <, <=, >, >=: (jump for "high word decides true", jump for "low word false")
_ORDERED = {"gt": ("jgt", "jle"), "ge": ("jgt", "jlt"), "lt": ("jlt", "jge"), "le": ("jlt", "jgt")}


def emit(cond: Condition, fail: str, ok: str) -> list[tuple[str, str]]:
    """bpf_asm lines ``(instruction, comment)`` that fall through when ``cond`` holds
    and jump to label ``fail`` when not; ``ok`` is a fresh label the caller places on
    the instruction after them (only the ordered and != tests use it)."""
    low, high = arg_offsets(cond.index)
    v_low, v_high = cond.value & 0xFFFF_FFFF, cond.value >> 32
    name = f"arg{cond.index}"
    if cond.op in ("eq", "masked_eq"):
        lines = [(f"ld [{high}]", f"{name} high word")]
        if cond.op == "masked_eq":
            lines.append((f"and #{cond.mask >> 32:#x}", ""))
        lines += [(f"jne #{v_high:#x}, {fail}", ""), (f"ld [{low}]", f"{name} low word")]
        if cond.op == "masked_eq":
            lines.append((f"and #{cond.mask & 0xFFFF_FFFF:#x}", ""))
        return lines + [(f"jne #{v_low:#x}, {fail}", str(cond))]
    if cond.op == "ne":
        return [(f"ld [{high}]", f"{name} high word"), (f"jne #{v_high:#x}, {ok}", ""),
                (f"ld [{low}]", f"{name} low word"), (f"jeq #{v_low:#x}, {fail}", str(cond))]
    decides, low_fails = _ORDERED[cond.op]
    return [(f"ld [{high}]", f"{name} high word"), (f"{decides} #{v_high:#x}, {ok}", ""),
            (f"jne #{v_high:#x}, {fail}", ""), (f"ld [{low}]", f"{name} low word"),
            (f"{low_fails} #{v_low:#x}, {fail}", str(cond))]
