"""The classic BPF machine: libpcap's semantics on hand-made programs, and the same
accept/reject decisions as libpcap itself (tcpdump applying the filter to libpcap's test
captures) for every expression of libpcap's apply tests."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from pybpf.capture import read_packets
from pybpf.cbpf import opcodes as c
from pybpf.cbpf.dump import parse_dump
from pybpf.cbpf.instruction import Instruction as I
from pybpf.cbpf.interpreter import Filter, run
from shared_data import shared_path

RET_A = I(c.RET | c.A, 0, 0, 0)


def test_loads_and_bounds():
    packet = bytes(range(16))
    assert run([I(c.LD | c.W | c.ABS, 0, 0, 2), RET_A], packet) == 0x02030405
    assert run([I(c.LD | c.H | c.ABS, 0, 0, 15), RET_A], packet) == 0          # past the end: reject
    assert run([I(c.LDX | c.W | c.IMM, 0, 0, 4), I(c.LD | c.B | c.IND, 0, 0, 3), RET_A], packet) == 7
    assert run([I(c.LDX | c.B | c.MSH, 0, 0, 14), I(c.MISC | c.TXA, 0, 0, 0), RET_A], packet) == (14 & 0xF) * 4
    assert run([I(c.LD | c.W | c.LEN, 0, 0, 0), RET_A], packet, wirelen=1500) == 1500


def test_alu_jumps_and_scratch():
    program = [I(c.LD | c.IMM, 0, 0, 7), I(c.ST, 0, 0, 3), I(c.LDX | c.MEM, 0, 0, 3),
               I(c.ALU | c.MUL | c.X, 0, 0, 0), I(c.JMP | c.JGT | c.K, 0, 1, 40), RET_A,
               I(c.RET | c.K, 0, 0, 1)]
    assert run(program, b"") == 49
    assert run([I(c.LD | c.IMM, 0, 0, 5), I(c.ALU | c.DIV | c.X, 0, 0, 0), RET_A], b"") == 0  # x is 0
    assert run([I(c.LD | c.IMM, 0, 0, 1), I(c.ALU | c.NEG, 0, 0, 0), RET_A], b"") == 0xFFFFFFFF
    assert run([I(0xFF, 0, 0, 0)], b"") == 0                                              # invalid opcode


def test_ancillary_loads():
    program = [I(c.LD | c.H | c.ABS, 0, 0, (c.SKF_AD_OFF + c.SKF_AD["vlan_tci"]) & 0xFFFFFFFF), RET_A]
    assert run(program, b"", vlan_tci=42) == 42 and run(program, b"") == 0


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump (libpcap) as the reference")
def test_same_decisions_as_libpcap(tmp_path):
    compared = 0
    for line in shared_path("libpcap-tests", "apply.jsonl").read_text().splitlines():
        case = json.loads(line)
        if case["skip"] or case["netmask"] is not None:
            continue
        capture = shared_path("libpcap-tests", "savefiles", case["savefile"])
        flags = [] if case["optimize"] else ["-O"]
        compiled = subprocess.run(["tcpdump", "-r", str(capture), "-ddd", *flags, case["expr"]],
                                  capture_output=True, text=True)
        if compiled.returncode:
            continue        # this libpcap does not know the expression
        accepted = tmp_path / "accepted.pcap"
        subprocess.run(["tcpdump", "-r", str(capture), "-w", str(accepted), *flags, case["expr"]],
                       capture_output=True, check=True)
        packets = list(read_packets(capture))
        verdicts = Filter(parse_dump(compiled.stdout)).run_many((p.data, p.wirelen) for p in packets)
        # compared by timestamp: libpcap rewrites some link-layer headers when it writes
        ours = [p.timestamp_ns for p, v in zip(packets, verdicts) if v]
        assert ours == [p.timestamp_ns for p in read_packets(accepted)], case["label"]
        compared += 1
    assert compared > 200
