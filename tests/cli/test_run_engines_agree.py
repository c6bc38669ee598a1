"""``pybpf run`` answers the same on both engines: random socket filters (ALU on 64 and
32 bits, shifts, division, legacy packet loads, context reads, forward branches) run
through the command line on the kernel and on the vm, and every JSON field but the
engine's name and the timing must match — and so must the human output."""

from __future__ import annotations

import json
import os
import random

import pytest

from pybpf.cli import main

KERNEL = pytest.mark.skipif(os.geteuid() != 0, reason="the kernel engine needs root")
VALUES = ("r0", "r7", "r8", "r9")    # r1-r5 are clobbered by legacy packet loads; r6 holds the context
ALU = ("+=", "-=", "*=", "|=", "&=", "^=")
PACKET = bytes(12) + b"\x08\x00" + bytes(random.Random(7).randrange(256) for _ in range(50))


def _operation(rng: random.Random) -> str:
    d, s = rng.choice(VALUES), rng.choice(VALUES)
    imm = rng.choice([rng.randrange(-(1 << 31), 1 << 31), rng.randrange(-16, 16)])
    kind = rng.randrange(9)
    if kind == 0:
        return f"{d} {rng.choice(ALU)} {imm}"
    if kind == 1:
        return f"{d} {rng.choice(ALU + ('/=', '%='))} {s}"     # by a register: x / 0 = 0, x % 0 = x
    if kind == 2:
        return f"w{d[1]} {rng.choice(ALU + ('/=', '%='))} w{s[1]}"
    if kind == 3:
        return f"{d} {rng.choice(('/=', '%='))} {rng.randrange(1, 1 << 31)}"
    if kind == 4:
        return f"{d} {rng.choice(('<<=', '>>=', 's>>='))} {rng.randrange(64)}"
    if kind == 5:
        return f"w{d[1]} {rng.choice(('<<=', '>>=', 's>>='))} {rng.randrange(32)}"
    if kind == 6:
        size, width = rng.choice([("u8", 1), ("u16", 2), ("u32", 4)])
        return f"r0 = *({size} *)skb[{rng.randrange(len(PACKET) - 14 - width + 1)}]"
    if kind == 7:
        return f"{d} = *(u32 *)(r6 + {rng.choice((0, 16))})"   # len, protocol
    return f"if {d} {rng.choice(('>', '<', '==', '!=', 's>', '&'))} {imm} goto +1\n{d} = {s}"


def _program(seed: int) -> str:
    rng = random.Random(seed)
    lines = ["r6 = r1"] + [f"{r} = {rng.randrange(-(1 << 31), 1 << 31)}" for r in VALUES]
    lines += [_operation(rng) for _ in range(rng.randrange(5, 30))]
    return "\n".join(lines + [f"r0 = {rng.choice(VALUES)}", "exit", ""])


def _run(capsys, argv: list[str]) -> str:
    assert main(argv) == 0, capsys.readouterr().err
    return capsys.readouterr().out


@KERNEL
@pytest.mark.parametrize("seed", range(40))
def test_random_programs_answer_the_same_on_both_engines(tmp_path, capsys, seed):
    source, packet = tmp_path / f"p{seed}.asm", tmp_path / "packet.bin"
    source.write_text(_program(seed))
    packet.write_bytes(PACKET)
    answers = {}
    for engine in ("kernel", "vm"):
        argv = ["run", str(source), "--data", str(packet), "--engine", engine]
        result = json.loads(_run(capsys, [*argv, "--json"]))
        assert result.pop("engine") == engine and result.pop("duration_ns") >= 0
        human = _run(capsys, argv).replace(f"[{engine} engine]", "[ENGINE]").splitlines()
        human[1] = " ".join("N" if word.isdigit() and n == 1 else word for n, word in enumerate(human[1].split()))
        answers[engine] = (result, human)
    assert answers["vm"] == answers["kernel"], _program(seed)
    # a socket filter's test run: a 32-bit retval, the packet back with a zeroed Ethernet header
    assert answers["vm"][0]["retval"] < 1 << 32 and answers["vm"][0]["data_out"] == (bytes(14) + PACKET[14:]).hex()


@pytest.mark.parametrize("seed", range(3))
def test_auto_runs_a_test_run_on_the_vm_as_on_the_kernel(tmp_path, capsys, seed, monkeypatch):
    """Where bpf() is refused, ``--engine auto`` gives the vm the kernel's input convention."""
    import pybpf.kernel.engine as kernel_engine

    monkeypatch.setattr(kernel_engine, "available", lambda: "refused for this test")
    source, packet = tmp_path / "p.asm", tmp_path / "packet.bin"
    source.write_text(_program(seed))
    packet.write_bytes(PACKET)
    auto = json.loads(_run(capsys, ["run", str(source), "--data", str(packet), "--json"]))
    vm = json.loads(_run(capsys, ["run", str(source), "--data", str(packet), "--json", "--engine", "vm"]))
    assert auto["engine"] == "vm" and set(auto) == set(vm) >= {"retval", "data_out", "data_out_len", "repeat"}
    assert auto["retval"] == vm["retval"] and auto["data_out"] == vm["data_out"]
