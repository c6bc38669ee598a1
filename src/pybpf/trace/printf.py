"""printf formats as bpftrace reads them: C conversions (``%d %u %x %s %c %p``, flags,
width, precision, length modifiers), checked against the argument types at compile
time and applied in userspace to the values an event carries."""

from __future__ import annotations

import re

from pybpf.trace.errors import TraceSyntaxError
from pybpf.trace.types import T

_SPEC = re.compile(r"%(?P<flags>[-+ #0]*)(?P<width>\d+|\*)?(?:\.(?P<prec>\d+))?(?P<length>hh|h|ll|l|z|j|t)?"
                   r"(?P<conv>r[xh]?|[diouxXcspeEfgG%])")


def conversions(text: str) -> list[re.Match]:
    return [m for m in _SPEC.finditer(text) if m.group("conv") != "%"]


def check_format(text: str, types: list[T], node: object, function: str = "printf") -> None:
    """Raise when the arguments do not match the format's conversions (of ``function``)."""
    found = conversions(text)
    where = (getattr(node, "position", None), getattr(node, "length", 1))
    if len(found) != len(types):
        raise TraceSyntaxError(f"{function}: Expected {len(found)} arguments, got {len(types)}", "", *where)
    for match, t in zip(found, types):
        conv = match.group("conv")
        if conv == "s" and t.kind == "tuple":
            raise TraceSyntaxError(f"{function}: %s specifier expects a value of type string (tuple supplied)", "", *where)
        if conv.startswith("r") and t.kind != "buf":
            raise TraceSyntaxError(f"{function}: %{conv} specifier expects a value of type buffer ({t} supplied)", "", *where)
        if conv in "diouxXc" and t.kind == "str":
            raise TraceSyntaxError(f"{function}: %{conv} specifier expects a value of type integer (string supplied)",
                                   "", *where)


def render(text: str, values: list[object], types: list[T], show: object) -> str:
    """``text`` with each conversion replaced by its value (``show`` renders non-integers)."""
    out, last, i = [], 0, 0
    for match in _SPEC.finditer(text):
        out.append(text[last:match.start()])
        last = match.end()
        conv = match.group("conv")
        if conv == "%":
            out.append("%")
            continue
        value, t = values[i], types[i]
        i += 1
        spec = "%" + (match.group("flags") or "") + (match.group("width") or "")
        if match.group("prec") is not None:
            spec += "." + match.group("prec")
        if conv.startswith("r"):
            data = bytes(value)[8:8 + int.from_bytes(bytes(value)[:8], "little")]  # type: ignore[arg-type]
            if conv == "rx":
                shown = "".join(f"\\x{b:02x}" for b in data)
            elif conv == "rh":
                shown = " ".join(f"{b:02x}" for b in data)
            else:
                shown = show(value, t)
            out.append((spec + "s") % shown)
            continue
        if conv == "p" and t.kind in ("int", "ptr"):
            address = int(value) & 0xFFFF_FFFF_FFFF_FFFF  # type: ignore[call-overload]
            out.append((spec + "s") % (hex(address) if address else "(nil)"))  # as C's printf
            continue
        if conv == "s" or t.kind not in ("int",):
            out.append((spec + "s") % (value if isinstance(value, str) else show(value, t)))
            continue
        number = int(value)
        bits = 64  # bpftrace widens every conversion to its 64-bit argument
        mask = (1 << bits) - 1
        if conv in "di":
            number &= mask
            if number >> (bits - 1):
                number -= 1 << bits
            out.append((spec + "d") % number)
        elif conv in "uxXo":
            out.append((spec + ("d" if conv == "u" else conv)) % (number & mask))
        elif conv == "c":
            out.append((spec + "c") % chr(number & 0xFF))
        else:
            out.append((spec + conv) % number)
    out.append(text[last:])
    return "".join(out)
