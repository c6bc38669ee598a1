"""The native loops over classic pcap records (walker.c, beside this module), compiled
once by the clang in the ziglang wheel and kept in the JIT's disk cache.

Walking a savefile is inherently sequential (each record header says where the next one
starts), so neither NumPy nor a Python loop makes it fast: a Python loop costs about a
microsecond per record, more than the whole filter does in native code. These loops run
at memory speed instead:

- ``pcap_walk`` finds consecutive records in a buffer and fills arrays of their offsets,
  captured lengths, wire lengths and data addresses (what the vm JIT's ``bpf_batch``
  takes), stopping at the end of the buffer, at a record cut short by it, at a
  captured length over the libpcap limit, when the arrays are full, or at the first
  record that starts at or after a given offset (a piece's boundary, when threads
  filter pieces of one file: :mod:`pybpf.pcapfilter.batch`);
- ``pcap_sync`` finds, from an offset in the middle of a file, the first place where a
  chain of records with plausible headers starts: a guess of where a record begins,
  which the thread walking the piece before confirms (or not) by arriving there;
- ``pcap_gather`` copies the records whose filter result is non-zero, headers and all,
  into an output buffer (the ``-w`` file's body);
- ``pcap_filter`` is walk, filter and gather in one call, for a whole piece of a file:
  the JIT's batch entry point is called through the function pointer it is given, so
  the GIL is released for the piece, not handed back and forth per batch;
- ``pcap_differ`` lists the indices where two arrays differ, up to a limit: against an
  array of zeros, the records a filter accepted (what ``-c N`` and printing iterate);
  between captured and wire lengths, the records a filter reading ``len`` must give to
  the interpreter (see :mod:`pybpf.pcapfilter.matcher`);
- ``pcap_tally`` counts the verdicts of a batch of packet-program runs, and the bytes
  each verdict's packets leave with (``pybpf replay``'s summary: :mod:`pybpf.replay.run`).

The object is compiled for the architecture's baseline CPU (so a cache entry serves any
machine of the architecture) and its entry's key covers walker.c, this module and the
zig build; later processes load it in well under a millisecond. Where nothing can
compile here (no ziglang), :func:`native` returns ``None`` and callers read records one
at a time instead.
"""

from __future__ import annotations

import ctypes
import os

from pybpf._once import once

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any, NamedTuple
else:                   # the same class, without typing (pybpf._namedtuple)
    from pybpf._namedtuple import NamedTuple

#: ``pcap_walk`` stop reasons (the second slot of its ``stop`` array)
STOP_END, STOP_FULL, STOP_OVERSIZED, STOP_BOUNDARY = 0, 1, 2, 3
#: ``pcap_filter``'s stop reason when the filter did not finish a batch (a fault: the
#: batch walk raises its error)
STOP_FILTER = 4
#: ``until`` for a walk with no boundary
NO_BOUNDARY = (1 << 64) - 1

_U64P = ctypes.POINTER(ctypes.c_uint64)
_WALK = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64,
                         ctypes.c_uint64, ctypes.c_uint64, _U64P, _U64P, _U64P, _U64P, _U64P, ctypes.c_uint64)
_SYNC = ctypes.CFUNCTYPE(ctypes.c_uint64, *([ctypes.c_uint64] * 7))
_GATHER = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64, _U64P, _U64P, _U64P, ctypes.c_uint64, ctypes.c_uint64)
_DIFFER = ctypes.CFUNCTYPE(ctypes.c_uint64, _U64P, _U64P, ctypes.c_uint64, _U64P, ctypes.c_uint64)
_FILTER = ctypes.CFUNCTYPE(ctypes.c_uint64, *([ctypes.c_uint64] * 6), *([_U64P] * 5),
                           *([ctypes.c_uint64] * 3), _U64P, ctypes.c_uint64)
_TALLY = ctypes.CFUNCTYPE(ctypes.c_uint64, *([ctypes.c_uint64] * 9), *([_U64P] * 4))
_SYMBOLS = ("pcap_walk", "pcap_gather", "pcap_differ", "pcap_sync", "pcap_filter", "pcap_tally")
SOURCE = os.path.join(os.path.dirname(__file__), "walker.c")


class Native(NamedTuple):
    """The compiled loops (keep ``code`` referenced: it owns their machine code)."""

    code: Any
    walk: Any
    gather: Any
    differ: Any
    sync: Any
    filter: Any
    tally: Any


@once
def native() -> Native | None:
    """The compiled loops, or ``None`` where they cannot be compiled for this machine.

    They come from the JIT's disk cache (:mod:`pybpf.vm.jit.native`) when this version
    of them was compiled before, which takes well under a millisecond and starts no
    compiler; the first time, walker.c is compiled (about a tenth of a second) and saved."""
    from pybpf.vm.jit import native

    code = native.c_library("pcap", SOURCE, _SYMBOLS, [__file__])
    if code is None:
        return None
    return Native(code, _WALK(code.address("pcap_walk")), _GATHER(code.address("pcap_gather")),
                  _DIFFER(code.address("pcap_differ")), _SYNC(code.address("pcap_sync")),
                  _FILTER(code.address("pcap_filter")), _TALLY(code.address("pcap_tally")))
