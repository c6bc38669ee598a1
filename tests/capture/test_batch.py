"""Native batches of pcap records: the same packets, in the same order, as the
record-at-a-time reader — for every libpcap savefile, mapped or streamed, with windows
and batches small enough that records straddle them — and the same errors at the same
offsets for damaged files."""

from __future__ import annotations

import ctypes
import io
import random
import struct
import subprocess
import sys

import pytest

from pybpf.capture import CaptureError, PcapWriter, open_capture, read_packets
from pybpf.pcapfilter import batch as batch_module
from pybpf.pcapfilter.batch import batches as batches_of
from pybpf.pcapfilter.walker import native
from shared_data import shared_path

pytestmark = pytest.mark.skipif(native() is None, reason="llvmlite cannot compile native code here")


def _batched(source, batch_size=7):
    with open_capture(source) as capture:
        batches = batches_of(capture, batch_size)
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
            assert batches_of(capture) is None, path.name
    with open_capture(_pcap(tmp_path, [(1, 0, b"ab", 2)] * 3)) as capture:
        next(iter(capture))
        assert batches_of(capture) is None        # already being read record by record


def test_selected_gather_and_truncated(tmp_path):
    records = _random_records(40)
    path = _pcap(tmp_path, records)
    raw = path.read_bytes()
    with open_capture(path) as capture:
        batches = batches_of(capture, 16)
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
        batches = batches_of(capture)
        for batch in batches:
            results = (ctypes.c_uint64 * batch.capacity)(*([1] * batch.count))
            writer.write_records(batch.gather(results), batch.count)
        batches.close()
    assert out.read_bytes() == source.read_bytes()
    assert writer.count == 10


# ---- filtered: walk, filter and gather, on threads ------------------------------------------


def _odd_first_byte(batch, results):
    """A filter of the records' contents only (not where they lie in memory)."""
    for i in range(batch.count):
        data = ctypes.string_at(batch.hosts[i], min(batch.caplens[i], 2))
        results[i] = 1 if data and data[-1] % 2 else 0


def _filtered(path, threads, piece, match=_odd_first_byte, batch_size=64):
    """(the gathered bytes, records, matched, the end offsets) of ``filtered``, or the
    error's text and what was gathered before it."""
    data, records, matched, ends = bytearray(), 0, 0, []
    with open_capture(path) as capture:
        batches = batches_of(capture, batch_size)
        try:
            for gathered in batches.filtered(match, threads, piece):
                data += gathered.data
                records += gathered.records
                matched += gathered.matched
                ends.append(gathered.end_offset)
        except CaptureError as exc:
            return bytes(data), str(exc)
        finally:
            batches.close()
    assert ends == sorted(ends)
    return bytes(data), records, matched, ends[-1] if ends else None


