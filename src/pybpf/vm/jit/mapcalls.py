"""The code that calls a hash map's native functions (:mod:`pybpf.vm.jit.hashes`) from
compiled programs: bpf_map_lookup_elem through the lookup table's hash entries, and
bpf_map_update_elem / bpf_map_delete_elem, which otherwise always call back into Python.

Kept out of the translator proper: :func:`native_map_write` is its one hook for helper
calls, :func:`native_hash_lookup` one branch of its ``bpf_lookup``. A call is answered
natively when the map has native tables and its key (and an update's value) lies in the
calling frame's stack or in the packet; otherwise, or where the native function says LOOKUP_SLOW, the
helper callback answers as before.
"""

from __future__ import annotations

from typing import Any

from llvmlite import ir

from pybpf.isa import opcodes as o
from pybpf.vm.jit.abi import (
    D_DELETE,
    D_LOOKUP,
    D_UPDATE,
    D_VALUE_SIZE,
    K_HASH,
    LOOKUP_SLOTS,
    LOOKUP_SLOW,
    S_HELPER_FN,
    S_IN_BASE,
    S_IN_HOST,
    S_IN_LEN,
    S_LOOKUPS,
    S_NLOOKUPS,
)

I64 = ir.IntType(64)
STATE = I64.as_pointer()
#: bpf_map_update_elem, bpf_map_delete_elem
MAP_UPDATE_ELEM, MAP_DELETE_ELEM = 2, 3
NATIVE_MAP_WRITES = frozenset({MAP_UPDATE_ELEM, MAP_DELETE_ELEM})
#: the registers each call reads (r1-r4 for an update, r1-r2 for a delete), as mask bits
_READS = {MAP_UPDATE_ELEM: 0b11110, MAP_DELETE_ELEM: 0b110}
_WRITE_FN = "bpf_map_write"
_LOOKUP_TYPE = ir.FunctionType(I64, [STATE, I64])
_UPDATE_TYPE = ir.FunctionType(I64, [STATE, I64, I64, I64])
_DELETE_TYPE = ir.FunctionType(I64, [STATE, I64])
_HELPER_TYPE = ir.FunctionType(I64, [STATE, I64, I64, I64, I64, I64, I64])


def c64(value: int) -> ir.Constant:
    return ir.Constant(I64, value & ((1 << 64) - 1))


def _descriptor_call(b: ir.IRBuilder, descriptor: ir.Value, slot: int, kind: ir.FunctionType,
                     args: list[ir.Value]) -> ir.Value:
    table = b.inttoptr(descriptor, STATE)
    function = b.inttoptr(b.load(b.gep(table, [c64(slot)])), kind.as_pointer())
    return b.call(function, [table, *args])


def buffer_host(b: ir.IRBuilder, state: ir.Value, address: ir.Value, size: ir.Value, stack_base: ir.Value,
                stack_host: ir.Value) -> tuple[ir.Value, ir.Value]:
    """The host address of a helper's buffer of ``size`` bytes at ``address``, and
    whether all of it lies in the calling frame's stack or in the packet (the batch's
    input region: a key such as ``&ip->saddr``); elsewhere the callback answers."""
    rel = b.sub(address, stack_base)
    in_stack = b.icmp_unsigned("<=", rel, b.sub(c64(o.STACK_SIZE), size))
    in_base, in_host, in_len = (b.load(b.gep(state, [c64(slot)])) for slot in (S_IN_BASE, S_IN_HOST, S_IN_LEN))
    packet_rel = b.sub(address, in_base)
    in_packet = b.and_(b.icmp_unsigned("<=", size, in_len), b.icmp_unsigned("<=", packet_rel, b.sub(in_len, size)))
    host = b.select(in_stack, b.add(stack_host, rel), b.add(in_host, packet_rel))
    return host, b.or_(in_stack, in_packet)


def native_hash_lookup(b: ir.IRBuilder, state: ir.Value, kind: ir.Value, descriptor: ir.Value, key: ir.Value,
                       key_size: ir.Value, stack_base: ir.Value, stack_host: ir.Value) -> None:
    """In ``bpf_lookup``, for a table entry of ``kind``: return the native hash lookup's
    answer for a K_HASH entry whose key (``key_size`` bytes at ``key``) lies in the
    frame's stack or the packet; otherwise carry on (``b`` placed after the branch)."""
    fn = b.block.function
    hashed, other = fn.append_basic_block(), fn.append_basic_block()
    key_host, reachable = buffer_host(b, state, key, key_size, stack_base, stack_host)
    b.cbranch(b.and_(b.icmp_unsigned("==", kind, c64(K_HASH)), reachable), hashed, other)
    b.position_at_end(hashed)
    b.ret(_descriptor_call(b, descriptor, D_LOOKUP, _LOOKUP_TYPE, [key_host]))
    b.position_at_end(other)


