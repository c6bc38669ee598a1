"""The ``pybpf filter`` application called from Python (pybpf.pcapfilter.run), without the
command line: a file filtered to a new file holds exactly the packets the classic
interpreter accepts (pcap and pcapng, with and without a count), and ``program_for``
compiles for the file's link type or the one asked for."""

from __future__ import annotations

import pytest

from pybpf.capture import open_capture, read_packets
from pybpf.cbpf import run
from pybpf.errors import PybpfError
from pybpf.filter import compile_filter
from pybpf.pcapfilter.run import filter_file, program_for
from shared_data import shared_path

FILES = ["pim-packet-assortment.pcap", "AH-IPcomp-IPv4.pcap"]
EXPRESSIONS = ["ip and not udp port 53", "tcp or icmp", "greater 100", ""]


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PYBPF_CACHE", str(tmp_path / "cache"))


def _expected(path, expression: str) -> list:
    packets = list(read_packets(path))
    if not expression:
        return packets
    program = compile_filter(expression, packets[0].linktype)
    return [p for p in packets if run(program, p.data, p.wirelen)]


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_a_filtered_file_holds_what_the_interpreter_accepts(tmp_path, name, expression):
    path = shared_path("libpcap-tests", "savefiles", name)
    out = tmp_path / "out.pcap"
    filter_file(str(path), expression, write=str(out))
    got = [(p.timestamp_ns, p.data, p.wirelen) for p in read_packets(out)]
    assert got == [(p.timestamp_ns, p.data, p.wirelen) for p in _expected(path, expression)]


def test_a_count_stops_early_and_pcapng_is_read_too(tmp_path):
    pcapng = next(iter(sorted(shared_path("libpcap-tests", "savefiles").glob("*.pcapng"))), None)
    if pcapng is None:
        pytest.skip("no pcapng file among the savefiles")
    out = tmp_path / "out.pcap"
    filter_file(str(pcapng), "", write=str(out), count=3)
    expected = list(read_packets(pcapng))[:3]
    assert [p.data for p in read_packets(out)] == [p.data for p in expected]


def test_program_for_a_file_or_a_link_type(capsys):
    path = shared_path("libpcap-tests", "savefiles", "pim-packet-assortment.pcap")
    with open_capture(path) as capture:           # (the file's snapshot length too, as tcpdump -d)
        linktype, snaplen = capture.linktype, capture.snaplen
    assert program_for("tcp", read=str(path)) == compile_filter("tcp", linktype, snaplen)
    assert program_for("ip", linktype="LINUX_SLL") == compile_filter("ip", "LINUX_SLL")
    assert program_for("ip") == compile_filter("ip", 1)
    assert "assuming Ethernet" in capsys.readouterr().err
    with pytest.raises(PybpfError):
        program_for("tcp port", linktype="EN10MB")