def _expected_gather(path, match=_odd_first_byte):
    """What ``filtered`` must give, from the record-at-a-time reader."""
    raw = path.read_bytes()
    order = "<" if raw[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    data, offset, records, matched = bytearray(), 24, 0, 0
    while offset < len(raw):
        caplen = struct.unpack_from(order + "I", raw, offset + 8)[0]
        record = raw[offset:offset + 16 + caplen]
        payload = record[16:18]
        if payload and payload[-1] % 2:
            data += record
            matched += 1
        records += 1
        offset += 16 + caplen
    return bytes(data), records, matched, len(raw) if records else None


@pytest.mark.parametrize("threads", [2, 3])
def test_threads_gather_what_one_thread_gathers_on_every_savefile(threads):
    for path in sorted(shared_path("libpcap-tests", "savefiles").glob("*.pcap")):
        with open_capture(path) as capture:
            batches = batches_of(capture)
            if batches is None:
                continue
            batches.close()
        single = _filtered(path, 1, 512)
        assert single == _expected_gather(path), path.name
        for piece in (256, 1000, 4096):
            assert _filtered(path, threads, piece) == single, (path.name, piece)


@pytest.mark.parametrize("seed", range(6))
def test_threads_gather_what_one_thread_gathers_on_random_files(tmp_path, seed):
    rng = random.Random(seed)
    path = _pcap(tmp_path, _random_records(rng.randrange(200, 1500), seed), *rng.choice(
        [("<", 0xA1B2C3D4), (">", 0xA1B2C3D4), ("<", 0xA1B23C4D)]))
    expected = _expected_gather(path)
    assert _filtered(path, 1, 1 << 20) == expected
    for piece in (300, 4096, 20000):
        assert _filtered(path, 2, piece, batch_size=rng.choice([1, 7, 4096])) == expected, piece


def _fake_chain(count=12):
    """Bytes that look like ``count`` pcap records: a packet carrying them makes a thread
    guess a record boundary inside it."""
    return b"".join(struct.pack("<IIII", 1_700_000_000, 5, 20, 20) + bytes([i]) * 20 for i in range(count))


def _replace_header(raw, index, header):
    """``raw`` (a little-endian pcap file) with record ``index``'s header replaced."""
    offset = 24
    for _ in range(index):
        offset += 16 + struct.unpack_from("<I", raw, offset + 8)[0]
    return raw[:offset] + header + raw[offset + 16:]


def test_a_wrong_guess_of_where_a_piece_starts_is_corrected(tmp_path, monkeypatch):
    records = [(1, 0, _fake_chain(), 400) if i % 2 else (1, 0, bytes([i % 256]) * 37, 37) for i in range(400)]
    path = _pcap(tmp_path, records)
    corrected = []
    original = batch_module.RecordBatches._piece

    def spy(self, fd, size, worker, match, start, until, guess, out):
        if not guess and start != 24:
            corrected.append(start)
        return original(self, fd, size, worker, match, start, until, guess, out)

    monkeypatch.setattr(batch_module.RecordBatches, "_piece", spy)
    expected = _expected_gather(path)
    for piece in (500, 1234, 4096):
        corrected.clear()
        assert _filtered(path, 2, piece) == expected, piece
        assert corrected, "no guess was wrong: the test does not test"


def test_the_guess_is_not_fooled_by_zero_padding(tmp_path):
    """Packets ending in 12 zero bytes, captured whole: read 12 bytes early, the padding is
    a zero-length header whose wire length is the next record's seconds, and from 4 bytes
    past every record start a chain stays plausible (fraction = captured length, and so
    on). The guess must still find the record itself."""
    rng = random.Random(3)
    records = []
    for i in range(3000):
        payload = bytes(rng.getrandbits(8) for _ in range(rng.choice([48, 60, 90, 200, 1500]))) + bytes(12)
        records.append((1_700_000_000, i % 1_000_000, payload, len(payload)))
    path = _pcap(tmp_path, records)
    raw = path.read_bytes()
    starts, offset = [], 24
    while offset < len(raw):
        starts.append(offset)
        offset += 16 + struct.unpack_from("<I", raw, offset + 8)[0]
    walker = native()
    buffer = ctypes.create_string_buffer(raw, len(raw))
    address = ctypes.addressof(buffer)
    wrong = 0
    for cut in range(100, len(raw) - 20_000, 997):
        truth = next(start for start in starts if start >= cut)
        wrong += walker.sync(address, cut, len(raw), 0, 262144, 1_000_000, batch_module.SYNC_CHAIN) != truth
    assert wrong == 0


def test_pieces_shorter_than_a_record(tmp_path):
    records = [(1, 0, bytes([i]) * size, size) for i, size in enumerate([100, 200_000, 5, 150_000, 3, 70_000, 9])]
    path = _pcap(tmp_path, records)
    expected = _expected_gather(path)
    for piece in (256, 4096, 65536):
        assert _filtered(path, 2, piece) == expected, piece


@pytest.mark.parametrize("mangle, why", [
    (lambda b: b[:-2], "truncated packet data"),
    (lambda b: b[:-(16 + 1514) + 5], "truncated record header"),
    (lambda b: b[:24 + 8] + struct.pack("<I", 300000) + b[24 + 12:], "claims 300000 captured bytes"),
    (lambda b: _replace_header(b, 120, struct.pack("<IIII", 1, 2, 400000, 400000)), "claims 400000 captured bytes"),
    (lambda b: b[:20000] + bytes(random.Random(3).getrandbits(8) for _ in range(len(b) - 20000)), ""),
])
def test_damaged_files_fail_on_threads_as_on_one(tmp_path, mangle, why):
    records = _random_records(200) + [(9, 9, b"z" * 1514, 1514)]
    path = _pcap(tmp_path, records)
    path.write_bytes(mangle(path.read_bytes()))
    single = _filtered(path, 1, 1 << 20)
    assert len(single) == 2 and why in single[1]        # (gathered before the error, the error)
    for piece in (300, 4096):
        assert _filtered(path, 2, piece) == single, piece


def test_random_bytes_after_the_header(tmp_path):
    rng = random.Random(7)
    for n in range(20):
        path = tmp_path / f"r{n}.pcap"
        body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(2000, 30000)))
        if n % 2:   # mostly small lengths: walks that go some way before failing
            body = bytes(b if i % 16 not in (10, 11, 14, 15) else 0 for i, b in enumerate(body))
        path.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + body)
        single = _filtered(path, 1, 1 << 20)
        for piece in (500, 4096):
            assert _filtered(path, 2, piece) == single, (n, piece)