def find_lookup_entry(b: ir.IRBuilder, state: ir.Value, handle: ir.Value, found: ir.Block,
                      missing: ir.Block) -> tuple[ir.Value, ir.Value]:
    """Emit the search of the run's lookup table (S_LOOKUPS, LOOKUP_SLOTS words an entry)
    for the map ``handle``: branches to ``missing`` where it has no entry, else leaves
    the builder in ``found``; returns the table and the entry's first slot there."""
    start = b.block
    head, body = start.function.append_basic_block(), start.function.append_basic_block()
    count = b.load(b.gep(state, [c64(S_NLOOKUPS)]))
    table = b.inttoptr(b.load(b.gep(state, [c64(S_LOOKUPS)])), STATE)
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64)
    i.add_incoming(c64(0), start)
    b.cbranch(b.icmp_unsigned("<", i, count), body, missing)
    b.position_at_end(body)
    entry = b.mul(i, c64(LOOKUP_SLOTS))
    i.add_incoming(b.add(i, c64(1)), body)
    b.cbranch(b.icmp_unsigned("==", b.load(b.gep(table, [entry])), handle), found, head)
    b.position_at_end(found)
    return table, entry


def _write_function(module: ir.Module) -> ir.Function:
    """``bpf_map_write(state, op, handle, key, value, flags, stack_base, stack_host)``:
    the update or delete ``op`` on the map ``handle`` by its native functions, or
    LOOKUP_SLOW (no native tables, a key or value neither in the frame's stack nor in
    the packet, or the native function's own SLOW)."""
    if _WRITE_FN in module.globals:
        return module.globals[_WRITE_FN]
    fn = ir.Function(module, ir.FunctionType(I64, [STATE, I64, I64, I64, I64, I64, I64, I64]), name=_WRITE_FN)
    fn.linkage = "internal"
    state, op, handle, key, value, flags, stack_base, stack_host = fn.args
    start, found, keyed, update, delete, slow = (fn.append_basic_block() for _ in range(6))
    b = ir.IRBuilder(start)
    table, entry = find_lookup_entry(b, state, handle, found, slow)
    # a hash map with native tables, the key in reach
    kind, key_size = b.load(b.gep(table, [b.add(entry, c64(1))])), b.load(b.gep(table, [b.add(entry, c64(2))]))
    descriptor = b.load(b.gep(table, [b.add(entry, c64(4))]))
    key_host, reachable = buffer_host(b, state, key, key_size, stack_base, stack_host)
    b.cbranch(b.and_(b.icmp_unsigned("==", kind, c64(K_HASH)), reachable), keyed, slow)
    b.position_at_end(keyed)
    b.cbranch(b.icmp_unsigned("==", op, c64(MAP_UPDATE_ELEM)), update, delete)
    b.position_at_end(update)                   # the value in reach too
    value_size = b.load(b.gep(b.inttoptr(descriptor, STATE), [c64(D_VALUE_SIZE)]))
    value_host, fits = buffer_host(b, state, value, value_size, stack_base, stack_host)
    call = fn.append_basic_block()
    b.cbranch(fits, call, slow)
    b.position_at_end(call)
    b.ret(_descriptor_call(b, descriptor, D_UPDATE, _UPDATE_TYPE, [key_host, value_host, flags]))
    b.position_at_end(delete)
    b.ret(_descriptor_call(b, descriptor, D_DELETE, _DELETE_TYPE, [key_host]))
    b.position_at_end(slow)
    b.ret(c64(LOOKUP_SLOW))
    return fn


def native_map_write(fb: Any, helper: int, args: list[ir.Value], helper_id: ir.Value) -> ir.Value:
    """The translator's hook for bpf_map_update_elem / bpf_map_delete_elem (``fb``: its
    function builder): the native answer, or the helper callback's where there is none
    (or where a register the call reads is not set: the callback raises the
    interpreter's error)."""
    b = fb.b
    reads = _READS[helper]
    ready = b.icmp_unsigned("==", b.and_(b.load(fb.mask), c64(reads)), c64(reads))
    native_bb, slow_bb, done_bb = (fb.ir_fn.append_basic_block() for _ in range(3))
    b.cbranch(ready, native_bb, slow_bb)
    b.position_at_end(native_bb)
    answer = b.call(_write_function(fb.t.module), [fb.state, c64(helper), args[0], args[1], args[2], args[3],
                                                   fb.stack_base, b.ptrtoint(fb.stack, I64)])
    b.cbranch(b.icmp_unsigned("!=", answer, c64(LOOKUP_SLOW)), done_bb, slow_bb)
    b.position_at_end(slow_bb)
    state = fb.state
    callback = b.inttoptr(b.load(b.gep(state, [c64(S_HELPER_FN)])), _HELPER_TYPE.as_pointer())
    called = b.call(callback, [state, helper_id, *args])
    b.branch(done_bb)
    b.position_at_end(done_bb)
    value = b.phi(I64)
    value.add_incoming(answer, native_bb)
    value.add_incoming(called, slow_bb)
    return value
