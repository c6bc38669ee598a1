"""usdt: probes read their arguments where the stapsdt notes say (constants, registers,
memory at register + displacement, base + index * scale): a C program built with
<sys/sdt.h> at -O0 and -O2 (different operand forms) and CPython's own probes, each beside
bpftrace 0.17 on the same events."""

from __future__ import annotations

import os
import subprocess
import tempfile

import pytest
from test_trace_kernel import BPFTRACE, bpftrace, pybpf_trace

from sdt_probes import FIRINGS, build, needs_sdt

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="usdt probes need root")
PYTHON = "/usr/bin/python3.11"
EXPECTED = "".join(" ".join(map(str, firing)) + "\n" for firing in FIRINGS)


def run_both(command: str, program: str) -> str:
    result = pybpf_trace("-c", command, "-e", program)
    assert result.returncode == 0, result.stderr
    if BPFTRACE is not None:
        assert bpftrace("-c", command, "-e", program).stdout == result.stdout
    return result.stdout


@needs_sdt
@pytest.mark.parametrize("optimisation", ["-O0", "-O2"])
def test_usdt_arguments_in_every_operand_form(optimisation):
    with tempfile.TemporaryDirectory(prefix="trace-usdt-") as tmp:
        binary = build(tmp, "trace", optimisation)
        out = run_both(binary, f'usdt:{binary}:trace:sample {{ printf("%d %d %d %d %d\\n", '
                               'arg0, arg1, arg2, arg3, arg4); }')
        assert out == f"Attaching 1 probe...\n{EXPECTED}\n\n"
        result = pybpf_trace("-e", f"usdt:{binary}:trace:sample {{ printf(\"%d\", arg5); }}")
        assert result.returncode == 1 and "has 5 arguments: there is no arg5" in result.stderr


@pytest.mark.skipif(not os.path.exists(PYTHON), reason=f"{PYTHON} (with stapsdt probes) is not installed")
def test_cpython_function_probes_with_string_arguments():
    with tempfile.TemporaryDirectory(prefix="trace-usdt-") as tmp:
        script = os.path.join(tmp, "calls.py")
        with open(script, "w") as f:  # called from C (map): CPython 3.11 fires its probes there
            f.write("def trace_usdt_target(x):\n    return x + 1\nlist(map(trace_usdt_target, range(3)))\n")
        program = ('usdt:/usr/bin/python3.11:python:function__return /str(arg1) == "trace_usdt_target"/ '
                   '{ printf("%s %s %d\\n", str(arg0), str(arg1), arg2); }')
        out = run_both(f"{PYTHON} {script}", program)
        assert out == "Attaching 1 probe...\n" + f"{script} trace_usdt_target 2\n" * 3 + "\n\n"
        # a glob over the probe names attaches each match
        out = pybpf_trace("-c", f"{PYTHON} {script}", "-e", 'usdt:/usr/bin/python3.11:function__* '
                          '/str(arg1) == "trace_usdt_target"/ { @[probe] = count(); }').stdout
        assert out.startswith("Attaching 2 probes...\n")
        assert "@[usdt:/usr/bin/python3.11:python:function__return]: 3\n" in out


@needs_sdt
def test_usdt_listing_by_file_and_by_process():
    with tempfile.TemporaryDirectory(prefix="trace-usdt-") as tmp:
        binary = build(tmp, "trace", pause_us=3_000_000)
        listed = pybpf_trace("-l", f"usdt:{binary}")
        assert listed.stdout == f"usdt:{binary}:trace:sample\n"
        assert pybpf_trace("-l", f"usdt:{binary}:other:*").returncode == 1
        process = subprocess.Popen([binary])
        try:
            by_pid = pybpf_trace("-l", "usdt:*", "-p", str(process.pid))
        finally:
            process.kill()
            process.wait()
        assert f"usdt:{binary}:trace:sample" in by_pid.stdout.splitlines()
