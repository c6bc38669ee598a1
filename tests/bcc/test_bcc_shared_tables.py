"""BCC's pinned and shared tables on the running kernel (root): BPF_TABLE_PINNED makes and
pins a map or reuses the one pinned there (whatever its type), BPF_TABLE_SHARED/_PUBLIC
tables are used by a later BPF() object's BPF_TABLE("extern", ...). Every pin is made
under /sys/fs/bpf/pybpf_bcc_* and removed."""

from __future__ import annotations

import ctypes as ct
import os
import shutil
from pathlib import Path

import pytest

from pybpf.bcc import BPF, TableError

# (a pin under /sys/fs/bpf mounts bpffs there when it is missing, as bpftool does)
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="loads maps in the kernel and pins them on /sys/fs/bpf: root only")


@pytest.fixture
def pin_dir():
    path = Path(f"/sys/fs/bpf/pybpf_bcc_{os.getpid()}")
    yield path
    shutil.rmtree(path, ignore_errors=True)   # unlinking a pin removes it; the map goes with its last fd
    assert not path.exists()


COUNTER = r"""
BPF_TABLE_PINNED("hash", u32, u64, calls, 1024, "{path}");
TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {{
    u32 pid = bpf_get_current_pid_tgid() >> 32;
    calls.increment(pid);
    return 0;
}}
"""


def test_pinned_table_is_made_pinned_and_reused(pin_dir):
    path = pin_dir / "nested" / "calls"        # parent directories are made, as BCC does
    me = ct.c_uint32(os.getpid())
    with BPF(text=COUNTER.format(path=path)) as first:
        for _ in range(3):
            os.getppid()
        assert path.exists()
        assert first["calls"][me].value >= 3
    assert path.exists()                        # BCC leaves the pin: the counts outlive the program
    with BPF(text=COUNTER.format(path=path)) as second:
        before = second["calls"][me].value
        assert before >= 3
        os.getppid()
        assert second["calls"][me].value == before + 1
        assert ct.sizeof(second["calls"].Key) == 4 and ct.sizeof(second["calls"].Leaf) == 8
    # a program declaring another type reads the pinned map as it is (BCC does not enforce)
    with BPF(text=f'BPF_TABLE_PINNED("array", u32, u64, calls, 8, "{path}");') as third:
        assert third["calls"][me].value >= before + 1
        assert type(third["calls"]).__name__ == "Table"   # a hash table, not the declared array


def test_pinned_queue_and_flags(pin_dir):
    path = pin_dir / "queue"
    with BPF(text=f'BPF_QUEUESTACK_PINNED("queue", jobs, u32, 8, 0, "{path}");') as b:
        b["jobs"].push(ct.c_uint32(7))
    with BPF(text=f'BPF_QUEUESTACK_PINNED("queue", jobs, u32, 8, 0, "{path}");') as b:
        assert b["jobs"].pop().value == 7


def test_pin_outside_bpffs_is_refused(tmp_path):
    with pytest.raises(TableError, match=r"pinned table t: .* is not on a BPF filesystem .*pin under /sys/fs/bpf"):
        BPF(text=f'BPF_TABLE_PINNED("hash", u32, u64, t, 8, "{tmp_path}/t");')
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("macro", ["BPF_TABLE_PUBLIC", "BPF_TABLE_SHARED"])
def test_shared_table_used_by_a_later_object(macro):
    name = f"pybpf_bcc_{macro[10:].lower()}"
    owner = BPF(text=f'{macro}("array", int, int, {name}, 10);')
    try:
        with BPF(text=f'BPF_TABLE("extern", int, int, {name}, 10);\n'
                      "TRACEPOINT_PROBE(syscalls, sys_enter_getppid) {\n"
                      f"    int k = 2, v = 42; {name}.update(&k, &v); return 0;\n}}") as user:
            table = user[name]
            table[ct.c_int(1)] = ct.c_int(10)
            assert len(table) == 10
            os.getppid()
        # closing the user leaves the owner's table open and holding what was written
        assert owner[name][ct.c_int(1)].value == 10
        assert owner[name][ct.c_int(2)].value == 42
    finally:
        owner.cleanup()


def test_extern_without_a_shared_table_is_refused():
    with pytest.raises(TableError, match=r'BPF_TABLE\("extern", ..., pybpf_bcc_absent, ...\): reference to '
                                         "undefined table"):
        BPF(text='BPF_TABLE("extern", int, int, pybpf_bcc_absent, 10);')
