"""iter:task and iter:task_file probes (BPF iterators) in the kernel: the program runs
once per task (or open file) and the run ends, as in bpftrace (0.17 cannot run them on
this kernel: "iter task not available", so there is no side-by-side comparison)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest
from test_trace_kernel import pybpf_trace

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="iterators need root")


@pytest.fixture
def sleeper():
    """A process with a name of its own, holding a known file open (as ``.marker_fd``)."""
    with tempfile.TemporaryDirectory(prefix="trace-iter-") as tmp:
        binary = os.path.join(tmp, "trace-itersl")
        shutil.copy("/bin/sleep", binary)
        marker = os.path.join(tmp, "trace-iter-marker")
        with open(marker, "w") as f:
            f.write("x")
        fd = os.open(marker, os.O_RDONLY)
        process = subprocess.Popen([binary, "30"], pass_fds=(fd,))
        process.marker_fd = fd  # type: ignore[attr-defined]
        os.close(fd)
        try:
            yield process
        finally:
            process.kill()
            process.wait()


def test_iter_task_visits_every_task_once(sleeper):
    result = pybpf_trace("-e", 'iter:task { @tasks = count(); if (ctx->task->pid == ' + str(sleeper.pid) +
                         ') { printf("%s %d %d\\n", ctx->task->comm, ctx->task->pid, ctx->task->tgid); } }')
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["Attaching 1 probe...", f"trace-itersl {sleeper.pid} {sleeper.pid}"]
    assert int(lines[-1].split(": ")[1]) > 20  # kernel threads and processes; not the iterator's NULL end call


def test_iter_task_file_sees_open_files(sleeper):
    program = ('iter:task_file /ctx->task->pid == ' + str(sleeper.pid) + '/ '
               '{ printf("%d %s\\n", ctx->fd, str(ctx->file->f_path.dentry->d_name.name)); }')
    result = pybpf_trace("-e", program)
    assert result.returncode == 0, result.stderr
    assert f"{sleeper.marker_fd} trace-iter-marker" in result.stdout.splitlines()


def test_iter_must_be_alone_and_known():
    result = pybpf_trace("-e", 'iter:task { printf("x"); } interval:s:1 { exit(); }')
    assert result.returncode == 1 and "an iter probe must be the only probe" in result.stderr
    result = pybpf_trace("-e", 'iter:task_vma { printf("x"); }')
    assert result.returncode == 1 and "iter task_vma is not supported" in result.stderr


def test_iter_pinned_link_is_left_for_reading():
    name = f"trace-iter-pin-{os.getpid()}"
    path = f"/sys/fs/bpf/{name}"
    try:
        result = pybpf_trace("-e", f'iter:task:{name} {{ @n = count(); }}')
        assert result.returncode == 0, result.stderr
        assert f"Program pinned to {path}\n" in result.stdout
        assert os.path.exists(path)
    finally:
        if os.path.exists(path):
            os.unlink(path)


def test_info_reports_the_iterators_and_callback_helpers():
    result = pybpf_trace("--info")
    assert result.returncode == 0, result.stderr
    for line in ("  iter:task: yes", "  iter:task_file: yes", "  loop: yes", "  for_each_map_elem: yes"):
        assert line in result.stdout.splitlines()