def test_a_filter_error_on_a_thread_is_raised_after_the_same_records(tmp_path):
    path = _pcap(tmp_path, _random_records(300))

    def failing(batch, results):
        _odd_first_byte(batch, results)
        for i in range(batch.count):
            if batch.caplens[i] == 300 and ctypes.string_at(batch.hosts[i], 1) > b"\xc0":
                raise ValueError("this record")

    def run(threads):
        gathered = bytearray()
        with open_capture(path) as capture:
            batches = batches_of(capture, 16)
            with pytest.raises(ValueError, match="this record"):
                for item in batches.filtered(failing, threads, 2000):
                    gathered += item.data
            batches.close()
        return bytes(gathered)

    assert run(1) == run(2)


def test_filtered_streams_and_small_files_on_one_thread(tmp_path):
    path = _pcap(tmp_path, _random_records(50))
    expected = _expected_gather(path)
    assert _filtered(io.BytesIO(path.read_bytes()), 2, 256)[:3] == expected[:3]
    assert _filtered(path, 2, 1 << 20) == expected        # under two pieces: not split


# ---- filtered with the native filter: walk, filter and gather in one native call -----------

_NATIVE_EXPRESSIONS = ["ether[1] & 1 = 1", "ether[0] > 100 and ether[3] < 200", "ether[40] = 7 or ether[2] & 3 = 0"]


def _matcher(expression):
    from pybpf.pcapfilter.matcher import Matcher

    matcher = Matcher(expression)
    if not matcher.uses_jit(1):
        pytest.skip("the JIT is unavailable here")
    return matcher


@pytest.mark.parametrize("expression", _NATIVE_EXPRESSIONS)
def test_native_filter_gathers_what_the_batch_walk_gathers(tmp_path, expression):
    matcher = _matcher(expression)
    native_filter = matcher.native_filter(1)
    assert native_filter is not None
    for seed in range(3):
        rng = random.Random(seed)
        path = _pcap(tmp_path, _random_records(rng.randrange(300, 1200), seed), *rng.choice(
            [("<", 0xA1B2C3D4), (">", 0xA1B2C3D4), ("<", 0xA1B23C4D)]), name=f"n{seed}.pcap")
        expected = _filtered(path, 1, 1 << 20, matcher.match_batch)
        assert expected[2] not in (0, expected[1]), "the filter should accept some records, not all"
        for threads in (1, 2, 3):
            for piece in (300, 4096, 20000):
                got = _filtered_native(path, threads, piece, matcher, native_filter, rng.choice([1, 7, 4096]))
                assert got == expected, (seed, threads, piece)


def _filtered_native(path, threads, piece, matcher, native_filter, batch_size=64):
    data, records, matched, ends = bytearray(), 0, 0, []
    with open_capture(path) as capture:
        batches = batches_of(capture, batch_size)
        try:
            for gathered in batches.filtered(matcher.match_batch, threads, piece, native_filter):
                data += gathered.data
                records += gathered.records
                matched += gathered.matched
                ends.append(gathered.end_offset)
        except Exception as exc:      # noqa: BLE001 - compared with the batch walk's
            return bytes(data), f"{type(exc).__name__}: {exc}"
        finally:
            batches.close()
    assert ends == sorted(ends)
    return bytes(data), records, matched, ends[-1] if ends else None


def test_native_filter_on_wrong_guesses_long_records_and_damaged_files(tmp_path):
    matcher = _matcher("ether[1] & 1 = 1")
    native_filter = matcher.native_filter(1)
    fake = [(1, 0, _fake_chain(), 400) if i % 2 else (1, 0, bytes([i % 256]) * 37, 37) for i in range(400)]
    long = [(1, 0, bytes([i]) * size, size) for i, size in enumerate([100, 200_000, 5, 150_000, 3, 70_000, 9])]
    damaged = _random_records(200) + [(9, 9, b"z" * 1514, 1514)]
    for n, records in enumerate([fake, long, damaged]):
        path = _pcap(tmp_path, records, name=f"d{n}.pcap")
        if records is damaged:
            path.write_bytes(_replace_header(path.read_bytes(), 120, struct.pack("<IIII", 1, 2, 400000, 400000)))
        expected = _filtered_native(path, 1, 1 << 30, matcher, None)
        for threads in (1, 2):
            for piece in (256, 1234, 4096, 65536):
                assert _filtered_native(path, threads, piece, matcher, native_filter) == expected, (n, piece)


