"""pybpf's one cache layer (pybpf.cache): the root and its one switch, entries written
whole or not at all (several writers at once included), damaged entries dropped, the
limits kept, and directories and files someone else could have written refused."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf import cache
from pybpf.cache import DiskCache


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("PYBPF_CACHE", str(tmp_path / "root"))
    cache._WARNED.clear()
    return tmp_path / "root"


def test_the_root_and_its_switch(tmp_path, monkeypatch):
    monkeypatch.delenv("PYBPF_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.root() == tmp_path / "xdg" / "pybpf"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.root() == tmp_path / "home" / ".cache" / "pybpf"
    monkeypatch.setenv("PYBPF_CACHE", str(tmp_path / "mine"))
    assert cache.root() == tmp_path / "mine"
    for off in ("off", "OFF", "0", "no", "false", "", " "):
        monkeypatch.setenv("PYBPF_CACHE", off)
        assert cache.root() is None
        store = DiskCache("t", max_entries=4)
        assert store.directory() is None and store.write("a", b"x") is None and store.read("a") is None


def test_an_entry_is_read_back_and_private(root):
    store = DiskCache("things", max_entries=8)
    path = store.write("one.bin", b"\x00body\xff")
    assert path == (root / "things" / "one.bin").resolve()
    assert store.read("one.bin") == b"\x00body\xff"
    assert store.verified("one.bin") == str(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert (root / "things").stat().st_mode & 0o777 == 0o700
    assert store.read("two.bin") is None
    store.remove("one.bin")
    assert not path.exists()


def test_storing_without_a_path_imports_no_pathlib(tmp_path):
    """``store`` is ``write`` for callers that need no Path (pybpf._dataclass, at the
    first use of a class): a command that imports no pathlib stays without it."""
    code = ("import sys; from pybpf.cache import DiskCache; c = DiskCache('t', max_entries=4); "
            "print(c.store('a', b'x'), c.read('a'), 'pathlib' in sys.modules)")
    env = {**os.environ, "PYBPF_CACHE": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert result.stdout.split() == ["True", "b'x'", "False"]


@given(body=st.binary(max_size=200))
@settings(max_examples=40, deadline=None)
def test_any_body_round_trips(tmp_path_factory, body):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYBPF_CACHE", str(tmp_path_factory.mktemp("root")))
        store = DiskCache("any", max_entries=8)
        store.write("e", body)
        assert store.read("e") == body


@pytest.mark.parametrize("damage", [
    lambda data: data[:-1],                                  # truncated
    lambda data: data[:len(data) // 2],
    lambda data: data[:3] + bytes([data[3] ^ 1]) + data[4:],    # a flipped bit in the body
    lambda data: data[:-1] + bytes([data[-1] ^ 0x80]),       # ... in the checksum
    lambda data: b"no trailer at all",
    lambda data: b"",
])
def test_a_damaged_entry_is_dropped(root, damage):
    store = DiskCache("things", max_entries=8)
    path = store.write("e", b"some body of bytes")
    path.write_bytes(damage(path.read_bytes()))
    assert store.read("e") is None
    assert not path.exists()                               # so the caller's rebuild replaces it
    store.write("e", b"some body of bytes")
    assert store.read("e") == b"some body of bytes"


def test_entry_names_are_file_names(root):
    store = DiskCache("things", max_entries=8)
    for bad in ("", ".hidden", "../escape", "a/b"):
        with pytest.raises(ValueError, match="not a cache entry name"):
            store.write(bad, b"x")


def _write_many(directory: str, name: str, seed: int, rounds: int) -> None:
    os.environ["PYBPF_CACHE"] = directory
    store = DiskCache("race", max_entries=1000)
    for n in range(rounds):
        store.write(name, bytes([seed]) * (50_000 + seed * 1000 + n))


def test_concurrent_writers_and_readers_see_whole_entries(root):
    """Processes and threads writing one entry (bodies of different sizes) while others
    read it: every read is one writer's whole body, or a miss."""
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_write_many, args=(str(root), "shared", seed, 30)) for seed in range(1, 4)]
    store = DiskCache("race", max_entries=1000)
    seen, failures = [], []

    def read_loop():
        for _ in range(300):
            body = store.read("shared")
            if body is not None:
                seen.append(len(body))
                if len(set(body)) != 1 or not 50_000 <= len(body) < 55_000:
                    failures.append(len(body))

    for writer in writers:
        writer.start()
    readers = [threading.Thread(target=read_loop) for _ in range(2)]
    threads = [threading.Thread(target=_write_many, args=(str(root), "shared", 4, 30)), *readers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for writer in writers:
        writer.join(timeout=60)
        assert writer.exitcode == 0
    assert not failures
    assert store.read("shared") is not None
    assert [p.name for p in (root / "race").iterdir()] == ["shared"]      # no temporary file left


def test_a_directory_others_may_write_is_refused(root, caplog):
    (root / "open").mkdir(parents=True)
    (root / "open").chmod(0o777)
    store = DiskCache("open", max_entries=8)
    assert store.directory() is None and store.write("e", b"x") is None
    assert "writable by group and others (mode 0777)" in caplog.text


def test_a_root_under_a_directory_others_may_write_is_refused(tmp_path, monkeypatch, caplog):
    cache._WARNED.clear()
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o757)                         # writable by others, no sticky bit: refused
    monkeypatch.setenv("PYBPF_CACHE", str(shared / "root"))
    assert DiskCache("t", max_entries=8).directory() is None
    assert f"{shared} is writable by others" in caplog.text
    shared.chmod(0o1777)                        # sticky, as /tmp: fine above the cache
    assert DiskCache("t", max_entries=8).directory() == (shared / "root" / "t").resolve()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_directory_of_another_user_is_refused(root, caplog):
    (root / "theirs").mkdir(parents=True, mode=0o700)
    os.chown(root / "theirs", 65534, 65534)
    assert DiskCache("theirs", max_entries=8).directory() is None
    assert "owned by uid 65534" in caplog.text


