"""Four small loops over classic pcap records, compiled to native code with llvmlite.

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
- ``pcap_filter`` is the other three in one call, for a whole piece of a file: walk a
  batch, run the JIT's batch entry point over it (called through the function pointer
  it is given), gather the accepted records, and again until the walk stops — so the
  GIL is released for the piece, not handed back and forth per batch;
- ``pcap_differ`` lists the indices where two arrays differ, up to a limit: against an
  array of zeros, the records a filter accepted (what ``-c N`` and printing iterate);
  between captured and wire lengths, the records a filter reading ``len`` must give to
  the interpreter (see :mod:`pybpf.pcapfilter.matcher`).

They are compiled on first use and kept in the JIT's disk cache, so later processes load
them in well under a millisecond; where nothing can compile for this machine,
:func:`native` returns ``None`` and callers read records one at a time instead.
"""

from __future__ import annotations

import ctypes
import functools
from pathlib import Path
from typing import Any, NamedTuple

#: ``pcap_walk`` stop reasons (the second slot of its ``stop`` array)
STOP_END, STOP_FULL, STOP_OVERSIZED, STOP_BOUNDARY = 0, 1, 2, 3
#: ``pcap_filter``'s stop reason when the filter did not finish a batch (a fault: the
#: batch walk raises its error)
STOP_FILTER = 4
#: ``until`` for a walk with no boundary
NO_BOUNDARY = (1 << 64) - 1

#: bytes ahead of the current record that the walker asks the memory system for
PREFETCH_AHEAD = 8192
PREFETCH_LINES = 8
LOCALITY = 0
_U64P = ctypes.POINTER(ctypes.c_uint64)
_WALK = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64,
                         ctypes.c_uint64, ctypes.c_uint64, _U64P, _U64P, _U64P, _U64P, _U64P, ctypes.c_uint64)
_SYNC = ctypes.CFUNCTYPE(ctypes.c_uint64, *([ctypes.c_uint64] * 7))
_GATHER = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint64, _U64P, _U64P, _U64P, ctypes.c_uint64, ctypes.c_uint64)
_DIFFER = ctypes.CFUNCTYPE(ctypes.c_uint64, _U64P, _U64P, ctypes.c_uint64, _U64P, ctypes.c_uint64)
_FILTER = ctypes.CFUNCTYPE(ctypes.c_uint64, *([ctypes.c_uint64] * 6), *([_U64P] * 5),
                           *([ctypes.c_uint64] * 3), _U64P, ctypes.c_uint64)
_SYMBOLS = ("pcap_walk", "pcap_gather", "pcap_differ", "pcap_sync", "pcap_filter")
#: the optimisation level the loops are compiled at
OPT = 2


class Native(NamedTuple):
    """The compiled loops (keep ``code`` referenced: it owns their machine code)."""

    code: Any
    walk: Any
    gather: Any
    differ: Any
    sync: Any
    filter: Any


