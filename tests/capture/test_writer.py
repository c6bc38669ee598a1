"""Writers: what they write reads back the same (property tests over random packets,
timestamps, both formats and both byte orders), libpcap's tcpdump reads it, and a write
that fails or is interrupted never leaves a file under the target name."""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.capture import CaptureError, Packet, PcapngWriter, PcapWriter, open_capture, read_packets

packets = st.lists(st.tuples(st.binary(max_size=300), st.integers(0, 2**32 - 1), st.integers(0, 999_999_999),
                             st.integers(0, 1000)), max_size=12)


@settings(max_examples=60, deadline=None)
@given(packets, st.sampled_from([PcapWriter, PcapngWriter]), st.sampled_from(["little", "big"]), st.booleans())
def test_round_trip(records, writer, byte_order, nanosecond):
    stream = io.BytesIO()
    with writer(stream, 1, nanosecond=nanosecond, byte_order=byte_order) as out:
        for data, seconds, fraction, extra in records:
            out.write(data, seconds * 1_000_000_000 + fraction, len(data) + extra)
    stream.seek(0)
    with open_capture(stream) as capture:
        assert capture.byte_order == {"little": "<", "big": ">"}[byte_order]
        back = list(capture)
    unit = 1 if nanosecond else 1000
    assert back == [Packet((s * 1_000_000_000 + f) // unit * unit, d, len(d) + e, 1) for d, s, f, e in records]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=80), st.sampled_from([1, 101, 113, 276]),
                          st.sampled_from([16, 64, 262144])), max_size=10))
def test_pcapng_one_interface_per_linktype_and_snaplen(records):
    stream = io.BytesIO()
    with PcapngWriter(stream, nanosecond=True) as out:
        for i, (data, linktype, snaplen) in enumerate(records):
            out.write(data, i, linktype=linktype, snaplen=snaplen)
    stream.seek(0)
    back = list(read_packets(stream))
    assert [(p.data, p.linktype, p.wirelen) for p in back] == [(d[:s], lt, len(d)) for d, lt, s in records]
    order = list(dict.fromkeys((lt, s) for _, lt, s in records))
    assert [p.interface for p in back] == [order.index((lt, s)) for _, lt, s in records]


def test_snaplen_cuts_data_but_keeps_wire_length(tmp_path):
    with PcapWriter(tmp_path / "cut.pcap", 1, snaplen=4) as out:
        out.write(b"abcdefgh", 5)
    (packet,) = read_packets(tmp_path / "cut.pcap")
    assert (packet.data, packet.wirelen) == (b"abcd", 8)


def test_rename_on_close_only(tmp_path):
    target = tmp_path / "out.pcap"
    out = PcapWriter(target, 1)
    out.write(b"x" * 20, 1)
    assert not target.exists(), "a file under the target name before close would look complete"
    out.close()
    assert [p.data for p in read_packets(target)] == [b"x" * 20]
    assert [p.name for p in tmp_path.iterdir()] == ["out.pcap"]


@pytest.mark.parametrize("writer", [PcapWriter, PcapngWriter])
def test_failure_inside_the_block_leaves_no_file_and_keeps_the_old_one(tmp_path, writer):
    target = tmp_path / "keep.pcap"
    target.write_bytes(b"previous")
    with pytest.raises(RuntimeError), writer(target, 1) as out:
        out.write(b"abc", 1)
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.pcap"]


def test_writer_errors_are_specific(tmp_path):
    with pytest.raises(CaptureError, match="link type 113, but a pcap file holds only its header's \\(1\\)"), \
            PcapWriter(io.BytesIO(), 1) as out:
        out.write(b"x", 0, linktype=113)
    with pytest.raises(CaptureError, match="outside what pcap's 32-bit seconds hold"), \
            PcapWriter(io.BytesIO(), 1) as out:
        out.write(b"x", 2**32 * 1_000_000_000)
    with pytest.raises(CaptureError, match="cannot create"):
        PcapWriter(tmp_path / "missing-dir" / "x.pcap", 1)
    with pytest.raises(CaptureError, match="byte order 'middle'"):
        PcapngWriter(io.BytesIO(), byte_order="middle")
    out = PcapWriter(io.BytesIO(), 1)
    out.close()
    with pytest.raises(CaptureError, match="write after close"):
        out.write(b"x")


def test_copy_keeps_every_packet_of_a_savefile(tmp_path):
    from shared_data import shared_path
    source = shared_path("libpcap-tests", "savefiles", "rarp_req_reply.pcapng")
    with PcapngWriter(tmp_path / "copy.pcapng", nanosecond=True) as out:
        out.extend(read_packets(source))
    assert list(read_packets(tmp_path / "copy.pcapng")) == list(read_packets(source))


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump as the reference reader")
@pytest.mark.parametrize("writer, nanosecond, byte_order", [(PcapWriter, False, "big"), (PcapWriter, True, "little"),
                                                            (PcapngWriter, True, "big"),
                                                            (PcapngWriter, False, "little")])
def test_tcpdump_reads_what_we_write(tmp_path, writer, nanosecond, byte_order):
    path = tmp_path / "ours"
    with writer(path, 1, nanosecond=nanosecond, byte_order=byte_order) as out:
        out.write(bytes(60), 1_000_000_123_456_789)
        out.write(bytes(42), 1_000_000_124_000_000, 100)
    result = subprocess.run(["tcpdump", "-tt", "--nano", "-nr", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    stamps = [line.split()[0] for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert stamps == ["1000000.123456789" if nanosecond else "1000000.123456000", "1000000.124000000"]


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_get_the_umasks_mode_like_tcpdump(tmp_path, mask, mode):
    """A file written through a temporary file gets what open(path, "w") would give it
    (tcpdump -w: 0644 with the usual umask), not mkstemp's 0600."""
    old = os.umask(mask)
    try:
        with PcapWriter(tmp_path / "out.pcap", 1) as writer:
            writer.write(b"\0" * 20)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "out.pcap").st_mode) == mode


def test_a_replaced_file_keeps_its_mode(tmp_path):
    target = tmp_path / "out.pcap"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    with PcapWriter(target, 1) as writer:
        writer.write(b"\0" * 20)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert target.read_bytes() != b"old"
