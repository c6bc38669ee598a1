"""tcpdump as the reference for which packets a filter keeps: packets are written to a
pcap file (record i stamped i+1 seconds, so tcpdump's ``-tt`` output names them), tcpdump
reads it with the expression, and the stamps it prints are the packets it kept."""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from pybpf.cbpf import Instruction, run
from pybpf.cbpf import opcodes as c

TCPDUMP = shutil.which("tcpdump")
needs_tcpdump = pytest.mark.skipif(TCPDUMP is None, reason="tcpdump is not installed")


def write_pcap(path: Path, packets: Sequence[tuple[bytes, int]], linktype: int = 1) -> None:
    """``packets`` are (captured bytes, wire length)."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)]
    for i, (data, wire) in enumerate(packets):
        out.append(struct.pack("<IIII", i + 1, 0, len(data), max(wire, len(data))) + data)
    path.write_bytes(b"".join(out))


def tcpdump_kept(path: Path, expression: str, *options: str) -> set[int]:
    """The record indexes tcpdump keeps; ``options`` such as ``-O`` go before the file."""
    done = subprocess.run([TCPDUMP, *options, "-tt", "-n", "-r", str(path), expression], capture_output=True,
                          text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"tcpdump refused {expression!r}: {done.stderr.strip()}")
    return {int(line.split(".", 1)[0]) - 1 for line in done.stdout.splitlines() if line[:1].isdigit()}


def pybpf_kept(program, packets: Sequence[tuple[bytes, int]]) -> set[int]:
    return {i for i, (data, wire) in enumerate(packets) if run(program, data, max(wire, len(data)))}


def fault_marking(program: list[Instruction]) -> list[Instruction]:
    """``program`` with its ``ret #0`` turned into ``ret #1``: it returns 0 only where a
    load ran off the end of the packet (the filters pybpf compiles return constants)."""
    out = []
    for ins in program:
        if c.cls(ins.code) == c.RET:
            assert c.rval(ins.code) == c.K, ins
            ins = Instruction(ins.code, 0, 0, ins.k or 1)
        out.append(ins)
    return out
