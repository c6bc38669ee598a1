"""The argument specs that ``<bpf/usdt.bpf.h>`` reads (libbpf's USDT API on pybpf).

A program built on that header finds where the firing site keeps its arguments in the
map ``__bpf_usdt_specs``, at the index its attach cookie gives. Attaching such a program
to a USDT probe writes one spec per site there (:func:`write_specs`); the layout is the
header's ``struct __bpf_usdt_spec``, packed here and read there, nowhere else.
"""

from __future__ import annotations

import struct
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pybpf.usdt.arguments import ArgKind, UsdtArgument
from pybpf.usdt.errors import UsdtError

if TYPE_CHECKING:
    from pybpf.usdt.notes import UsdtProbe

#: BPF_USDT_MAX_ARG_CNT / BPF_USDT_MAX_SPEC_CNT of the header
MAX_ARGS, MAX_SPECS = 12, 256
#: struct __bpf_usdt_arg_spec: val_off, arg_type, reg_off, idx_reg_off, scale_shift,
#: arg_signed, arg_bitshift, padding (to the u64 alignment: 24 bytes)
_ARG = struct.Struct("<QIhhBBBx4x")
#: struct __bpf_usdt_spec: the arguments, usdt_cookie, arg_cnt (padded to 8 bytes)
_SPEC_TAIL = struct.Struct("<Qh6x")
SPEC_SIZE = MAX_ARGS * _ARG.size + _SPEC_TAIL.size

#: the next free spec index of each specs map (its sites are numbered across programs)
_next_index: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def encode_spec(arguments: Sequence[UsdtArgument], cookie: int = 0) -> bytes:
    """The ``struct __bpf_usdt_spec`` of one site's arguments."""
    if len(arguments) > MAX_ARGS:
        raise UsdtError(f"a USDT site with {len(arguments)} arguments: <bpf/usdt.bpf.h> reads at most {MAX_ARGS}")
    for arg in arguments:
        if arg.kind == ArgKind.GLOBAL:
            raise UsdtError(f"USDT argument {arg.spec!r}: <bpf/usdt.bpf.h> (libbpf's spec) cannot address a global "
                            "relative to %rip; pybpf.usdt.c_reader can")
    packed = b"".join(_ARG.pack(arg.value & (1 << 64) - 1, int(arg.kind), max(arg.reg_offset, 0),
                                max(arg.index_offset, 0), arg.scale.bit_length() - 1 if arg.kind == ArgKind.SIB else 0,
                                int(arg.signed), arg.bitshift)
                      for arg in arguments)
    return packed.ljust(MAX_ARGS * _ARG.size, b"\0") + _SPEC_TAIL.pack(cookie & (1 << 64) - 1, len(arguments))


def write_specs(specs_map: Any, sites: Sequence[UsdtProbe], cookie: int = 0) -> list[int]:
    """Write each site's spec into ``specs_map`` (a loaded ``__bpf_usdt_specs`` array) at
    indexes not used before; returns them, one per site, to attach the sites with as
    cookies."""
    first = _next_index.get(specs_map, 0)
    if first + len(sites) > MAX_SPECS:
        raise UsdtError(f"__bpf_usdt_specs holds {MAX_SPECS} USDT sites; {first} are in use and "
                        f"{len(sites)} more were asked for")
    indexes = list(range(first, first + len(sites)))
    for index, site in zip(indexes, sites):
        specs_map[struct.pack("<i", index)] = encode_spec(site.arguments, cookie)
    _next_index[specs_map] = first + len(sites)
    return indexes
