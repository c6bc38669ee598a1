"""The front door: ``pybpf.read`` → ``pybpf.load`` → ``Program.attach`` → maps and
``pybpf.Events``, the same calls on both engines."""

from __future__ import annotations

import os
import struct

import pytest

import pybpf

ROOT = os.geteuid() == 0
needs_kernel = pytest.mark.skipif(not ROOT, reason="the kernel engine needs root (bpf())")
ENGINES = ["vm", pytest.param("kernel", marks=needs_kernel)]

EVENTS_C = r"""
#include <pybpf/bpf.h>

struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } ring SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, 4); __uint(value_size, 4); } perf SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, u64); } runs SEC(".maps");

struct record { u64 seq; u32 len; u32 tag; };

SEC("socket")
int send(struct __sk_buff *skb)
{
    u32 zero = 0;
    u64 *count = bpf_map_lookup_elem(&runs, &zero);
    if (!count)
        return 0;
    struct record r = { .seq = __sync_fetch_and_add(count, 1), .len = skb->len, .tag = 0xfeed };
    bpf_ringbuf_output(&ring, &r, sizeof(r), 0);
    r.tag = 0xbeef;
    bpf_perf_event_output(skb, &perf, BPF_F_CURRENT_CPU, &r, sizeof(r));
    return skb->len;
}
LICENSE("GPL");
"""

RECORD = struct.Struct("<QII")


@pytest.fixture(scope="module")
def events_spec(module_cache):
    return pybpf.read(EVENTS_C)


def test_read_tells_sources_apart(tmp_path):
    asm = pybpf.read("r0 = 7\nexit\n", type="xdp", name="seven")
    assert list(asm.programs) == ["seven"] and asm.programs["seven"].type == pybpf.ProgramType.XDP
    raw = bytes.fromhex("b700000007000000" "9500000000000000")
    assert pybpf.read(raw).programs["prog"].instructions == asm.programs["seven"].instructions
    path = tmp_path / "seven.asm"
    path.write_text("r0 = 7\nexit\n")
    assert list(pybpf.read(path).programs) == ["seven"]
    assert list(pybpf.read(str(path)).programs) == ["seven"]


def test_read_errors_say_where():
    with pytest.raises(pybpf.PybpfError, match=r"missing\.c: no such file"):
        pybpf.read("missing.c")
    with pytest.raises(pybpf.PybpfError, match=r"<bytes>: 5 bytes is not a whole number"):
        pybpf.read(b"\x01\x02\x03\x04\x05")


@pytest.mark.parametrize("engine", ENGINES)
def test_events_on_both_engines(events_spec, engine):
    with pybpf.load(events_spec, engine=engine) as coll:
        prog = coll.programs["send"]
        assert prog.engine == engine
        with pybpf.Events(coll.maps["ring"], coll.maps["perf"]) as events:
            for size in (60, 61, 62):       # a socket filter sees the packet past its Ethernet header
                assert prog.test_run(bytes(size)).retval == size - 14
            got = []
            while len(got) < 6:
                batch = events.poll(timeout=2.0)
                assert batch, f"only {len(got)} of 6 records arrived"
                got.extend(batch)
            assert events.lost == 0
        # perf samples come zero-padded to whole words (4-byte size + 16 bytes → 20), as the kernel sends them
        assert {len(e.data) for e in got} == {16, 20}
        by_source = {name: [RECORD.unpack(e.data[:16]) for e in got if e.source == name] for name in ("ring", "perf")}
        assert by_source["ring"] == [(0, 46, 0xfeed), (1, 47, 0xfeed), (2, 48, 0xfeed)]
        assert sorted(by_source["perf"]) == [(0, 46, 0xbeef), (1, 47, 0xbeef), (2, 48, 0xbeef)]
        assert all(e.cpu is None for e in got if e.source == "ring")
        assert all(isinstance(e.cpu, int) for e in got if e.source == "perf")
        assert coll.maps["runs"][0] == 3


@pytest.mark.parametrize("engine", ENGINES)
def test_events_decode_and_numpy(events_spec, engine):
    numpy = pytest.importorskip("numpy")
    import ctypes

    class Record(ctypes.Structure):
        _fields_ = [("seq", ctypes.c_uint64), ("len", ctypes.c_uint32), ("tag", ctypes.c_uint32)]

    with pybpf.load(events_spec, engine=engine) as coll:
        prog = coll.programs["send"]
        with pybpf.Events(coll.maps["ring"], decode=Record) as events:
            prog.test_run(bytes(70))
            (event,) = events.poll(timeout=2.0)
            assert (event.value.seq, event.value.len, event.value.tag) == (0, 56, 0xfeed)
        with pybpf.Events(coll.maps["ring"]) as events:
            for _ in range(4):
                prog.test_run(bytes(64))
            array = events.read_array(numpy.dtype([("seq", "<u8"), ("len", "<u4"), ("tag", "<u4")]))
            assert array["seq"].tolist() == [1, 2, 3, 4] and set(array["len"].tolist()) == {50}


@pytest.mark.parametrize("engine", ENGINES)
def test_run_callback_form(events_spec, engine):
    with pybpf.load(events_spec, engine=engine) as coll, pybpf.Events(coll.maps["ring"]) as events:
        coll.programs["send"].test_run(bytes(80))
        seen = []
        assert events.run(seen.append, duration=0.5) == 1
        assert RECORD.unpack(seen[0].data)[1] == 66


def test_events_refuse_other_maps(events_spec):
    with pybpf.load(events_spec, engine="vm") as coll:
        with pytest.raises(pybpf.BPFError, match=r"map 'runs'.*carry no events"):
            pybpf.Events(coll.maps["runs"])


def test_vm_programs_say_why_they_cannot_attach(events_spec):
    with pybpf.load(events_spec, engine="vm") as coll:
        with pytest.raises(pybpf.EngineUnavailable, match=r"vm engine, which has no kernel hooks.*engine='kernel'"):
            coll.programs["send"].attach()


COUNT_C = r"""
#include <pybpf/bpf.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, u64); } hits SEC(".maps");
const volatile u32 target_tgid = 0;

SEC("tracepoint/syscalls/sys_enter_getppid")
int count(void *ctx)
{
    if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
        return 0;
    u32 zero = 0;
    u64 *n = bpf_map_lookup_elem(&hits, &zero);
    if (n)
        __sync_fetch_and_add(n, 1);
    return 0;
}
LICENSE("GPL");
"""


@needs_kernel
def test_attach_returns_a_link_that_detaches(module_cache, tmp_path):
    path = tmp_path / "count.c"
    path.write_text(COUNT_C.replace("target_tgid = 0", f"target_tgid = {os.getpid()}"))
    with pybpf.load(path, engine="kernel") as coll:
        link = coll.programs["count"].attach()
        assert isinstance(link, pybpf.Link)
        with link:
            for _ in range(5):
                os.getppid()
        assert link.closed
        os.getppid()
        assert coll.maps["hits"][0] == 5


@needs_kernel
def test_readme_python_runs_as_shown(module_cache, capsys):
    from shared_data import REPO

    text = (REPO / "README.md").read_text()
    block = text.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(block, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "3"