def test_an_entry_others_may_write_or_a_link_is_refused(root, caplog, tmp_path):
    store = DiskCache("things", max_entries=8)
    path = store.write("e", b"body")
    path.chmod(0o646)
    assert store.read("e") is None
    assert "writable by others (mode 0646)" in caplog.text
    path.chmod(0o600)
    assert store.read("e") == b"body"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(elsewhere)                  # a link is never followed
    assert store.read("e") is None


def test_pruning_keeps_the_most_recently_used(root):
    store = DiskCache("lru", max_entries=8)
    for n in range(8):
        path = store.write(f"e{n}", b"x")
        os.utime(path, (1000 + n, 1000 + n))    # e0 oldest ... e7 newest
    assert store.read("e0") == b"x"             # used now: the newest
    store.write("e8", b"x")                     # a ninth: down to three quarters (6)
    left = sorted(p.name for p in (root / "lru").iterdir())
    assert left == ["e0", "e4", "e5", "e6", "e7", "e8"]


def test_pruning_keeps_the_size_limit(root):
    store = DiskCache("big", max_entries=100, max_bytes=10_000)
    for n in range(12):
        path = store.write(f"e{n:02}", bytes(1000))
        os.utime(path, (1000 + n, 1000 + n))
    total = sum(p.stat().st_size for p in (root / "big").iterdir())
    assert total <= 10_000
    assert store.read("e11") == bytes(1000)     # the newest stays


def test_pruning_removes_what_a_dead_writer_left(root):
    store = DiskCache("things", max_entries=8)
    store.write("e", b"x")
    stale = root / "things" / ".e.123.456.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (1000, 1000))
    fresh = root / "things" / ".f.123.456.tmp"
    fresh.write_bytes(b"being written")
    store.prune()
    assert not stale.exists() and fresh.exists()


def test_a_directory_entry_is_checked_file_by_file(root):
    store = DiskCache("trees", max_entries=4)
    path = store.write_tree("kernel-1", {"vmlinux.h": b"struct a { int b; };\n", "other.h": b"#define X 1\n"})
    assert (path / "vmlinux.h").read_bytes() == b"struct a { int b; };\n"
    assert store.read_tree("kernel-1") == path
    (path / "other.h").write_bytes(b"#define X 2\n")
    assert store.read_tree("kernel-1") is None and not path.exists()
    again = store.write_tree("kernel-1", {"vmlinux.h": b"v"})
    assert store.read_tree("kernel-1") == again
    # a second writer of the same entry finds the first one's in place
    assert store.write_tree("kernel-1", {"vmlinux.h": b"v"}) == again
    assert sorted(p.name for p in (root / "trees").iterdir()) == ["kernel-1"]
    (again / ".sha256").unlink()
    assert store.read_tree("kernel-1") is None


def test_files_digest_covers_names_and_contents(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n")
    b.write_text("x = 1\n")
    first = cache.files_digest([a])
    assert first != cache.files_digest([b])
    a.write_text("x = 2\n")
    assert first != cache.files_digest([a])
    assert cache.files_digest([Path(a)]) == cache.files_digest([a])


def test_files_digest_keys_old_files_by_state_and_recent_ones_by_contents(tmp_path):
    a = tmp_path / "a.py"
    a.write_text("x = 1\n")
    old = time.time() - 3600
    os.utime(a, (old, old))
    first = cache.files_digest([a])
    assert cache.files_digest([a]) == first
    os.utime(a, (old + 1, old + 1))         # same contents, another modification time
    assert cache.files_digest([a]) != first
    a.write_text("x = 2\n")                  # recent: same size, keyed by what it holds
    recent = cache.files_digest([a])
    a.write_text("x = 3\n")
    assert cache.files_digest([a]) != recent
