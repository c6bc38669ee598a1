"""printf formats as bpftrace reads them: C conversions (``%d %u %x %s %c %p``, flags,
width, precision, length modifiers), checked against the argument types at compile
time and applied in userspace to the values an event carries.

An integer argument reaches bpftrace's ``snprintf`` as a 64-bit value, and the
conversion reads it as C's varargs do: ``%d``/``%u``/``%x``/``%o``/``%c`` take its low
32 bits (an ``int``), ``%hd`` 16, ``%hhd`` 8, and only ``l``, ``ll``, ``j``, ``z`` or
``t`` take all 64 (``printf("%d", 1 << 32)`` prints 0 in bpftrace, and so here)."""

from __future__ import annotations

import re

from pybpf.trace.errors import TraceSyntaxError
from pybpf.trace.types import T

#: no space flag: bpftrace 0.17 reads only ``-`` and digits before a conversion, so "50% done"
#: is text, not "% d" (the newer flags ``+ #`` are taken, no text has them after a %)
_SPEC = re.compile(r"%(?P<flags>[-+#0]*)(?P<width>\d+|\*)?(?:\.(?P<prec>\d+))?(?P<length>hh|h|ll|l|z|j|t)?"
                   r"(?P<conv>r[xh]?|[diouxXcspeEfgG%])")
_BITS = {None: 32, "hh": 8, "h": 16}  #: bits an integer conversion reads (others: 64)


def conversions(text: str) -> list[re.Match]:
    return [m for m in _SPEC.finditer(text) if m.group("conv") != "%"]


def check_format(text: str, types: list[T], node: object, function: str = "printf") -> None:
    """Raise when the arguments do not match the format's conversions (of ``function``),
    with bpftrace's messages, placed on ``node`` (the call)."""
    found = conversions(text)
    where = (getattr(node, "position", None), getattr(node, "length", 1))
    if len(found) != len(types):
        which = "Not enough" if len(types) < len(found) else "Too many"
        raise TraceSyntaxError(f"{function}: {which} arguments for format string "
                               f"({len(types)} supplied, {len(found)} expected)", "", *where)
    for match, t in zip(found, types):
        conv = match.group("conv")
        if conv == "s" and t.kind == "tuple":
            raise TraceSyntaxError(f"{function}: %s specifier expects a value of type string (tuple supplied)", "", *where)
        if conv.startswith("r") and t.kind != "buf":
            raise TraceSyntaxError(f"{function}: %{conv} specifier expects a value of type buffer ({t} supplied)", "", *where)
        if conv in "diouxXc" and t.kind == "str":
            raise TraceSyntaxError(f"{function}: %{conv} specifier expects a value of type integer (string supplied)",
                                   "", *where)


def c_integer(match: re.Match, number: int) -> str:
    """``number`` as C's printf writes it under this conversion (flags, width,
    precision), read from its 64-bit value as the length modifier says."""
    conv, flags = match.group("conv"), match.group("flags") or ""
    bits = _BITS.get(match.group("length"), 64)
    number &= (1 << bits) - 1
    if conv == "c":
        digits, sign, prefix = chr(number & 0xFF), "", ""
    else:
        if conv in "di" and number >> (bits - 1):
            number -= 1 << bits
        sign = "-" if number < 0 else "+" if "+" in flags and conv in "di" else ""
        magnitude = abs(number)
        digits = {"o": f"{magnitude:o}", "x": f"{magnitude:x}", "X": f"{magnitude:X}"}.get(conv, str(magnitude))
        precision = match.group("prec")
        if precision is not None:
            digits = "" if int(precision) == 0 and magnitude == 0 else digits.rjust(int(precision), "0")
        prefix = ""
        if "#" in flags:
            if conv == "o" and not digits.startswith("0"):
                digits = "0" + digits
            elif conv in "xX" and magnitude:
                prefix = "0" + conv
    width = int(match.group("width")) if (match.group("width") or "*") != "*" else 0
    body = sign + prefix + digits
    if "-" in flags:
        return body.ljust(width)
    if "0" in flags and match.group("prec") is None and conv != "c":
        return sign + prefix + digits.rjust(width - len(sign) - len(prefix), "0")
    return body.rjust(width)


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
        if conv in "diuoxXc":
            out.append(c_integer(match, int(value)))  # type: ignore[call-overload]
        else:
            out.append((spec + conv) % int(value))  # type: ignore[call-overload]
    out.append(text[last:])
    return "".join(out)
