"""Kernel-only map behaviour: maps of maps and program arrays holding fds, mmap-able
arrays, ring buffers, perf event arrays, stack traces, fds and the kernel's messages.
The semantics every engine shares are in tests/engine/test_engine_maps.py."""

from __future__ import annotations

import errno
import os
import sys
import threading

import pytest
from sample_programs import returns

from pybpf.engine import BPFError, possible_cpus
from pybpf.kernel.maps import create_map
from pybpf.kernel.programs import load_program
from pybpf.object import MapFlag, MapSpec, MapType

pytestmark = pytest.mark.usefixtures("bpf_permitted", "no_fd_leak")


def test_map_in_map_holds_inner_maps_and_reads_their_ids():
    inner = MapSpec("inner", MapType.ARRAY, 4, 4, 1)
    with create_map(MapSpec("outer", MapType.ARRAY_OF_MAPS, 4, 4, 2, inner=inner)) as outer, \
            create_map(inner) as a:
        outer[0] = a
        assert outer[0] == a.id
        with create_map(MapSpec("other", MapType.ARRAY, 4, 8, 1)) as wrong:
            with pytest.raises(BPFError) as caught:
                outer[1] = wrong
            assert caught.value.errno == errno.EINVAL
    with create_map(MapSpec("hom", MapType.HASH_OF_MAPS, 4, 4, 2, inner=inner)) as outer, \
            create_map(inner) as a:
        outer[7] = a.fd
        assert dict(outer.items()) == {7: a.id}


def test_mmapable_array_shares_memory_with_lookups():
    spec = MapSpec("mm", MapType.ARRAY, 4, 8, 4, flags=MapFlag.MMAPABLE)
    with create_map(spec) as m:
        mem = m.memory()
        mem[8:16] = (42).to_bytes(8, "little")
        assert m[1] == 42
        m[2] = 7
        assert int.from_bytes(mem[16:24], "little") == 7
    with create_map(MapSpec("plain", MapType.ARRAY, 4, 8, 1)) as m:
        with pytest.raises(BPFError, match="MMAPABLE"):
            m.memory()


def test_ring_buffer_and_perf_event_array_and_stack_trace_creation():
    with create_map(MapSpec("rb", MapType.RINGBUF, max_entries=4096 * 4)) as rb:
        assert rb.info().max_entries == 4096 * 4
    with create_map(MapSpec("pea", MapType.PERF_EVENT_ARRAY, 4, 4, possible_cpus())) as pea:
        assert pea.info().type == MapType.PERF_EVENT_ARRAY
    with create_map(MapSpec("st", MapType.STACK_TRACE, 4, 8 * 127, 16)) as st:
        assert list(st.keys()) == []


def test_prog_array_holds_programs_and_refuses_other_fds():
    with create_map(MapSpec("jmp", MapType.PROG_ARRAY, 4, 4, 2)) as jmp, \
            create_map(MapSpec("x", MapType.ARRAY, 4, 4, 1)) as not_prog, \
            load_program(returns(1)) as prog:
        jmp[1] = prog
        assert jmp[1] == prog.id and 0 not in jmp and len(jmp) == 1
        with pytest.raises(BPFError) as caught:
            jmp[0] = not_prog.fd
        assert caught.value.errno == errno.EINVAL
        del jmp[1]
        assert list(jmp.items()) == []


def test_map_closes_its_fd_and_is_idempotent():
    m = create_map(MapSpec("c", MapType.ARRAY, 4, 4, 1))
    fd = m.fd
    m.close()
    m.close()
    assert m.closed
    with pytest.raises(OSError):
        os.fstat(fd)


def test_create_einval_names_the_attributes():
    with pytest.raises(BPFError) as caught:
        create_map(MapSpec("big", MapType.HASH, 4, 4, 0))
    assert caught.value.errno == errno.EINVAL
    assert "hash map with key_size 4, value_size 4, max_entries 0" in str(caught.value)



def test_threads_may_share_a_map():
    wrong: list[int] = []
    with create_map(MapSpec("shared", MapType.HASH, 4, 8, 4000)) as m:
        def writer(base: int) -> None:
            for k in range(base, base + 1000):
                m[k] = k * 3
                if m[k] != k * 3:
                    wrong.append(k)

        threads = [threading.Thread(target=writer, args=(base,)) for base in (0, 1000, 2000, 3000)]
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # switch threads often, so an unguarded race shows
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            sys.setswitchinterval(interval)
        assert not wrong
        assert dict(m.items()) == {k: k * 3 for k in range(4000)}
