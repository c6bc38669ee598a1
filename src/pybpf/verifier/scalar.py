"""Numeric knowledge about a 64-bit value: a tnum plus unsigned and signed bounds of
the whole value and, apart, of its low 32 bits.

:class:`Scalar` is immutable. Every constructor goes through :func:`make`, which keeps
the five views in sync (as the kernel's ``reg_bounds_sync``: bounds from the tnum, 32-bit
bounds from 64-bit ones and back, signed from unsigned and back, the tnum from the
bounds) and returns None when they contradict each other: a branch refined into an
empty set is a branch no execution takes. The 32-bit bounds are what 32-bit ALU
operations and ``w`` comparisons work on, as the kernel's ``u32_min_value``....
"""

from __future__ import annotations

from functools import lru_cache

from pybpf.isa import opcodes as o
from pybpf.verifier import tnum as tn
from pybpf.verifier.tnum import MASK64, Tnum

U32 = 0xFFFF_FFFF
S64_MIN, S64_MAX = -(1 << 63), (1 << 63) - 1
S32_MIN, S32_MAX = -(1 << 31), (1 << 31) - 1
#: the 32-bit bounds that say nothing
ANY32 = (0, U32, S32_MIN, S32_MAX)


def signed(value: int, bits: int = 64) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


class Scalar(tuple):
    """(umin, umax, smin, smax, tnum, u32min, u32max, s32min, s32max), always consistent."""

    __slots__ = ()

    umin = property(lambda self: self[0])
    umax = property(lambda self: self[1])
    smin = property(lambda self: self[2])
    smax = property(lambda self: self[3])
    tnum = property(lambda self: self[4])
    u32min = property(lambda self: self[5])
    u32max = property(lambda self: self[6])
    s32min = property(lambda self: self[7])
    s32max = property(lambda self: self[8])

    @property
    def bounds32(self) -> tuple[int, int, int, int]:
        return self[5], self[6], self[7], self[8]

    @property
    def is_const(self) -> bool:
        return self[0] == self[1]

    @property
    def value(self) -> int:
        return self[0]

    def contains(self, other: Scalar) -> bool:
        """Every value ``other`` may have, this may have too (state pruning)."""
        return (self[0] <= other[0] and other[1] <= self[1] and self[2] <= other[2]
                and other[3] <= self[3] and self[5] <= other[5] and other[6] <= self[6] and self[7] <= other[7]
                and other[8] <= self[8] and tn.contains(self[4], other[4]))

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


