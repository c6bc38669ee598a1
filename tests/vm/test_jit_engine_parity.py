"""Programs loaded with ``pybpf.load(..., engine="vm")`` run on the JIT with the
interpreter's answers: the same return values, output packets, output contexts, maps
and errors, packet after packet — for the replay programs (XDP parsers with bounds
checks, header rewrites, adjust_head/tail, tc programs writing ``__sk_buff`` fields,
socket filters), global data (``lddw`` map-value references), tail-call chains that
mix JIT and interpreter, and random verified programs of every program type the
verifier generator makes (maps, helpers, ring buffers, packets, bpf-to-bpf calls).

``PYBPF_JIT_ENGINE_FUZZ=N`` runs N random programs (default 400, of which about a quarter verify)."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import sys
import types
from pathlib import Path

import pytest

import pybpf
from pybpf.engine import VerifierError
from pybpf.object import CollectionSpec, ProgramSpec, ProgramType
from pybpf.vm.helpers import misc

sys.path.insert(0, str(Path(__file__).parents[1] / "replay"))
sys.path.insert(0, str(Path(__file__).parents[1] / "verifier"))
sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))

from generator import MAPS, Generator  # noqa: E402
from test_replay_engines import PROGRAMS, generated_packets  # noqa: E402
from test_tail_call_chains import SOURCE as CHAINS  # noqa: E402

pytest.importorskip("llvmlite.binding")

FUZZ = int(os.environ.get("PYBPF_JIT_ENGINE_FUZZ", "400"))


def _contents(coll: pybpf.Collection) -> dict:
    """Every map's state: entries, queued values, ring-buffer records, perf samples."""
    out = {}
    for name, m in coll.maps.items():
        held = [list(getattr(m, field)) for field in ("records", "samples") if hasattr(m, field)]
        items = m.items
        try:
            out[name] = (sorted(items()) if callable(items) else list(items)), held
        except pybpf.PybpfError:
            out[name] = None, held
    return out


def _runs(coll: pybpf.Collection, name: str, inputs: list[tuple[bytes, bytes | None]]) -> list:
    program = coll.programs[name]
    results = []
    for data, ctx in inputs:
        try:
            r = program.test_run(data, ctx=ctx, data_out_size=len(data) + 512, ctx_out_size=256)
            results.append((r.retval, r.data_out, r.ctx_out))
        except pybpf.PybpfError as exc:
            results.append((type(exc).__name__, str(exc)))
    return results


def both_engines(spec: CollectionSpec, name: str, inputs: list[tuple[bytes, bytes | None]],
                 require_jit: bool = True) -> tuple[tuple, tuple]:
    """(results, maps) on the interpreter and on the JIT."""
    outcomes = []
    for jit in (False, True):
        with pybpf.load(spec, engine="vm", jit=jit) as coll, _same_time_and_chance():
            if jit and require_jit:
                assert coll.programs[name].compiled() is not None, "the JIT did not compile the program"
            outcomes.append((_runs(coll, name, inputs), _contents(coll)))
    return outcomes[0], outcomes[1]


@contextlib.contextmanager
def _same_time_and_chance():
    """bpf_ktime_get_ns and bpf_get_prandom_u32 give the same sequence on both engines."""
    ticks = itertools.count(1_000_000, 1000)
    saved = misc.time
    misc.time = types.SimpleNamespace(monotonic_ns=lambda: next(ticks))
    random.seed(1)
    try:
        yield
    finally:
        misc.time = saved


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_replay_programs_agree(name):
    spec = pybpf.read(PROGRAMS[name], name=name)
    packets = [(p, None) for p in generated_packets(5, 250)]
    interpreted, compiled = both_engines(spec, "prog", packets)
    assert compiled == interpreted
    assert any(isinstance(r[0], int) and r[0] for r in compiled[0])   # not a vacuous agreement


