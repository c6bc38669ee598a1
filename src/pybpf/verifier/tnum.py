"""Tristate numbers: what is known bit by bit about a 64-bit value (the kernel's tnum).

A tnum is ``(value, mask)``: bits set in ``mask`` are unknown, the others equal the bits of
``value``. Arithmetic on tnums over-approximates the set of values the operands may have,
which lets the verifier keep alignment and known-bit facts alongside numeric bounds.
"""

from __future__ import annotations

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Self

MASK64 = (1 << 64) - 1


class Tnum(tuple):
    """An immutable (value, mask) pair."""

    __slots__ = ()

    def __new__(cls, value: int, mask: int) -> Self:
        return tuple.__new__(cls, (value & ~mask & MASK64, mask & MASK64))

    @property
    def value(self) -> int:
        return self[0]

    @property
    def mask(self) -> int:
        return self[1]

    @property
    def is_const(self) -> bool:
        return not self[1]

    def __str__(self) -> str:
        """The kernel's ``tnum_strn``: a known value as a number, else ``(value; mask)``."""
        if not self[1]:
            value = self[0]
            return str(value - (1 << 64) if value >> 63 else value)
        return f"({self[0]:#x}; {self[1]:#x})"


UNKNOWN = Tnum(0, MASK64)


def const(value: int) -> Tnum:
    return Tnum(value & MASK64, 0)


def from_range(low: int, high: int) -> Tnum:
    """The tightest tnum holding every value of ``[low, high]`` (unsigned)."""
    chi = low ^ high
    if chi == 0:
        return const(low)
    bits = chi.bit_length()
    if bits > 63:
        return UNKNOWN
    delta = (1 << bits) - 1
    return Tnum(low & ~delta, delta)


def add(a: Tnum, b: Tnum) -> Tnum:
    sm = a[1] + b[1]
    sv = a[0] + b[0]
    sigma = (sm + sv) & MASK64
    chi = sigma ^ (sv & MASK64)
    mu = chi | a[1] | b[1]
    return Tnum(sv & ~mu, mu)


def sub(a: Tnum, b: Tnum) -> Tnum:
    dv = (a[0] - b[0]) & MASK64
    alpha = (dv + a[1]) & MASK64
    beta = (dv - b[1]) & MASK64
    chi = alpha ^ beta
    mu = chi | a[1] | b[1]
    return Tnum(dv & ~mu, mu)


def and_(a: Tnum, b: Tnum) -> Tnum:
    alpha = a[0] | a[1]
    beta = b[0] | b[1]
    v = a[0] & b[0]
    return Tnum(v, alpha & beta & ~v)


def or_(a: Tnum, b: Tnum) -> Tnum:
    v = a[0] | b[0]
    mu = a[1] | b[1]
    return Tnum(v, mu & ~v)


def xor(a: Tnum, b: Tnum) -> Tnum:
    v = a[0] ^ b[0]
    mu = a[1] | b[1]
    return Tnum(v & ~mu, mu)


def mul(a: Tnum, b: Tnum) -> Tnum:
    """The kernel's long multiplication over tnums."""
    acc_v = (a[0] * b[0]) & MASK64
    acc_m = Tnum(0, 0)
    av, am = a
    bt = b
    while av or am:
        if av & 1:
            acc_m = add(acc_m, Tnum(0, bt[1]))
        elif am & 1:
            acc_m = add(acc_m, Tnum(0, bt[0] | bt[1]))
        av >>= 1
        am >>= 1
        bt = Tnum((bt[0] << 1) & MASK64, (bt[1] << 1) & MASK64)
    return add(const(acc_v), acc_m)


def lshift(a: Tnum, shift: int) -> Tnum:
    return Tnum((a[0] << shift) & MASK64, (a[1] << shift) & MASK64)


def rshift(a: Tnum, shift: int) -> Tnum:
    return Tnum(a[0] >> shift, a[1] >> shift)


def arshift(a: Tnum, shift: int, bits: int = 64) -> Tnum:
    def sar(x: int) -> int:
        x &= (1 << bits) - 1
        if x >> (bits - 1):
            x -= 1 << bits
        return (x >> shift) & ((1 << bits) - 1)
    return Tnum(sar(a[0]), sar(a[1]))


def intersect(a: Tnum, b: Tnum) -> Tnum:
    v = a[0] | b[0]
    mu = a[1] & b[1]
    return Tnum(v & ~mu, mu)


def cast(a: Tnum, size: int) -> Tnum:
    """The low ``size`` bytes, zero-extended."""
    m = (1 << (8 * size)) - 1
    return Tnum(a[0] & m, a[1] & m)


def contains(a: Tnum, b: Tnum) -> bool:
    """Every value of ``b`` is a value of ``a``."""
    if b[1] & ~a[1]:
        return False
    return (b[0] & ~a[1]) == a[0]


def is_aligned(a: Tnum, size: int) -> bool:
    return not ((a[0] | a[1]) & (size - 1))