def make(umin: int, umax: int, smin: int, smax: int, t: Tnum, u32min: int = 0, u32max: int = U32,
         s32min: int = S32_MIN, s32max: int = S32_MAX) -> Scalar | None:
    """A consistent scalar from possibly loose bounds, or None when no value fits.

    Two passes as the kernel's ``reg_bounds_sync`` (the second skipped when the first
    changed nothing: it would change nothing either). Signed views are computed inline,
    ``((x & mask) ^ sign) - sign``: this runs at every branch and ALU result."""
    for _ in range(2):
        before = (umin, umax, smin, smax, t, u32min, u32max, s32min, s32max)
        # bounds from the known bits
        tv, tm = t
        umin, umax = max(umin, tv), min(umax, tv | tm)
        if not tm >> 63:                                # sign bit known
            smin, smax = max(smin, (tv ^ _SIGN64) - _SIGN64), min(smax, ((tv | tm) ^ _SIGN64) - _SIGN64)
        lv, lm = tv & U32, tm & U32
        u32min, u32max = max(u32min, lv), min(u32max, lv | lm)
        if not lm >> 31:
            s32min, s32max = max(s32min, (lv ^ _SIGN32) - _SIGN32), min(s32max, ((lv | lm) ^ _SIGN32) - _SIGN32)
        # the low halves of a 64-bit range whose upper halves agree (or are two sequential
        # numbers around a low half crossing zero) are a 32-bit range
        lo, hi = ((umin & U32) ^ _SIGN32) - _SIGN32, ((umax & U32) ^ _SIGN32) - _SIGN32
        if umin >> 32 == umax >> 32:
            u32min, u32max = max(u32min, umin & U32), min(u32max, umax & U32)
            if lo <= hi:
                s32min, s32max = max(s32min, lo), min(s32max, hi)
        elif ((umin >> 32) + 1) & U32 == (umax >> 32) & U32 and lo < 0 <= hi:
            s32min, s32max = max(s32min, lo), min(s32max, hi)
        lo, hi = ((smin & U32) ^ _SIGN32) - _SIGN32, ((smax & U32) ^ _SIGN32) - _SIGN32
        if smin >> 32 == smax >> 32:
            if smin & U32 <= smax & U32:
                u32min, u32max = max(u32min, smin & U32), min(u32max, smax & U32)
            if lo <= hi:
                s32min, s32max = max(s32min, lo), min(s32max, hi)
        elif ((smin >> 32) + 1) & U32 == (smax >> 32) & U32 and lo < 0 <= hi:
            s32min, s32max = max(s32min, lo), min(s32max, hi)
        lo, hi = ((u32min & U32) ^ _SIGN32) - _SIGN32, ((u32max & U32) ^ _SIGN32) - _SIGN32
        if lo <= hi:                                    # u32 range on one side of the sign
            s32min, s32max = max(s32min, lo), min(s32max, hi)
        if s32min & U32 <= s32max & U32:                # s32 range on one side of zero
            u32min, u32max = max(u32min, s32min & U32), min(u32max, s32max & U32)
        if u32min > u32max or s32min > s32max:
            return None
        # signed and unsigned 64-bit bounds
        if smin < 0 <= smax:          # a signed range across zero: is one side out of [umin, umax]?
            if umin > smax:
                smax = -1
            elif umax < smin & MASK64:
                smin = 0
        if umin >> 63 == umax >> 63:                    # unsigned range on one side of the sign
            smin, smax = (max(smin, ((umin & MASK64) ^ _SIGN64) - _SIGN64),
                          min(smax, ((umax & MASK64) ^ _SIGN64) - _SIGN64))
        if (smin >= 0) == (smax >= 0):                  # signed range on one side of zero
            umin, umax = max(umin, smin & MASK64), min(umax, smax & MASK64)
        if umin > umax or smin > smax:
            return None
        # 64-bit bounds from the 32-bit ones (the kernel's __reg_deduce_mixed_bounds)
        umin, umax = max(umin, (umin & ~U32) | u32min), min(umax, (umax & ~U32) | u32max)
        smin, smax = max(smin, (smin & ~U32) | u32min), min(smax, (smax & ~U32) | u32max)
        if s32min >= 0 and smin >= S32_MIN and smax <= S32_MAX:
            smin, smax = max(smin, s32min), min(smax, s32max)
            umin, umax = max(umin, s32min), min(umax, s32max)
        if umin > umax or smin > smax:
            return None
        # the known bits from the bounds, the low half from the 32-bit ones
        t64 = tn.intersect(t, tn.from_range(umin, umax))
        t32 = tn.intersect(tn.Tnum(lv, lm), tn.from_range(u32min, u32max))
        t = tn.Tnum((t64[0] & ~U32) | t32[0], (t64[1] & ~U32) | t32[1])
        if (umin, umax, smin, smax, t, u32min, u32max, s32min, s32max) == before:
            break
    return Scalar((umin, umax, smin, smax, t, u32min, u32max, s32min, s32max))


#: the sign bits of 64- and 32-bit values (``(x ^ sign) - sign`` reads ``x`` as signed)
_SIGN64, _SIGN32 = 1 << 63, 1 << 31


def const(value: int) -> Scalar:
    """The scalar that is exactly ``value`` (modulo 2**64)."""
    return _const(value & MASK64)


@lru_cache(maxsize=4096)
def _const(value: int) -> Scalar:
    """Constants are immutable and recur (loop counters, offsets, immediates): one
    object each, made once."""
    low = value & U32
    s64 = value - (1 << 64) if value >> 63 else value
    s32 = low - (1 << 32) if low >> 31 else low
    return Scalar((value, value, s64, s64, tn.const(value), low, low, s32, s32))


UNKNOWN = Scalar((0, MASK64, S64_MIN, S64_MAX, tn.UNKNOWN, 0, U32, S32_MIN, S32_MAX))


