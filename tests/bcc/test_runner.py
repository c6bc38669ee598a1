"""``python -m pybpf.bcc``: ``import bcc`` is served by pybpf for the script's run only,
with BCC's submodules; bad invocations exit non-zero with one line."""

from __future__ import annotations

import subprocess
import sys


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybpf.bcc", *args], capture_output=True, text=True, check=False,
                          timeout=120)


def test_bcc_is_served_for_the_run(tmp_path):
    script = tmp_path / "which.py"
    script.write_text("import sys, bcc, bcc.utils, bcc.syscall, bcc.containers, bcc.tcp\n"
                      "from bcc import BPF, USDT, PerfType, PerfSWConfig, ArgString, printb\n"
                      "print(bcc.__file__)\nprint(bcc.syscall.syscall_name(59).decode(), sys.argv[1:])\n"
                      "print(bcc.tcp.state2str(1), bcc.tcp.flags2str(0x12))\n"
                      "printb(b'raw bytes')\n")
    done = _run(str(script), "-x", "1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith("pybpf/bcc/compat/bcc/__init__.py")
    assert lines[1:] == ["execve ['-x', '1']", "ESTABLISHED SYN|ACK", "raw bytes"]
    outside = subprocess.run([sys.executable, "-c", "import bcc; print(bcc.__file__)"], capture_output=True,
                             text=True, check=False, cwd=tmp_path)
    assert "pybpf/bcc/compat" not in outside.stdout


def test_bad_invocations():
    assert _run().returncode == 2
    done = _run("/no/such/script.py")
    assert done.returncode == 2 and done.stderr.strip() == "pybpf.bcc: /no/such/script.py: no such script"


def test_shell_wrappers_are_named_not_run(tmp_path):
    # Debian's pythoncalls-bpfcc: "#!/bin/bash" then "lib=$(dirname $0)" ...
    wrapper = tmp_path / "pythoncalls-bpfcc"
    wrapper.write_text('#!/bin/bash\nlib=$(dirname $0)\n$lib/ucalls -l python "$@"\n')
    done = _run(str(wrapper), "1")
    assert done.returncode == 2
    assert done.stderr.strip() == (f"pybpf.bcc: {wrapper}: not a Python script (/bin/bash); run the Python script "
                                   "it starts")


def test_pybpf_errors_are_one_line(tmp_path):
    script = tmp_path / "bad.py"
    script.write_text("from bcc import BPF\nBPF(text='BPF_HASH(c);\\nint f(void *ctx) { c.nope(); return 0; }')\n")
    done = _run(str(script))
    assert done.returncode == 1
    assert done.stderr.strip() == "bad.py: 2:20: c.nope() is not a BCC table method (known: atomic_increment, call, " \
        "delete, get_stackid, increment, insert, lookup, lookup_or_init, lookup_or_try_init, msg_redirect_hash, " \
        "msg_redirect_map, peek, perf_submit, perf_submit_skb, pop, push, redirect_map, ringbuf_discard, " \
        "ringbuf_output, ringbuf_reserve, ringbuf_submit, sk_redirect_hash, sk_redirect_map, sock_hash_update, " \
        "sock_map_update, update)"
