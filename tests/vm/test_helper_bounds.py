"""Helpers held to the kernel's contracts and to bounded time and memory: probe reads of
strings longer than the buffer, sizes no buffer has, ring buffer records a program never
released."""

from __future__ import annotations

import pytest

from pybpf.engine import load
from pybpf.isa import assemble
from pybpf.object import CollectionSpec, MapSpec, ProgramSpec
from pybpf.vm import VMError, run_program

#: "hello world" on the stack at r10-16, then bpf_probe_read_kernel_str(r10-32, SIZE, r10-16)
_PROBE_STR = """
    r1 = 0x6f77206f6c6c6568 ll
    *(u64 *)(r10 - 16) = r1
    r1 = 0x646c72
    *(u64 *)(r10 - 8) = r1
    r1 = 0
    *(u64 *)(r10 - 32) = r1
    *(u64 *)(r10 - 24) = r1
    r1 = r10
    r1 += -32
    r2 = {size}
    r3 = r10
    r3 += -16
    call bpf_probe_read_kernel_str
    r6 = r0
    r7 = *(u64 *)(r10 - 32)
    r8 = *(u64 *)(r10 - 24)
    r0 = {result}
    exit
"""


def _probe_str(size: int) -> tuple[int, bytes]:
    """(r0, the 16-byte destination) after the probe read."""
    values = [run_program(assemble(_PROBE_STR.format(size=size, result=reg)), jit=False).retval
              for reg in ("r6", "r7", "r8")]
    return values[0], values[1].to_bytes(8, "little") + values[2].to_bytes(8, "little")


@pytest.mark.parametrize("size, copied", [
    (6, b"hello\0"),                  # a longer source: size - 1 bytes and a NUL, r0 = size
    (1, b"\0"),
    (12, b"hello world\0"),           # exactly the string and its NUL
    (16, b"hello world\0"),           # a shorter source: the string, its NUL, r0 = 12
])
def test_probe_read_str_copies_at_most_size_minus_one_bytes_and_a_nul(size, copied):
    r0, buffer = _probe_str(size)
    assert r0 == len(copied)
    assert buffer == copied.ljust(16, b"\0")


@pytest.mark.parametrize("size", [0x4000000000000000, 1 << 32, 33])
def test_a_size_larger_than_the_buffer_is_a_vm_error_not_a_huge_copy(size):
    program = assemble(f"r1 = r10\nr1 += -8\nr2 = {size} ll\nr3 = 0\ncall bpf_probe_read_kernel\nr0 = 0\nexit")
    with pytest.raises(VMError, match="out-of-bounds write of .* region 'stack'") as caught:
        run_program(program, jit=False)
    assert caught.value.index == 5


def test_unreleased_ring_buffer_records_are_given_back_when_the_program_ends():
    program = assemble("""
        r1 = map[fd:0]
        r2 = 3000
        r3 = 0
        call bpf_ringbuf_reserve
        if r0 == 0 goto failed
        r0 = 1
        exit
    failed:
        r0 = 2
        exit
    """)
    refs = {i: "events" for i, ins in enumerate(program) if ins.is_lddw and ins.src == 1}
    spec = CollectionSpec.of(MapSpec("events", "ringbuf", max_entries=4096),
                             ProgramSpec("leak", "socket_filter", program, references=refs))
    with load(spec, engine="vm") as coll:
        results = [coll.programs["leak"].test_run(bytes(64)).retval for _ in range(3)]
        assert results == [1, 1, 1]
        assert coll.maps["events"].drain() == []
