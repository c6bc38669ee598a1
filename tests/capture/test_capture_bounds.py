"""Captures tried as a hostile or careless user would (issue 12): pcapng timestamps out of
any range the C library converts are read and printed as tcpdump prints them, with
``[Error converting time]`` in place of the time; and randomly damaged pcap and pcapng
files are read, summarized and timestamped without a traceback or a hang — a
:class:`CaptureError` naming the file and offset at most."""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.capture import CaptureError, format_timestamp, open_capture, summarize
from pybpf.capture.summary import TIME_ERROR
from shared_data import REPO, shared_files, shared_path

REPRODUCERS = ["pcapng_tsresol0.pcapng", "pcapng_tsoffset_huge.pcapng"]


def _pybpf(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybpf", *args], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "TZ": "UTC"})


def _pcapng(tsresol: int, tsoffset: int, ticks: int, frame: bytes = bytes(60)) -> bytes:
    """A section with one Ethernet interface (``if_tsresol``, ``if_tsoffset``) and one packet."""
    def block(kind: int, body: bytes) -> bytes:
        body += bytes(-len(body) % 4)
        return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    options = (struct.pack("<HHB3x", 9, 1, tsresol) + struct.pack("<HHq", 14, 8, tsoffset)
               + struct.pack("<HH", 0, 0))
    idb = block(1, struct.pack("<HHI", 1, 0, 262144) + options)
    epb = block(6, struct.pack("<IIIII", 0, ticks >> 32, ticks & 0xFFFFFFFF, len(frame), len(frame)) + frame)
    return shb + idb + epb


@pytest.mark.parametrize("name", REPRODUCERS)
def test_out_of_range_timestamps_print_as_tcpdump_prints_them(name):
    path = str(shared_path("reproducers", name))
    with open_capture(path) as capture:
        assert len(list(capture)) == 1
    done = _pybpf("filter", "-nr", path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{TIME_ERROR} IP 0.0.10.0.1234 > 0.1.10.0.53: "), done.stdout
    if shutil.which("tcpdump"):
        reference = subprocess.run(["tcpdump", "-nr", path], capture_output=True, text=True,
                                   env={"TZ": "UTC", "PATH": "/usr/bin:/bin"}).stdout
        assert reference.startswith(f"{TIME_ERROR} IP 0.0.10.0.1234 > 0.1.10.0.53: ")


@pytest.mark.parametrize("seconds", [1 << 62, -(1 << 62), 10 ** 30, -(10 ** 30)])
def test_an_inconvertible_time_is_tcpdumps_text(seconds):
    assert format_timestamp(seconds * 1_000_000_000) == TIME_ERROR
    assert format_timestamp(seconds * 1_000_000_000, nanosecond=True, utc=True) == TIME_ERROR


@settings(max_examples=60, deadline=None)
@given(tsresol=st.integers(0, 255), tsoffset=st.integers(-(1 << 63), (1 << 63) - 1),
       ticks=st.integers(0, (1 << 64) - 1))
def test_any_resolution_and_offset_reads_or_is_refused_at_the_block(tmp_path_factory, tsresol, tsoffset, ticks):
    path = tmp_path_factory.mktemp("ts") / "one.pcapng"
    path.write_bytes(_pcapng(tsresol, tsoffset, ticks))
    try:
        with open_capture(str(path)) as capture:
            packets = list(capture)
    except CaptureError as exc:
        assert str(exc).startswith(f"{path}: byte ") and "if_tsresol" in str(exc)
        return
    assert len(packets) == 1
    text = format_timestamp(packets[0].timestamp_ns)
    assert text == TIME_ERROR or text[2] == ":"


CAPTURES = [p for p in shared_files("libpcap-tests", "savefiles", pattern="*.pcap*") if p.stat().st_size < 40_000]


@pytest.mark.parametrize("seed", range(6))
def test_random_damage_is_read_or_refused_with_a_capture_error(tmp_path, seed):
    """Seeded mutation of libpcap's test captures: bytes overwritten (often with extreme
    values), cut short: every packet read is summarized and timestamped."""
    rng = random.Random(seed)
    for number in range(40):
        source = rng.choice(CAPTURES).read_bytes()
        damaged = bytearray(source)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(damaged))
            damaged[at:at + 4] = rng.choice([bytes(4), b"\xff" * 4, rng.randbytes(4), b"\x7f\xff\xff\xff"])
        if rng.random() < 0.3:
            damaged = damaged[:rng.randrange(len(damaged))]
        path = tmp_path / f"damaged-{number}.pcap"
        path.write_bytes(bytes(damaged))
        try:
            with open_capture(str(path)) as capture:
                for packet in capture:
                    summarize(packet.data, packet.linktype)
                    format_timestamp(packet.timestamp_ns)
        except CaptureError as exc:
            assert str(exc).startswith(f"{path}") and "\n" not in str(exc)