@lru_cache(maxsize=1024)
def unsigned_range(low: int, high: int) -> Scalar:
    """The scalar in [low, high] (cached: loads of a size all give the same one, and
    scalars are never changed in place)."""
    made = make(low, high, S64_MIN, S64_MAX, tn.from_range(low, high))
    assert made is not None
    return made


def from_tnum(t: Tnum) -> Scalar:
    made = make(0, MASK64, S64_MIN, S64_MAX, t)
    assert made is not None
    return made


def low32(s: Scalar) -> Scalar:
    """The zero-extended low 32 bits of ``s`` (``w1 = w1``; the operands of ALU32)."""
    if s[1] <= U32:
        return s
    return make(s[5], s[6], 0, U32, tn.cast(s[4], 4), *s.bounds32) or from_tnum(tn.cast(s[4], 4))


def sign_extend(s: Scalar, bits: int) -> Scalar:
    """``s`` truncated to ``bits`` and sign-extended to 64 (movsx, ldsx)."""
    if s.is_const:
        return const(signed(s[0], bits))
    half = 1 << (bits - 1)
    if s[1] < half:           # the sign bit is clear: the value is unchanged
        return s
    if bits == 32:            # the low half's signed bounds are the value's
        return make(0, MASK64, s[7], s[8], tn.UNKNOWN, *s.bounds32) or UNKNOWN
    return make(0, MASK64, -half, half - 1, tn.UNKNOWN) or UNKNOWN


def _from_bounds(umin: int, umax: int, t: Tnum) -> Scalar:
    """A result whose unsigned bounds are valid when they do not wrap."""
    if 0 <= umin <= umax <= MASK64:
        return make(umin, umax, S64_MIN, S64_MAX, t) or from_tnum(t)
    return from_tnum(t)


def alu(op: int, a: Scalar, b: Scalar, is64: bool) -> Scalar:
    """The scalar result of ``a op b`` (``b`` already the imm or source register)."""
    if a[0] == a[1] and b[0] == b[1]:         # both constants (so are their low halves)
        return const(concrete(op, a[0], b[0], is64))
    bounds32 = _alu32(op, a, b)
    if not is64:
        a, b = low32(a), low32(b)
        if a.is_const and b.is_const:
            return const(concrete(op, a[0], b[0], is64))
    result = _alu64(op, a, b, is64)
    if bounds32 is not None:     # what the low halves alone say about the result's low half
        low = (max(result[5], bounds32[0]), min(result[6], bounds32[1]), max(result[7], bounds32[2]),
               min(result[8], bounds32[3]))
        result = make(result[0], result[1], result[2], result[3], result[4], *low) or result
    return result if is64 else low32(result)


def _alu32(op: int, a: Scalar, b: Scalar) -> tuple[int, int, int, int] | None:
    """The 32-bit bounds of the low half of ``a op b`` from those of the operands, where
    the operation does not overflow (the kernel's ``scalar32_min_max_*``)."""
    if op == o.ADD:
        u = (a[5] + b[5], a[6] + b[6])
        s = (a[7] + b[7], a[8] + b[8])
    elif op == o.SUB:
        u = (a[5] - b[6], a[6] - b[5])
        s = (a[7] - b[8], a[8] - b[7])
    elif op == o.AND:
        return 0, min(a[6], b[6]), S32_MIN, S32_MAX
    else:
        return None
    u = u if 0 <= u[0] and u[1] <= U32 else (0, U32)
    s = s if S32_MIN <= s[0] and s[1] <= S32_MAX else (S32_MIN, S32_MAX)
    return (*u, *s)


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
        if op == o.LSH:           # the kernel's rules: bounds only while no bit can reach the top
            if not is64:
                t = tn.cast(tn.lshift(a[4], shift), 4)
                return _from_bounds(a[0] << shift, a[1] << shift, t) if a[1] <= 1 << (31 - shift) else from_tnum(t)
            t = tn.lshift(a[4], shift)
            smin, smax = (a[7] << 32, a[8] << 32) if shift == 32 and a[7] >= 0 else (S64_MIN, S64_MAX)
            if a[1] > 1 << (63 - shift):
                return make(0, MASK64, smin, smax, t) or from_tnum(t)
            return make(a[0] << shift, a[1] << shift, smin, smax, t) or from_tnum(t)
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


