"""``pybpf replay``: the summary, -w with the packets as the program left them,
--split-by-verdict, --json per packet, --maps, and its errors (on the vm engine: no root)."""

from __future__ import annotations

import json
import sys

import pytest

from pybpf.capture import LinkType, PcapWriter, read_packets
from pybpf.cli import main

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from test_replay_engines import PROGRAMS, generated_packets  # noqa: E402


@pytest.fixture
def capture(tmp_path):
    path = tmp_path / "in.pcap"
    with PcapWriter(str(path), LinkType.EN10MB) as writer:
        for i, packet in enumerate(generated_packets(7, 60)):
            writer.write(packet, timestamp_ns=1_700_000_000_000_000_000 + i * 1000)
    return path


@pytest.fixture
def xdp_source(tmp_path, module_cache):
    path = tmp_path / "parser.c"
    path.write_text(PROGRAMS["xdp_parser"])
    return path


def _replay(*args: str) -> int:
    return main(["replay", *args])


def test_summary_json_and_maps(capture, xdp_source, capsys):
    assert _replay(str(xdp_source), "-r", str(capture), "--engine", "vm", "--json", "--maps") == 0
    lines = capsys.readouterr().out.splitlines()
    per_packet = [json.loads(line) for line in lines[:-1]]
    summary = json.loads(lines[-1])
    assert [p["index"] for p in per_packet] == list(range(60))
    assert summary["summary"]["packets"] == 60
    assert sum(summary["summary"]["verdicts"].values()) == 60
    counted = {v: sum(p["verdict"] == v for p in per_packet) for v in summary["summary"]["verdicts"]}
    assert counted == summary["summary"]["verdicts"]
    assert "protos" in summary["maps"] and "sources" in summary["maps"]


def test_write_and_split_by_verdict(capture, xdp_source, tmp_path, capsys):
    out, split = tmp_path / "out.pcap", tmp_path / "split"
    assert _replay(str(xdp_source), "-r", str(capture), "--engine", "vm", "-w", str(out),
                   "--split-by-verdict", str(split), "--json") == 0
    per_packet = [json.loads(line) for line in capsys.readouterr().out.splitlines()[:-1]]
    passed = [p for p in per_packet if p["verdict"] in ("XDP_PASS", "XDP_TX", "XDP_REDIRECT")]
    written = list(read_packets(str(out)))
    assert len(written) == len(passed)
    originals = list(read_packets(str(capture)))
    for packet, record in zip(written, passed):
        assert packet.timestamp_ns == originals[record["index"]].timestamp_ns
        if record["verdict"] == "XDP_TX":          # the program rewrote the TTL of ICMP packets
            assert packet.data[22] == 7 and packet.data[:22] == originals[record["index"]].data[:22]
    files = {path.stem: len(list(read_packets(str(path)))) for path in split.glob("*.pcap")}
    expected = {}
    for record in per_packet:
        expected[record["verdict"]] = expected.get(record["verdict"], 0) + 1
    assert files == expected


def test_assembly_needs_a_type(tmp_path, capture, capsys):
    asm = tmp_path / "pass.asm"
    asm.write_text("r0 = 2\nexit\n")
    assert _replay(str(asm), "-r", str(capture), "--engine", "vm") == 1
    assert "need --type" in capsys.readouterr().err
    assert _replay(str(asm), "-r", str(capture), "--engine", "vm", "--type", "xdp") == 0
    out = capsys.readouterr().out
    assert "XDP_PASS" in out and "60 packets" in out


def test_non_ethernet_captures_are_refused(tmp_path, xdp_source, capsys):
    raw = tmp_path / "raw.pcap"
    with PcapWriter(str(raw), LinkType.RAW) as writer:
        writer.write(bytes(40))
    assert _replay(str(xdp_source), "-r", str(raw), "--engine", "vm") == 1
    assert "packet 1 has link type" in capsys.readouterr().err
