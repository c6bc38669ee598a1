"""trace_pipe: line parsing, and a BPF program's bpf_trace_printk output read back live."""

from __future__ import annotations

import os

import pytest

from pybpf.tracefs import TracefsError, TracePipe, parse_trace_line


def test_parse_lines():
    line = parse_trace_line("          python3-4242    [001] d..31  5050.123456: bpf_trace_printk: hi pybpf 42")
    assert (line.comm, line.pid, line.cpu, line.event, line.message) == ("python3", 4242, 1, "bpf_trace_printk", "hi pybpf 42")
    assert line.timestamp == pytest.approx(5050.123456)
    dashed = parse_trace_line(" kworker/u8:1-ev-77 (   77) [000] ..... 12.5: sched_switch: prev=a")
    assert (dashed.comm, dashed.pid, dashed.event) == ("kworker/u8:1-ev", 77, "sched_switch")
    odd = parse_trace_line("CPU:1 [LOST 3 EVENTS]")
    assert odd.raw == odd.message == "CPU:1 [LOST 3 EVENTS]" and odd.pid == -1


def test_missing_pipe(tmp_path):
    with pytest.raises(TracefsError, match="cannot open"):
        TracePipe(tmp_path / "trace_pipe")


@pytest.mark.skipif(os.geteuid() != 0, reason="bpf_trace_printk and trace_pipe need root")
def test_trace_printk_arrives():
    from pybpf.engine import load
    from pybpf.isa import Instruction
    from pybpf.isa import opcodes as o
    from pybpf.object import ProgramSpec

    text = b"hi pybpf %d\n\0\0\0\0"                      # 16 bytes: the format, NUL-padded
    code = [
        Instruction(o.LDDW, 1, 0, 0, int.from_bytes(text[:8], "little")),
        Instruction(o.STX | o.MEM | o.DW, 10, 1, -16, 0),
        Instruction(o.LDDW, 1, 0, 0, int.from_bytes(text[8:], "little")),
        Instruction(o.STX | o.MEM | o.DW, 10, 1, -8, 0),
        Instruction(o.ALU64 | o.MOV | o.X, 1, 10, 0, 0),
        Instruction(o.ALU64 | o.ADD | o.K, 1, 0, 0, -16),
        Instruction(o.ALU64 | o.MOV | o.K, 2, 0, 0, 13),     # the format's size with its NUL
        Instruction(o.ALU64 | o.MOV | o.K, 3, 0, 0, os.getpid() % 100000),
        Instruction(o.JMP | o.CALL, 0, 0, 0, 6),             # bpf_trace_printk
        Instruction(o.ALU64 | o.MOV | o.K, 0, 0, 0, 0),
        Instruction(o.JMP | o.EXIT, 0, 0, 0, 0),
    ]
    with TracePipe() as pipe, load(ProgramSpec("printer", "socket_filter", code), engine="kernel") as coll:
        pipe.read(timeout=0)  # drop what others left
        coll.programs["printer"].test_run(b"\0" * 64)
        lines = []
        for _ in range(20):
            lines += pipe.read(timeout=0.1)
            if any(line.message == f"hi pybpf {os.getpid() % 100000}" for line in lines):
                break
        ours = [line for line in lines if line.message == f"hi pybpf {os.getpid() % 100000}"]
        assert ours and ours[0].event == "bpf_trace_printk" and ours[0].pid == os.getpid()