def concrete(op: int, a: int, b: int, is64: bool) -> int:
    """``a op b`` of two known values, as the CPU computes it."""
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
    umin_a, umax_a, smin_a, smax_a, ta = a[:5]
    umin_b, umax_b, smin_b, smax_b, tb = b[:5]
    if op == o.JEQ:
        t = tn.intersect(ta, tb)
        if (ta[0] ^ tb[0]) & ~(ta[1] | tb[1]):
            return None
        both = make(max(umin_a, umin_b), min(umax_a, umax_b), max(smin_a, smin_b), min(smax_a, smax_b), t,
                    max(a[5], b[5]), min(a[6], b[6]), max(a[7], b[7]), min(a[8], b[8]))
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
        new_a = make(max(umin_a, umin_b + strict), umax_a, smin_a, smax_a, ta, *a.bounds32)
        new_b = make(umin_b, min(umax_b, umax_a - strict), smin_b, smax_b, tb, *b.bounds32)
    else:
        new_a = make(umin_a, umax_a, max(smin_a, smin_b + strict), smax_a, ta, *a.bounds32)
        new_b = make(umin_b, umax_b, smin_b, min(smax_b, smax_a - strict), tb, *b.bounds32)
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
    return make(umin, umax, smin, smax, a[4], *a.bounds32) or a


# ---- 32-bit comparisons (``if w1 > 5``): the low halves' bounds ---------------------

def _view32(s: Scalar) -> Scalar:
    """The low half's bounds in the places :func:`branch_taken` reads them (a view for
    deciding a comparison, not a consistent 64-bit scalar)."""
    return Scalar((s[5], s[6], s[7], s[8], tn.cast(s[4], 4)))


def branch_taken32(op: int, a: Scalar, b: Scalar) -> bool | None:
    """True/False when the 32-bit comparison ``a op b`` is decided, else None."""
    return branch_taken(op, _view32(a), _view32(b))


def refine32(op: int, a: Scalar, b: Scalar) -> tuple[Scalar, Scalar] | None:
    """``a`` and ``b`` narrowed by knowing the 32-bit comparison ``a op b`` holds (their
    low halves' bounds; the 64-bit bounds follow where they can)."""
    if op == o.JSET:
        return a, b
    if op in (o.JLT, o.JLE, o.JSLT, o.JSLE):
        swapped = refine32(SWAPPED[op], b, a)
        return None if swapped is None else (swapped[1], swapped[0])
    ua, ub, sa, sb = [a[5], a[6]], [b[5], b[6]], [a[7], a[8]], [b[7], b[8]]
    ta, tb = a[4], b[4]
    if op == o.JEQ:
        if (ta[0] ^ tb[0]) & ~(ta[1] | tb[1]) & U32:
            return None
        ua = ub = [max(ua[0], ub[0]), min(ua[1], ub[1])]
        sa = sb = [max(sa[0], sb[0]), min(sa[1], sb[1])]
        low = tn.intersect(tn.cast(ta, 4), tn.cast(tb, 4))
        ta = tn.Tnum((ta[0] & ~U32) | low[0], (ta[1] & ~U32) | low[1])
        tb = tn.Tnum((tb[0] & ~U32) | low[0], (tb[1] & ~U32) | low[1])
    elif op == o.JNE:
        for mine, other in ((ua, ub), (ub, ua), (sa, sb), (sb, sa)):
            if other[0] == other[1]:
                mine[0] += mine[0] == other[0]
                mine[1] -= mine[1] == other[0]
    elif op in (o.JGT, o.JGE):
        strict = op == o.JGT
        ua[0], ub[1] = max(ua[0], ub[0] + strict), min(ub[1], ua[1] - strict)
    else:
        strict = op == o.JSGT
        sa[0], sb[1] = max(sa[0], sb[0] + strict), min(sb[1], sa[1] - strict)
    new_a = make(a[0], a[1], a[2], a[3], ta, ua[0], ua[1], sa[0], sa[1])
    new_b = make(b[0], b[1], b[2], b[3], tb, ub[0], ub[1], sb[0], sb[1])
    if new_a is None or new_b is None:
        return None
    return new_a, new_b
