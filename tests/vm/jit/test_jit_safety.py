"""The JIT gives what the interpreter gives where it once did not (issue 12): a stack
that starts zeroed (never host memory), helpers that reach memory and maps, and the
interpreter's fault messages and instruction counts."""

from __future__ import annotations

import pytest

from pybpf.isa import assemble
from pybpf.object import MapSpec, MapType
from pybpf.vm import VMError, run_program
from pybpf.vm.helpers import HELPERS
from pybpf.vm.maps import create_map
from pybpf.vm.program import CheckedProgram
from shared_data import SHARED

REPRODUCERS = SHARED / "reproducers"


def outcomes(program, mem=b"", **options):
    """(r0, output, instructions) or the error text, from the interpreter then the JIT."""
    found = []
    for jit in (False, True):
        try:
            result = run_program(program, mem, jit=jit, **options)
            found.append((result.retval, result.output, result.instructions))
        except VMError as exc:
            found.append(str(exc))
    return found


def same(program, mem=b"", **options):
    interpreted, compiled = outcomes(program, mem, **options)
    assert compiled == interpreted
    return compiled


@pytest.mark.parametrize("length", [8, 16, 64, 256, 504])
def test_the_stack_starts_zeroed(length):
    text = (REPRODUCERS / "jit_uninit_stack_leak.asm").read_text() if REPRODUCERS.is_dir() else \
        "r1 = r10\nr1 -= r2\nr0 = *(u64 *)(r1 +0)\nexit"
    assert same(assemble(text), bytes(length)) == (0, (), 4)


def test_branches_on_unwritten_stack_slots():
    # LLVM took such reads for undefined values: both branches were fair game
    program = assemble("r0 = *(u64 *)(r10 -16)\nif r0 == 0 goto +2\nr0 = 1\nexit\nr0 = *(u32 *)(r10 -300)\n"
                       "r0 += 7\nexit")
    assert same(program) == (7, (), 5)


def test_probe_read_from_the_jit():
    text = (REPRODUCERS / "jit_helper_attributeerror.asm").read_text() if REPRODUCERS.is_dir() else \
        ("r1 = r10\nr1 += -8\nr2 = 8\nr3 = r10\nr3 += -16\n*(u64 *)(r10 -16) = 7\ncall bpf_probe_read_kernel\n"
         "r0 = *(u64 *)(r10 -8)\nexit")
    assert same(assemble(text))[0] == 7


def test_skb_load_bytes_and_a_string_probe_read():
    program = assemble("r6 = r1\nr1 = 0\nr2 = 2\nr3 = r10\nr3 += -8\nr4 = 4\ncall bpf_skb_load_bytes\n"
                       "r1 = r10\nr1 += -24\nr2 = 16\nr3 = r6\ncall bpf_probe_read_kernel_str\n"
                       "r1 = *(u32 *)(r10 -8)\nr0 <<= 32\nr0 |= r1\nexit")
    result = same(program, b"\x01\x02\x03\x04\x05\x06\x00")
    assert result[0] == (7 << 32) | 0x06050403


def test_a_user_helper_that_writes_memory():
    def fill(vm, address, size, *_):
        vm.memory.write_bytes(address, bytes(range(1, size + 1)))
        return size

    table = {**HELPERS, 7: fill}  # bpf_get_prandom_u32's id, taken over by the test
    program = CheckedProgram(assemble("r1 = r10\nr1 += -8\nr2 = 8\ncall 7\nr0 = *(u64 *)(r10 -8)\nexit"), table)
    assert same(program, helpers=table)[0] == int.from_bytes(bytes(range(1, 9)), "little")


def _maps_program(text, *specs):
    maps = {}
    for spec in specs:
        made = create_map(spec)
        maps[made.id] = made
    ids = list(maps)
    return CheckedProgram(assemble(text.format(*ids)), HELPERS, maps), [maps[i] for i in ids]


def same_with_maps(text, *specs):
    """:func:`same` for a program with maps, each engine with maps of its own; the
    outcome and each engine's maps."""
    found, maps = [], []
    for jit in (False, True):
        program, made = _maps_program(text, *specs)
        try:
            result = run_program(program, jit=jit)
            found.append((result.retval, result.output, result.instructions))
        except VMError as exc:
            found.append(str(exc))
        maps.append(made)
    assert found[0] == found[1]
    return found[1], maps


