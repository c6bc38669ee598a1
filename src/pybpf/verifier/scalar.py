"""Numeric knowledge about a 64-bit value: a tnum plus unsigned and signed bounds.

:class:`Scalar` is immutable. Every constructor goes through :func:`make`, which keeps
the three views in sync (as the kernel's ``reg_bounds_sync``) and returns None when
they contradict each other: a branch refined into an empty set is a branch no
execution takes. 32-bit operations are modelled on the zero-extended low half.
"""

from __future__ import annotations

from pybpf.isa import opcodes as o
from pybpf.verifier import tnum as tn
from pybpf.verifier.tnum import MASK64, Tnum

U32 = 0xFFFF_FFFF
S64_MIN, S64_MAX = -(1 << 63), (1 << 63) - 1


def signed(value: int, bits: int = 64) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


class Scalar(tuple):
    """(umin, umax, smin, smax, tnum), always consistent."""

    __slots__ = ()

    umin = property(lambda self: self[0])
    umax = property(lambda self: self[1])
    smin = property(lambda self: self[2])
    smax = property(lambda self: self[3])
    tnum = property(lambda self: self[4])

    @property
    def is_const(self) -> bool:
        return self[0] == self[1]

    @property
    def value(self) -> int:
        return self[0]

    def contains(self, other: Scalar) -> bool:
        """Every value ``other`` may have, this may have too (state pruning)."""
        return (self[0] <= other[0] and other[1] <= self[1] and self[2] <= other[2]
                and other[3] <= self[3] and tn.contains(self[4], other[4]))

    def describe(self) -> str:
        """The kernel's log form: ``P5``/``5`` for constants, else the bounds that say something."""
        if self.is_const:
            return str(signed(self[0]))
        parts = []
        if self[2] != S64_MIN:
            parts.append(f"smin={self[2]}")
        if self[3] != S64_MAX:
            parts.append(f"smax={self[3]}")
        if self[0]:
            parts.append(f"umin={self[0]}")
        if self[1] != MASK64:
            parts.append(f"umax={self[1]}")
        if self[4][1] != MASK64:
            parts.append(f"var_off={self[4]}")
        return ",".join(parts)


def make(umin: int, umax: int, smin: int, smax: int, t: Tnum) -> Scalar | None:
    """A consistent scalar from possibly loose bounds, or None when no value fits."""
    for _ in range(2):
        umin, umax = max(umin, t[0]), min(umax, t[0] | t[1])
        if (t[0] | t[1]) >> 63 == t[0] >> 63:         # sign bit known
            smin = max(smin, signed(t[0]))
            smax = min(smax, signed(t[0] | t[1]))
        if umin > umax or smin > smax:
            return None
        if umin >> 63 == umax >> 63:                    # unsigned range on one side of the sign
            smin, smax = max(smin, signed(umin)), min(smax, signed(umax))
        if (smin >= 0) == (smax >= 0):                  # signed range on one side of zero
            umin, umax = max(umin, smin & MASK64), min(umax, smax & MASK64)
        if umin > umax or smin > smax:
            return None
        t = tn.intersect(t, tn.from_range(umin, umax))
    return Scalar((umin, umax, smin, smax, t))


def const(value: int) -> Scalar:
    value &= MASK64
    return Scalar((value, value, signed(value), signed(value), tn.const(value)))


UNKNOWN = Scalar((0, MASK64, S64_MIN, S64_MAX, tn.UNKNOWN))


def unsigned_range(low: int, high: int) -> Scalar:
    made = make(low, high, S64_MIN, S64_MAX, tn.from_range(low, high))
    assert made is not None
    return made


def from_tnum(t: Tnum) -> Scalar:
    made = make(0, MASK64, S64_MIN, S64_MAX, t)
    assert made is not None
    return made


def low32(s: Scalar) -> Scalar:
    """The zero-extended low 32 bits of ``s``."""
    if s[1] <= U32:
        return s
    if s[0] >> 32 == s[1] >> 32:
        made = make(s[0] & U32, s[1] & U32, 0, U32, tn.cast(s[4], 4))
        if made is not None:
            return made
    return from_tnum(tn.cast(s[4], 4))


def sign_extend(s: Scalar, bits: int) -> Scalar:
    """``s`` truncated to ``bits`` and sign-extended to 64 (movsx, ldsx)."""
    if s.is_const:
        return const(signed(s[0], bits))
    half = 1 << (bits - 1)
    if s[1] < half:           # the sign bit is clear: the value is unchanged
        return s
    return make(0, MASK64, -half, half - 1, tn.UNKNOWN) or UNKNOWN


