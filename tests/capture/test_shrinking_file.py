"""A capture that shrinks while ``pybpf filter -r`` reads it (``tcpdump -C/-W`` rotating
it, a copy being rewritten) is reported as a truncated file, as tcpdump reports it: no
SIGBUS (the file is read with pread, never mapped), no traceback.

Each run is a child process, so that a crash shows as a signal instead of ending the
test session; inside it a hook truncates the file just after a window or piece of it was
read in, mid-record, and the windows are made small so that a small file has many."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from pybpf.capture import PcapWriter
from shared_data import REPO

CHILD = textwrap.dedent("""
    import os, sys
    from pybpf.pcapfilter import batch
    from pybpf.cli import main

    path, threads = sys.argv[1], sys.argv[2]
    os.environ["PYBPF_FILTER_THREADS"] = threads
    batch.WINDOW = batch.PIECE = 1 << 16
    original, made = batch._FileWindow.read, []

    def shrinking(self, fd, offset, size):
        got = original(self, fd, offset, size)
        made.append(offset)
        if len(made) == 2:                  # after the second read: cut the file mid-record
            os.truncate(path, os.path.getsize(path) // 2 + 7)
        return got

    batch._FileWindow.read = shrinking
    sys.exit(main(["filter", "-r", path, "-w", path + ".out", "tcp"]))
""")


def _capture(path) -> None:
    frame = bytes(12) + b"\x08\x00" + bytes.fromhex("450000280000000040060000") + bytes(8) + bytes(20)
    with PcapWriter(str(path), 1) as writer:
        for number in range(40_000):
            writer.write(frame + number.to_bytes(4, "big"), number * 1000)


@pytest.mark.parametrize("threads", ["1", "2"])
def test_a_file_cut_short_while_read_is_a_truncated_file_error(tmp_path, threads):
    path = tmp_path / "shrinking.pcap"
    _capture(path)
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), threads], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode != -signal.SIGBUS, "killed by SIGBUS"
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    *_, error = done.stderr.strip().splitlines()     # after tcpdump's "reading from file" line
    assert error.startswith(f"pybpf filter: error: {path}: byte ") and "truncated" in error, done.stderr