GLOBALS = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
u64 packets = 0, bytes_seen = 0;
const volatile u32 limit = 80;
char seen[16] = {};
SEC("xdp")
int prog(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    packets++;
    bytes_seen += end - data;
    if (data + 1 <= end)
        seen[packets & 15] = *(unsigned char *)data;
    return end - data > limit ? XDP_DROP : XDP_PASS;
}
LICENSE("GPL");
"""


def test_global_data_agrees():
    spec = pybpf.read(GLOBALS, name="globals")
    packets = [(p, None) for p in generated_packets(6, 60)]
    interpreted, compiled = both_engines(spec, "prog", packets)
    assert compiled == interpreted
    assert any(any(v) for _, v in compiled[1]["globals.bss"][0])


def test_tail_call_chains_mixing_jit_and_interpreter():
    """A chain whose middle program is interpreted shares the context, packet and stack
    with the compiled ones around it (the run state moves with it)."""
    spec = pybpf.read(CHAINS, name="chains")
    packet = bytes(range(64))
    results = {}
    for mode in ("interpreter", "jit", "mixed"):
        with pybpf.load(spec, engine="vm", jit=mode != "interpreter") as coll:
            if mode == "mixed":
                coll.programs["second"].jit = False
            coll.maps["jmp"][0] = coll.programs["self_loop"]
            coll.maps["jmp"][2] = coll.programs["second"]
            runs = [coll.programs[p].test_run(packet, ctx_out_size=192) for p in ("first", "self_loop")]
            results[mode] = [(r.retval, r.data_out, r.ctx_out) for r in runs], list(coll.maps["hops"].items())
            if mode == "mixed":
                assert coll.programs["first"].compiled() is not None and coll.programs["second"].compiled() is None
    assert results["jit"] == results["interpreter"] == results["mixed"]


def _generated_inputs(kind: ProgramType, rng: random.Random) -> list[tuple[bytes, bytes | None]]:
    if kind in (ProgramType.XDP, ProgramType.SCHED_CLS, ProgramType.SCHED_ACT, ProgramType.SOCKET_FILTER,
                ProgramType.CGROUP_SKB, ProgramType.LWT_XMIT, ProgramType.LWT_IN, ProgramType.SK_SKB):
        return [(p, None) for p in generated_packets(rng.randrange(1 << 30), 4) if len(p) >= 14]
    return [(b"", bytes(rng.randrange(256) for _ in range(rng.choice((0, 64, 256))))) for _ in range(3)]


def test_random_verified_programs_agree():
    generator = Generator(31_337)
    rng = random.Random(7)
    compared = 0
    differences = []
    for n in range(FUZZ):
        generated = generator.program()
        maps = {m.name: m for m in MAPS}
        program = ProgramSpec("prog", generated.kind, generated.instructions, references=generated.references)
        spec = CollectionSpec(maps, {"prog": program})
        try:
            inputs = _generated_inputs(generated.kind, rng)
            interpreted, compiled = both_engines(spec, "prog", inputs, require_jit=False)
        except VerifierError:
            continue
        compared += 1
        if interpreted != compiled:
            differences.append(f"program {n} ({generated.kind}):\n{generated.text}\ninterpreter {interpreted}\n"
                               f"JIT {compiled}")
    assert not differences, "\n\n".join(differences[:3])
    assert compared >= FUZZ // 6, f"only {compared} of {FUZZ} programs verified"


def test_forcing_the_interpreter(monkeypatch):
    spec = pybpf.read(PROGRAMS["socket_len"], name="socket_len")
    with pybpf.load(spec, engine="vm", jit=False) as coll:
        assert coll.programs["prog"].compiled() is None
    monkeypatch.setenv("PYBPF_VM_JIT", "off")
    with pybpf.load(spec, engine="vm") as coll:
        assert coll.programs["prog"].compiled() is None
    monkeypatch.delenv("PYBPF_VM_JIT")
    with pybpf.load(spec, engine="vm") as coll:
        assert coll.programs["prog"].compiled() is not None


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_replay_batches_agree_with_the_interpreter(name):
    """pybpf.replay over a capture: the JIT's native packet loop (run_packets: frames,
    contexts, helpers, adjust_head/tail, skipped runts and cut headers) gives the
    interpreter's per-packet results and final maps."""
    from pybpf.replay import replay

    spec = pybpf.read(PROGRAMS[name], name=name)
    packets = generated_packets(8, 400)
    outcomes = []
    for jit in (False, True):
        with pybpf.load(spec, engine="vm", jit=jit) as coll:
            program = coll.programs["prog"]
            assert (program.run_packets(packets[:1]) is not None) == jit
            outcomes.append((list(replay(program, packets)), _contents(coll)))
    assert outcomes[1] == outcomes[0]
    assert any(r.error for r in outcomes[1][0]) and any(not r.error for r in outcomes[1][0])


def test_replay_batch_faults_raise_as_test_run_does(monkeypatch):
    """A packet whose run fails (here a helper's error on the fifth call) stops the
    replay with the interpreter's error, after the packets before it."""
    from pybpf.isa.helpers import helper_id
    from pybpf.replay import replay
    from pybpf.vm import HELPERS, VMError

    source = PROGRAMS["xdp_parser"].replace("u64 one = 1,", "u64 one = bpf_get_prandom_u32() & 0,")
    spec = pybpf.read(source, name="faulty")
    packets = [p for p in generated_packets(9, 300) if len(p) >= 34 and p[12:14] == b"\x08\x00"]
    seen = []
    for jit in (False, True):
        def failing(vm, *_, calls=itertools.count(1)):  # noqa: B008 (a new count per engine)
            if next(calls) == 5:
                raise VMError("the fifth call fails")
            return 4

        monkeypatch.setitem(HELPERS, helper_id("bpf_get_prandom_u32"), failing)
        with pybpf.load(spec, engine="vm", jit=jit) as coll:
            results = []
            with pytest.raises(VMError) as error:
                for result in replay(coll.programs["prog"], packets):
                    results.append(result)
            seen.append((results, str(error.value), _contents(coll)))
    assert seen[1] == seen[0]
    assert len(seen[1][0]) == 4 and "the fifth call fails" in seen[1][1]