def _from_bounds(umin: int, umax: int, t: Tnum) -> Scalar:
    """A result whose unsigned bounds are valid when they do not wrap."""
    if 0 <= umin <= umax <= MASK64:
        return make(umin, umax, S64_MIN, S64_MAX, t) or from_tnum(t)
    return from_tnum(t)


def alu(op: int, a: Scalar, b: Scalar, is64: bool) -> Scalar:
    """The scalar result of ``a op b`` (``b`` already the imm or source register)."""
    if not is64:
        a, b = low32(a), low32(b)
    if a.is_const and b.is_const:
        return const(_concrete(op, a[0], b[0], is64))
    result = _alu64(op, a, b, is64)
    return result if is64 else low32(result)


def _alu64(op: int, a: Scalar, b: Scalar, is64: bool) -> Scalar:
    width = 64 if is64 else 32
    if op == o.ADD:
        t = tn.add(a[4], b[4])
        base = _from_bounds(a[0] + b[0], a[1] + b[1], t)
        smin, smax = a[2] + b[2], a[3] + b[3]
        if is64 and S64_MIN <= smin and smax <= S64_MAX:
            return make(base[0], base[1], max(base[2], smin), min(base[3], smax), t) or base
        return base
    if op == o.SUB:
        t = tn.sub(a[4], b[4])
        base = _from_bounds(a[0] - b[1], a[1] - b[0], t)
        smin, smax = a[2] - b[3], a[3] - b[2]
        if is64 and S64_MIN <= smin and smax <= S64_MAX:
            return make(base[0], base[1], max(base[2], smin), min(base[3], smax), t) or base
        return base
    if op == o.MUL:
        t = tn.mul(a[4], b[4])
        return _from_bounds(a[0] * b[0], a[1] * b[1], t)
    if op == o.AND:
        t = tn.and_(a[4], b[4])
        return _from_bounds(t[0], min(a[1], b[1]), t)
    if op == o.OR:
        t = tn.or_(a[4], b[4])
        return _from_bounds(max(a[0], b[0]), t[0] | t[1], t)
    if op == o.XOR:
        return from_tnum(tn.xor(a[4], b[4]))
    if op in (o.LSH, o.RSH, o.ARSH):
        if not b.is_const or b[0] >= width:
            return UNKNOWN
        shift = b[0]
        if op == o.LSH:
            t = tn.lshift(a[4], shift) if is64 else tn.cast(tn.lshift(a[4], shift), 4)
            if a[1] << shift <= (MASK64 if is64 else U32):
                return _from_bounds(a[0] << shift, a[1] << shift, t)
            return from_tnum(t)
        if op == o.RSH:
            return _from_bounds(a[0] >> shift, a[1] >> shift, tn.rshift(a[4], shift))
        t = tn.arshift(a[4], shift, width)
        if is64:
            return make(0, MASK64, a[2] >> shift, a[3] >> shift, t) or from_tnum(t)
        return from_tnum(t)
    if op == o.DIV:
        if b[0] == 0:                   # division by zero yields 0
            return _from_bounds(0, a[1], tn.UNKNOWN)
        return _from_bounds(a[0] // b[1], a[1] // b[0], tn.UNKNOWN)
    if op == o.MOD:                     # x % 0 is x; otherwise below both x and the divisor
        high = a[1] if b[0] == 0 else min(a[1], b[1] - 1)
        return _from_bounds(0, high, tn.UNKNOWN)
    return UNKNOWN


def _concrete(op: int, a: int, b: int, is64: bool) -> int:
    width = 64 if is64 else 32
    mask = (1 << width) - 1
    a, b = a & mask, b & mask
    if op == o.ADD:
        r = a + b
    elif op == o.SUB:
        r = a - b
    elif op == o.MUL:
        r = a * b
    elif op == o.DIV:
        r = a // b if b else 0
    elif op == o.MOD:
        r = a % b if b else a
    elif op == o.OR:
        r = a | b
    elif op == o.AND:
        r = a & b
    elif op == o.XOR:
        r = a ^ b
    elif op == o.LSH:
        r = a << (b % width)
    elif op == o.RSH:
        r = a >> (b % width)
    elif op == o.ARSH:
        r = signed(a, width) >> (b % width)
    else:
        raise ValueError(op)
    return r & mask


# ---- comparisons -------------------------------------------------------------------

#: the condition that holds on a conditional jump's fall-through
INVERSE = {o.JEQ: o.JNE, o.JNE: o.JEQ, o.JGT: o.JLE, o.JLE: o.JGT, o.JGE: o.JLT, o.JLT: o.JGE,
           o.JSGT: o.JSLE, o.JSLE: o.JSGT, o.JSGE: o.JSLT, o.JSLT: o.JSGE}
#: ``a op b`` ⇔ ``b SWAPPED[op] a``
SWAPPED = {o.JEQ: o.JEQ, o.JNE: o.JNE, o.JGT: o.JLT, o.JLT: o.JGT, o.JGE: o.JLE, o.JLE: o.JGE,
           o.JSGT: o.JSLT, o.JSLT: o.JSGT, o.JSGE: o.JSLE, o.JSLE: o.JSGE, o.JSET: o.JSET}


def branch_taken(op: int, a: Scalar, b: Scalar) -> bool | None:
    """True/False when ``a op b`` is decided by what is known, else None."""
    if op == o.JEQ:
        if a.is_const and b.is_const:
            return a[0] == b[0]
        if a[0] > b[1] or b[0] > a[1] or a[2] > b[3] or b[2] > a[3]:
            return False
        if (a[4][0] ^ b[4][0]) & ~(a[4][1] | b[4][1]):
            return False
        return None
    if op == o.JNE:
        taken = branch_taken(o.JEQ, a, b)
        return None if taken is None else not taken
    if op == o.JSET:
        if a[4][0] & b[4][0]:
            return True
        if not ((a[4][0] | a[4][1]) & (b[4][0] | b[4][1])):
            return False
        return None
    if op == o.JGT:
        return True if a[0] > b[1] else False if a[1] <= b[0] else None
    if op == o.JGE:
        return True if a[0] >= b[1] else False if a[1] < b[0] else None
    if op == o.JLT:
        return True if a[1] < b[0] else False if a[0] >= b[1] else None
    if op == o.JLE:
        return True if a[1] <= b[0] else False if a[0] > b[1] else None
    if op == o.JSGT:
        return True if a[2] > b[3] else False if a[3] <= b[2] else None
    if op == o.JSGE:
        return True if a[2] >= b[3] else False if a[3] < b[2] else None
    if op == o.JSLT:
        return True if a[3] < b[2] else False if a[2] >= b[3] else None
    if op == o.JSLE:
        return True if a[3] <= b[2] else False if a[2] > b[3] else None
    return None


def refine(op: int, a: Scalar, b: Scalar) -> tuple[Scalar, Scalar] | None:
    """``a`` and ``b`` narrowed by knowing ``a op b`` holds; None when it cannot."""
    umin_a, umax_a, smin_a, smax_a, ta = a
    umin_b, umax_b, smin_b, smax_b, tb = b
    if op == o.JEQ:
        t = tn.intersect(ta, tb)
        if (ta[0] ^ tb[0]) & ~(ta[1] | tb[1]):
            return None
        both = make(max(umin_a, umin_b), min(umax_a, umax_b), max(smin_a, smin_b), min(smax_a, smax_b), t)
        return None if both is None else (both, both)
    if op == o.JNE:
        if a.is_const and b.is_const and a[0] == b[0]:
            return None
        return _exclude(a, b), _exclude(b, a)
    if op == o.JSET:
        return a, b
    if op in (o.JLT, o.JLE, o.JSLT, o.JSLE):
        swapped = refine(SWAPPED[op], b, a)
        return None if swapped is None else (swapped[1], swapped[0])
    strict = op in (o.JGT, o.JSGT)
    if op in (o.JGT, o.JGE):
        new_a = make(max(umin_a, umin_b + strict), umax_a, smin_a, smax_a, ta)
        new_b = make(umin_b, min(umax_b, umax_a - strict), smin_b, smax_b, tb)
    else:
        new_a = make(umin_a, umax_a, max(smin_a, smin_b + strict), smax_a, ta)
        new_b = make(umin_b, umax_b, smin_b, min(smax_b, smax_a - strict), tb)
    if new_a is None or new_b is None:
        return None
    return new_a, new_b


def _exclude(a: Scalar, b: Scalar) -> Scalar:
    """``a`` knowing it differs from ``b`` (narrows only at the ends of a range)."""
    if not b.is_const:
        return a
    v = b[0]
    umin, umax, smin, smax = a[0], a[1], a[2], a[3]
    if umin == v:
        umin += 1
    if umax == v:
        umax -= 1
    if smin == signed(v):
        smin += 1
    if smax == signed(v):
        smax -= 1
    return make(umin, umax, smin, smax, a[4]) or a