def test_a_native_filter_fault_is_raised_after_the_same_records(tmp_path):
    """A batch the compiled filter does not finish (a fault) is given to ``match``, which
    raises the fault's error, as without the native filter."""
    from pybpf.isa.assembler import assemble
    from pybpf.pcapfilter.matcher import NativeFilter
    from pybpf.vm.jit import JitUnsupported, compile_program

    try:        # accept records whose first byte is odd; fault (a load from 0) on one of 0xff
        compiled = compile_program(assemble(
            "r0 = 0\nif r2 == 0 goto +4\nr3 = *(u8 *)(r1 +0)\nif r3 > 0xfe goto +3\nr0 = r3\nr0 &= 1\nexit\n"
            "r4 = 0\nr0 = *(u8 *)(r4 +0)\nexit"))
    except JitUnsupported:
        pytest.skip("the JIT is unavailable here")

    def match(batch, results):
        compiled.run_batch(batch.hosts, batch.caplens, results, batch.count)

    path = _pcap(tmp_path, _random_records(400))
    with open_capture(path) as capture:
        batches = batches_of(capture, 16)
        data = bytearray()
        with pytest.raises(Exception) as caught:
            for item in batches.filtered(match, 1, 1 << 30):
                data += item.data
        batches.close()
    expected = (bytes(data), f"{caught.type.__name__}: {caught.value}")
    assert expected[1].startswith("VMError") and expected[0], expected     # records gathered before it

    class _Matcher:
        match_batch = staticmethod(match)

    for threads in (1, 2):
        for piece in (500, 2000, 6000):
            got = _filtered_native(path, threads, piece, _Matcher, NativeFilter(compiled), 16)
            # the same error; before it, the accepted records in order up to a batch
            # boundary (the batch walk resumes from the piece's start, so its batches may
            # be cut elsewhere than one walk's from the file's start)
            assert got[1] == expected[1], (threads, piece)
            assert expected[0].startswith(got[0]) or got[0].startswith(expected[0]), (threads, piece)


def test_a_record_longer_than_the_short_tail_has_its_piece_done_again(tmp_path, monkeypatch):
    """A piece is read with SHORT_TAIL bytes past its end; the record straddling it, when
    longer, makes the piece be read again with room for it (on one thread and on two,
    with the native filter and without)."""
    size = batch_module.SHORT_TAIL * 2
    records = [(1, 0, bytes([i % 256]) * 37, 37) for i in range(300)] + [(1, 0, b"\x01" * size, size)] \
        + [(1, 0, bytes([i % 256]) * 50, 50) for i in range(300)]
    path = _pcap(tmp_path, records)
    ends = []
    original = batch_module.RecordBatches._piece_upto

    def spy(self, fd, end, worker, match, start, *args):
        ends.append((start, end))
        return original(self, fd, end, worker, match, start, *args)

    monkeypatch.setattr(batch_module.RecordBatches, "_piece_upto", spy)
    expected = _expected_gather(path)
    ends.clear()
    assert _filtered(path, 2, 8000) == expected
    assert len({start for start, _ in ends}) < len(ends), "no piece was done again: the test does not test"
    matcher = _matcher("ether[1] & 1 = 1")
    whole = _filtered_native(path, 1, 1 << 30, matcher, None)
    for threads in (1, 2):
        ends.clear()
        assert _filtered_native(path, threads, 8000, matcher, matcher.native_filter(1)) == whole
        assert len({start for start, _ in ends}) < len(ends), "no piece was done again: the test does not test"


def test_threads_start_without_the_threading_module(tmp_path):
    """The pieces' threads are _thread's (threading brings functools and collections:
    ~2.5 ms of a command's start)."""
    path = _pcap(tmp_path, _random_records(3000))
    child = f"""
import sys
from pybpf.capture import open_capture
from pybpf.pcapfilter.batch import batches
with open_capture({str(path)!r}) as capture:
    b = batches(capture, 64)
    gathered = sum(g.records for g in b.filtered(lambda batch, results: None, 2, 4096))
    b.close()
print(gathered, "threading" in sys.modules)
"""
    run = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=60)
    assert run.stdout.split() == ["3000", "False"], run.stderr