def _build_module() -> Any:
    from llvmlite import ir

    i1, i32, i64 = ir.IntType(1), ir.IntType(32), ir.IntType(64)
    p64, p8 = i64.as_pointer(), ir.IntType(8).as_pointer()
    module = ir.Module(name="pcap_records")
    bswap = module.declare_intrinsic("llvm.bswap", [i32])
    prefetch = ir.Function(module, ir.FunctionType(ir.VoidType(), [p8, i32, i32, i32]), name="llvm.prefetch.p0")
    memcpy = module.declare_intrinsic("llvm.memcpy", [p8, p8, i64])

    def c(value: int) -> ir.Constant:
        return ir.Constant(i64, value)

    def load_u32(b: ir.IRBuilder, address: ir.Value, swap: ir.Value) -> ir.Value:
        raw = b.load(b.inttoptr(address, i32.as_pointer()), align=1)
        return b.zext(b.select(swap, b.call(bswap, [raw]), raw), i64)

    # pcap_walk(buf, pos, end, swap, limit, max, offsets, caplens, wirelens, hosts, stop, until) -> records
    walk = ir.Function(module, ir.FunctionType(i64, [i64] * 6 + [p64] * 5 + [i64]), name="pcap_walk")
    buf, start, end, swap_flag, limit, most, offsets, caplens, wirelens, hosts, stop, until = walk.args
    entry, loop, room, header, body, inside, store = (walk.append_basic_block(n) for n in (
        "entry", "loop", "room", "header", "body", "inside", "store"))
    full, ended, oversized, boundary = (walk.append_basic_block(n) for n in ("full", "ended", "oversized",
                                                                             "boundary"))
    b = ir.IRBuilder(entry)
    swap = b.icmp_unsigned("!=", swap_flag, c(0))
    b.branch(loop)
    b.position_at_end(loop)
    pos, count = b.phi(i64), b.phi(i64)
    pos.add_incoming(start, entry)
    count.add_incoming(c(0), entry)
    b.cbranch(b.icmp_unsigned(">=", count, most), full, room)
    b.position_at_end(room)
    b.cbranch(b.icmp_unsigned(">=", pos, until), boundary, header)
    b.position_at_end(header)
    data_start = b.add(pos, c(16))
    b.cbranch(b.icmp_unsigned("<=", data_start, end), body, ended)
    b.position_at_end(body)
    record = b.add(buf, pos)
    # the next record's address depends on this one's length, so the hardware cannot run
    # ahead on its own: ask for the memory some way ahead (read, low locality, data)
    for line in range(PREFETCH_LINES):
        b.call(prefetch, [b.inttoptr(b.add(record, c(PREFETCH_AHEAD + 64 * line)), p8), ir.Constant(i32, 0),
                          ir.Constant(i32, LOCALITY), ir.Constant(i32, 1)])
    caplen = load_u32(b, b.add(record, c(8)), swap)
    wirelen = load_u32(b, b.add(record, c(12)), swap)
    following = b.add(data_start, caplen)
    b.cbranch(b.icmp_unsigned(">", caplen, limit), oversized, inside)
    b.position_at_end(inside)
    b.cbranch(b.icmp_unsigned("<=", following, end), store, ended)
    b.position_at_end(store)
    b.store(pos, b.gep(offsets, [count]))
    b.store(caplen, b.gep(caplens, [count]))
    b.store(wirelen, b.gep(wirelens, [count]))
    b.store(b.add(buf, data_start), b.gep(hosts, [count]))
    pos.add_incoming(following, store)
    count.add_incoming(b.add(count, c(1)), store)
    b.branch(loop)
    for block, reason in ((full, STOP_FULL), (ended, STOP_END), (oversized, STOP_OVERSIZED),
                          (boundary, STOP_BOUNDARY)):
        b.position_at_end(block)
        b.store(pos, stop)
        b.store(c(reason), b.gep(stop, [c(1)]))
        b.ret(count)

    # pcap_gather(base, offsets, caplens, results, n, out) -> bytes written
    gather = ir.Function(module, ir.FunctionType(i64, [i64, p64, p64, p64, i64, i64]), name="pcap_gather")
    base, offsets, caplens, results, n, out = gather.args
    entry, loop, check, copy, done = (gather.append_basic_block(x) for x in ("entry", "loop", "check", "copy",
                                                                               "done"))
    b = ir.IRBuilder(entry)
    b.branch(loop)
    b.position_at_end(loop)
    i, written = b.phi(i64), b.phi(i64)
    i.add_incoming(c(0), entry)
    written.add_incoming(c(0), entry)
    b.cbranch(b.icmp_unsigned("<", i, n), check, done)
    b.position_at_end(check)
    following = b.add(i, c(1))
    selected = b.icmp_unsigned("!=", b.load(b.gep(results, [i])), c(0))
    i.add_incoming(following, check)
    written.add_incoming(written, check)
    b.cbranch(selected, copy, loop)
    b.position_at_end(copy)
    size = b.add(b.load(b.gep(caplens, [i])), c(16))
    source = b.inttoptr(b.add(base, b.load(b.gep(offsets, [i]))), p8)
    b.call(memcpy, [b.inttoptr(b.add(out, written), p8), source, size, ir.Constant(i1, 0)])
    i.add_incoming(following, copy)
    written.add_incoming(b.add(written, size), copy)
    b.branch(loop)
    b.position_at_end(done)
    b.ret(written)

    # pcap_differ(a, b, n, indices, limit) -> how many i < n have a[i] != b[i], their
    # indices written to ``indices``, stopping after ``limit``
    differ = ir.Function(module, ir.FunctionType(i64, [p64, p64, i64, p64, i64]), name="pcap_differ")
    left, right, n, indices, limit = differ.args
    entry, loop, check, note, done = (differ.append_basic_block(x) for x in ("entry", "loop", "check", "note",
                                                                               "done"))
    b = ir.IRBuilder(entry)
    b.branch(loop)
    b.position_at_end(loop)
    i, found = b.phi(i64), b.phi(i64)
    i.add_incoming(c(0), entry)
    found.add_incoming(c(0), entry)
    b.cbranch(b.and_(b.icmp_unsigned("<", i, n), b.icmp_unsigned("<", found, limit)), check, done)
    b.position_at_end(check)
    following = b.add(i, c(1))
    same = b.icmp_unsigned("==", b.load(b.gep(left, [i])), b.load(b.gep(right, [i])))
    i.add_incoming(following, check)
    found.add_incoming(found, check)
    b.cbranch(same, loop, note)
    b.position_at_end(note)
    b.store(i, b.gep(indices, [found]))
    i.add_incoming(following, note)
    found.add_incoming(b.add(found, c(1)), note)
    b.branch(loop)
    b.position_at_end(done)
    b.ret(found)

    # pcap_sync(buf, pos, end, swap, limit, fraction_limit, chain) -> the first p in
    # [pos, end) where ``chain`` consecutive records have plausible headers (captured
    # length at most ``limit`` and at most the wire length, sub-second part below
    # ``fraction_limit``, data inside the buffer) or where fewer lead exactly to ``end``;
    # ``end`` when there is none
    sync = ir.Function(module, ir.FunctionType(i64, [i64] * 7), name="pcap_sync")
    buf, start, end, swap_flag, limit, fraction_limit, chain = sync.args
    entry, outer, try_at, inner, check, plausible, advance, at_end, next_p, found, none = (
        sync.append_basic_block(x) for x in ("entry", "outer", "try", "inner", "check", "plausible", "advance",
                                             "at_end", "next", "found", "none"))
    b = ir.IRBuilder(entry)
    swap = b.icmp_unsigned("!=", swap_flag, c(0))
    b.branch(outer)
    b.position_at_end(outer)
    p = b.phi(i64)
    p.add_incoming(start, entry)
    b.cbranch(b.icmp_unsigned("<", p, end), try_at, none)
    b.position_at_end(try_at)
    b.branch(inner)
    b.position_at_end(inner)
    q, k = b.phi(i64), b.phi(i64)
    q.add_incoming(p, try_at)
    k.add_incoming(c(0), try_at)
    b.cbranch(b.icmp_unsigned(">=", k, chain), found, check)
    b.position_at_end(check)
    data_start = b.add(q, c(16))
    b.cbranch(b.icmp_unsigned("<=", data_start, end), plausible, at_end)
    b.position_at_end(plausible)
    record = b.add(buf, q)
    fraction = load_u32(b, b.add(record, c(4)), swap)
    caplen = load_u32(b, b.add(record, c(8)), swap)
    wirelen = load_u32(b, b.add(record, c(12)), swap)
    following = b.add(data_start, caplen)
    good = b.and_(b.and_(b.icmp_unsigned("<", fraction, fraction_limit), b.icmp_unsigned("<=", caplen, limit)),
                  b.and_(b.icmp_unsigned("<=", caplen, wirelen), b.icmp_unsigned("<=", following, end)))
    b.cbranch(good, advance, next_p)
    b.position_at_end(advance)
    q.add_incoming(following, advance)
    k.add_incoming(b.add(k, c(1)), advance)
    b.branch(inner)
    b.position_at_end(at_end)           # the chain ran out of buffer: exactly at its end is a chain
    b.cbranch(b.and_(b.icmp_unsigned("==", q, end), b.icmp_unsigned(">", k, c(0))), found, next_p)
    b.position_at_end(next_p)
    p.add_incoming(b.add(p, c(1)), next_p)
    b.branch(outer)
    b.position_at_end(found)
    b.ret(p)
    b.position_at_end(none)
    b.ret(end)

    # pcap_filter(buf, pos, end, swap, limit, max, offsets, caplens, wirelens, hosts, stop,
    # until, filter, state, results, out) -> bytes written to ``out``: pcap_walk batch
    # after batch (``stop`` as it leaves it), each run through ``filter`` — the vm JIT's
    # ``bpf_batch(state, hosts, lengths, n, results) -> runs completed`` — and its
    # accepted records gathered; stop[2] and stop[3] get the records walked and
    # accepted. A batch the filter does not finish stops it with STOP_FILTER (nothing of
    # that batch is gathered or counted). ``out`` must have room for every byte walked.
    batch_type = ir.FunctionType(i64, [i64] * 5)
    fused = ir.Function(module, ir.FunctionType(i64, [i64] * 6 + [p64] * 5 + [i64] * 3 + [p64, i64]),
                        name="pcap_filter")
    (buf, start, end, swap_flag, limit, most, offsets, caplens, wirelens, hosts, stop, until, function, state,
     results, out) = fused.args
    entry, loop, run_filter, count_loop, count_body, gathered, failed, finish = (
        fused.append_basic_block(x) for x in ("entry", "loop", "filter", "count", "count_body", "gathered",
                                              "failed", "finish"))
    b = ir.IRBuilder(entry)
    b.branch(loop)
    b.position_at_end(loop)
    pos, written, walked, accepted = b.phi(i64), b.phi(i64), b.phi(i64), b.phi(i64)
    for phi, value in ((pos, start), (written, c(0)), (walked, c(0)), (accepted, c(0))):
        phi.add_incoming(value, entry)
    count = b.call(walk, [buf, pos, end, swap_flag, limit, most, offsets, caplens, wirelens, hosts, stop, until])
    reason = b.load(b.gep(stop, [c(1)]))
    b.cbranch(b.icmp_unsigned("==", count, c(0)), finish, run_filter)
    b.position_at_end(run_filter)
    done = b.call(b.inttoptr(function, batch_type.as_pointer()),
                  [state, b.ptrtoint(hosts, i64), b.ptrtoint(caplens, i64), count, b.ptrtoint(results, i64)])
    b.cbranch(b.icmp_unsigned("<", done, count), failed, count_loop)
    b.position_at_end(count_loop)
    i, ones = b.phi(i64), b.phi(i64)
    i.add_incoming(c(0), run_filter)
    ones.add_incoming(c(0), run_filter)
    b.cbranch(b.icmp_unsigned("<", i, count), count_body, gathered)
    b.position_at_end(count_body)
    nonzero = b.zext(b.icmp_unsigned("!=", b.load(b.gep(results, [i])), c(0)), i64)
    i.add_incoming(b.add(i, c(1)), count_body)
    ones.add_incoming(b.add(ones, nonzero), count_body)
    b.branch(count_loop)
    b.position_at_end(gathered)
    size = b.call(gather, [buf, offsets, caplens, results, count, b.add(out, written)])
    next_written, next_walked, next_accepted = b.add(written, size), b.add(walked, count), b.add(accepted, ones)
    pos.add_incoming(b.load(stop), gathered)
    for phi, value in ((written, next_written), (walked, next_walked), (accepted, next_accepted)):
        phi.add_incoming(value, gathered)
    b.cbranch(b.icmp_unsigned("==", reason, c(STOP_FULL)), loop, finish)
    b.position_at_end(failed)
    b.store(c(STOP_FILTER), b.gep(stop, [c(1)]))
    b.branch(finish)
    b.position_at_end(finish)
    final_written, final_walked, final_accepted = b.phi(i64), b.phi(i64), b.phi(i64)
    for block, values in ((loop, (written, walked, accepted)), (failed, (written, walked, accepted)),
                          (gathered, (next_written, next_walked, next_accepted))):
        for phi, value in zip((final_written, final_walked, final_accepted), values):
            phi.add_incoming(value, block)
    b.store(final_walked, b.gep(stop, [c(2)]))
    b.store(final_accepted, b.gep(stop, [c(3)]))
    b.ret(final_written)
    return module


@functools.cache
def native() -> Native | None:
    """The compiled loops, or ``None`` where llvmlite cannot compile for this machine.

    They come from the JIT's disk cache (:mod:`pybpf.vm.jit.native`) when this version
    of them was compiled before, which takes well under a millisecond and imports
    neither llvmlite nor the IR builder; the first time, they are compiled (a few
    milliseconds) and saved."""
    from pybpf.cache import files_digest
    from pybpf.vm.jit import JitUnsupported, native

    try:
        code = native.load("pcap", files_digest([Path(__file__)]),
                           lambda: native.object_code(str(_build_module()), OPT), _SYMBOLS)
    except (ImportError, JitUnsupported, RuntimeError, OSError):
        return None
    return Native(code, _WALK(code.address("pcap_walk")), _GATHER(code.address("pcap_gather")),
                  _DIFFER(code.address("pcap_differ")), _SYNC(code.address("pcap_sync")),
                  _FILTER(code.address("pcap_filter")))