def test_map_values_are_read_and_written_by_compiled_code():
    text = ("r1 = map[fd:{0}]\n*(u32 *)(r10 -4) = 0\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\n"
            "if r0 == 0 goto +4\nr1 = *(u64 *)(r0 +0)\nr1 += 5\n*(u64 *)(r0 +0) = r1\nr0 = *(u64 *)(r0 +0)\nexit")
    spec = MapSpec("jit_values", MapType.ARRAY, 4, 8, 1)
    result, maps = same_with_maps(text, spec)
    assert result[0] == 5
    assert [array._lookup(bytes(4)) for (array,) in maps] == [(5).to_bytes(8, "little")] * 2
    # past the value's end: the interpreter's out-of-bounds message for the map's region
    result, _ = same_with_maps(text.replace("*(u64 *)(r0 +0) = r1", "*(u64 *)(r0 +4) = r1"), spec)
    assert "out-of-bounds write of 8 bytes" in result


def test_ring_buffer_and_stack_id():
    text = ("r1 = map[fd:{0}]\nr2 = 16\nr3 = 0\ncall bpf_ringbuf_reserve\nif r0 == 0 goto +5\n"
            "*(u64 *)(r0 +8) = 42\nr1 = r0\nr2 = 0\ncall bpf_ringbuf_submit\nr0 = 0\n"
            "r1 = 0\nr2 = map[fd:{1}]\nr3 = 0\ncall bpf_get_stackid\nexit")
    _, maps = same_with_maps(text, MapSpec("jit_ring", MapType.RINGBUF, 0, 0, 4096),
                             MapSpec("jit_stacks", MapType.STACK_TRACE, 4, 64, 16))
    assert [ring.drain() for ring, _ in maps] == [[(42 << 64).to_bytes(16, "little")]] * 2
    assert maps[0][1].entries == maps[1][1].entries != {}


def test_tail_call_through_an_empty_slot_and_a_bad_handle():
    text = "r2 = map[fd:{0}]\nr3 = 1\ncall bpf_tail_call\nr0 += 3\nexit"
    result, _ = same_with_maps(text, MapSpec("jit_progs", MapType.PROG_ARRAY, 4, 4, 2))
    assert result[0] == ((-2) + 3) & (2**64 - 1)     # -ENOENT, then the caller goes on
    assert "not a map" in same(assemble("r1 = 0\nr2 = 9\nr3 = 0\ncall bpf_tail_call\nexit"))


@pytest.mark.parametrize("text, mem, expected", [
    ("r1 = 5\n*(u32 *)(r1 +0) = r1\nr0 = 0\nexit", b"", "invalid write of 4 bytes"),
    ("r0 = 0\n*(u16 *)(r10 +2) = r0\nexit", b"", "invalid write of 2 bytes"),
    ("r0 = 0\n*(u64 *)(r10 -516) = r0\nexit", b"", "invalid write of 8 bytes"),
    ("r0 = 0\nr1 = r10\nr1 += -4\n*(u64 *)(r1 +0) = r0\nexit", b"", "out-of-bounds write of 8 bytes"),
    ("r0 = 0\n*(u64 *)(r10 -12) = r0\nexit", b"", "misaligned write of 8 bytes"),
    ("r0 = r7\nexit", b"", "reads r7, which has not been written"),
    ("r0 = 1\nr0 += r4\nexit", b"", "reads r4, which"),
    ("r2 = r3\nr2 += r5\nexit", b"", "reads r3, which"),
    ("r0 = 1\n*(u64 *)(r1 +0) = r6\nexit", b"12345678", "reads r6"),
    ("call bpf_probe_read_kernel\nexit", b"", "reads r3 or r4 or r5, which has not been written"),
    ("r1 = 77777\ncallx r1\nexit", b"", "callx r1: 77777 is not a helper"),
    ("r3 = 3\nr1 = r3\nr0 = 0\nr0 = *(u16 *)skb[r1 + 6]\nr0 = 5\nr0 += 1\nexit", b"\x00" * 7, None),
    ("r0 = *(u8 *)skb[0]\nr0 = 5\nr0 = *(u8 *)skb[9]\nr1 = 1\nexit", b"\x00", None),
])
def test_fault_messages_and_counts_match(text, mem, expected):
    result = same(assemble(text), mem)
    if expected is not None:
        assert expected in result
