"""Filters installed for real: child processes (no root needed, no_new_privs is set)
see the errno a rule chose, an argument condition picks one file descriptor, a killed
call ends the child with SIGSYS, and a long policy is accepted by the kernel."""

from __future__ import annotations

import errno
import os
import platform
import signal
import sys
from pathlib import Path

import pytest

from pybpf.seccomp import SeccompPolicy, arg, install, run_confined


def _seccomp_filters_available() -> bool:
    status = Path("/proc/self/status")
    return (sys.platform == "linux" and platform.machine() == "x86_64" and status.exists()
            and "Seccomp_filters:" in status.read_text())


pytestmark = pytest.mark.skipif(not _seccomp_filters_available(),
                                reason="needs Linux on x86-64 with seccomp filters")

REPORT_ERRNOS = """
import os, sys
def errno_of(call, *args):
    try:
        call(*args)
        return 0
    except OSError as error:
        return error.errno
print(errno_of(os.uname), errno_of(os.mkdir, sys.argv[1]), os.getpid() > 0)
"""


def _python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-I", "-S", "-c", code, *args]


def test_denied_calls_fail_with_the_chosen_errno(tmp_path):
    policy = (SeccompPolicy(default="allow").deny("uname", errno=errno.EPERM)
              .deny("mkdir", errno=errno.EACCES).deny("mkdirat", errno=errno.EACCES))
    target = tmp_path / "made"
    result = run_confined(policy, _python(REPORT_ERRNOS, str(target)), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(errno.EPERM), str(errno.EACCES), "True"]
    assert not target.exists()
    unconfined = run_confined(SeccompPolicy(default="allow"), _python(REPORT_ERRNOS, str(target)),
                              capture_output=True, text=True, timeout=60)
    assert unconfined.stdout.split() == ["0", "0", "True"] and target.is_dir()


def test_argument_condition_in_the_kernel():
    code = ("import os\nos.write(1, b'to stdout\\n')\n"
            "try:\n    os.write(2, b'to stderr')\nexcept OSError as error:\n    print(error.errno)\n")
    policy = SeccompPolicy(default="allow").deny("write", arg(0) == 2, errno=errno.EIO)
    result = run_confined(policy, _python(code), capture_output=True, text=True, timeout=60)
    assert result.stdout.split("\n")[:2] == ["to stdout", str(errno.EIO)] and result.stderr == ""


def test_killed_call_ends_the_child_with_sigsys():
    policy = SeccompPolicy(default="allow").kill("getppid")
    result = run_confined(policy, _python("import os\nprint('before', flush=True)\nos.getppid()\nprint('after')"),
                          capture_output=True, text=True, timeout=60)
    assert result.returncode == -signal.SIGSYS and result.stdout == "before\n"


def test_long_policy_accepted_by_the_kernel():
    policy = SeccompPolicy(default="allow")
    for flags in range(1, 81):                 # openat(dirfd, path, flags, mode): flags is arg 2
        policy.deny("openat", arg(2) == flags, errno=errno.EACCES)
    policy.deny("uname", errno=errno.EPERM)
    result = run_confined(policy, _python(REPORT_ERRNOS, "/nonexistent/dir"), capture_output=True, text=True,
                          timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(errno.EPERM), str(errno.ENOENT), "True"]


def test_install_in_a_forked_child():
    policy = SeccompPolicy(default="allow").deny("uname", errno=errno.EXDEV)
    pid = os.fork()
    if pid == 0:                                   # the child: report the errno as the exit status
        status = 99
        try:
            install(policy)
            os.uname()
            status = 0
        except OSError as error:
            status = error.errno
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == errno.EXDEV
    assert os.uname()                              # the parent is not filtered
