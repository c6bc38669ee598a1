"""Native batches of pcap records: the same packets, in the same order, as the
record-at-a-time reader — for every libpcap savefile, mapped or streamed, with windows
and batches small enough that records straddle them — and the same errors at the same
offsets for damaged files."""

from __future__ import annotations

import ctypes
import io
import random
import struct

import pytest
from shared_data import shared_path

from pybpf.capture import CaptureError, PcapWriter, open_capture, read_packets
from pybpf.capture import batch as batch_module
from pybpf.capture._native import native

pytestmark = pytest.mark.skipif(native() is None, reason="llvmlite cannot compile native code here")


def _batched(source, batch_size=7):
    with open_capture(source) as capture:
        batches = capture.batches(batch_size)
        assert batches is not None
        try:
            return [batch.packet(i) for batch in batches for i in range(batch.count)]
        finally:
            batches.close()


def _pcap(tmp_path, records, order="<", magic=0xA1B2C3D4, version=(2, 4), name="x.pcap"):
    data = struct.pack(order + "IHHiIII", magic, *version, 0, 0, 65535, 1)
    for seconds, fraction, payload, wire in records:
        data += struct.pack(order + "IIII", seconds, fraction, len(payload), wire) + payload
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _random_records(count, seed=1):
    rng = random.Random(seed)
    records = []
    for i in range(count):
        payload = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 14, 60, 300, 1514])))
        records.append((1_700_000_000 + i, rng.randrange(1_000_000), payload, len(payload) + rng.choice([0, 0, 20])))
    return records


@pytest.mark.parametrize("window", [batch_module.WINDOW, 65536])
def test_every_savefile_as_the_reader_reads_it(monkeypatch, window):
    monkeypatch.setattr(batch_module, "WINDOW", window)
    for path in sorted(shared_path("libpcap-tests", "savefiles").glob("*.pcap")):
        expected = list(read_packets(path))
        assert _batched(path) == expected, path.name
        assert _batched(io.BytesIO(path.read_bytes())) == expected, path.name


def test_records_straddling_windows_and_chunks(tmp_path, monkeypatch):
    path = _pcap(tmp_path, _random_records(3000))
    expected = list(read_packets(path))
    monkeypatch.setattr(batch_module, "WINDOW", 65536)
    monkeypatch.setattr(batch_module, "CHUNK", 5000)
    assert _batched(path, 64) == expected
    assert _batched(io.BufferedReader(io.BytesIO(path.read_bytes())), 64) == expected


def test_a_record_larger_than_the_window(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_module, "WINDOW", 65536)
    path = _pcap(tmp_path, [(1, 0, b"a" * 100, 100), (2, 0, b"b" * 200_000, 200_000), (3, 0, b"c", 1)])
    assert _batched(path) == list(read_packets(path))


@pytest.mark.parametrize("order, magic", [(">", 0xA1B2C3D4), ("<", 0xA1B23C4D), (">", 0xA1B23C4D)])
def test_byte_orders_and_nanoseconds(tmp_path, order, magic):
    path = _pcap(tmp_path, _random_records(50), order, magic)
    assert _batched(path) == list(read_packets(path))


@pytest.mark.parametrize("mangle, why", [
    (lambda b: b[:-2], "truncated packet data"),
    (lambda b: b[:-(16 + 1514) + 5], "truncated record header"),
    (lambda b: b[:24 + 8] + struct.pack("<I", 300000) + b[24 + 12:], "claims 300000 captured bytes"),
])
def test_damaged_files_fail_as_the_reader_fails(tmp_path, mangle, why):
    records = _random_records(20) + [(9, 9, b"z" * 1514, 1514)]
    path = _pcap(tmp_path, records)
    path.write_bytes(mangle(path.read_bytes()))
    with pytest.raises(CaptureError, match=why) as expected:
        list(read_packets(path))
    for source in (path, io.BytesIO(path.read_bytes())):
        with pytest.raises(CaptureError, match=why) as got:
            _batched(source)
        assert str(got.value).split(": ", 1)[1] == str(expected.value).split(": ", 1)[1]


def test_only_plain_pcap_files_are_batched(tmp_path):
    old = _pcap(tmp_path, [(1, 0, b"abcd", 60)], version=(2, 2), name="old.pcap")
    kuznetzov = _pcap(tmp_path, [], magic=0xA1B2CD34, name="k.pcap")
    pcapng = shared_path("libpcap-tests", "savefiles", "rarp_req_reply.pcapng")
    for path in (old, kuznetzov, pcapng):
        with open_capture(path) as capture:
            assert capture.batches() is None, path.name
    with open_capture(_pcap(tmp_path, [(1, 0, b"ab", 2)] * 3)) as capture:
        next(iter(capture))
        assert capture.batches() is None        # already being read record by record


def test_selected_gather_and_truncated(tmp_path):
    records = _random_records(40)
    path = _pcap(tmp_path, records)
    raw = path.read_bytes()
    with open_capture(path) as capture:
        batches = capture.batches(16)
        for batch in batches:
            results = (ctypes.c_uint64 * batch.capacity)(*[i % 3 == 0 for i in range(batch.count)])
            chosen = batch.selected(results)
            assert chosen == [i for i in range(batch.count) if i % 3 == 0]
            assert batch.selected(results, 2) == chosen[:2]
            expected = b"".join(raw[batch.offsets[i]:batch.offsets[i] + 16 + batch.caplens[i]] for i in chosen)
            assert bytes(batch.gather(results)) == expected
            assert batch.truncated() == [i for i in range(batch.count) if batch.caplens[i] != batch.wirelens[i]]
        batches.close()


def test_write_records_copies_undecoded(tmp_path):
    source = _pcap(tmp_path, _random_records(10))
    out = tmp_path / "copy.pcap"
    with open_capture(source) as capture, PcapWriter(out, 1, 65535, byte_order="little") as writer:
        batches = capture.batches()
        for batch in batches:
            results = (ctypes.c_uint64 * batch.capacity)(*([1] * batch.count))
            writer.write_records(batch.gather(results), batch.count)
        batches.close()
    assert out.read_bytes() == source.read_bytes()
    assert writer.count == 10
