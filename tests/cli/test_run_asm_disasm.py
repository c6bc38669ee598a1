"""``pybpf run``, ``asm`` and ``disasm``: results, output files, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pybpf.cli import main
from pybpf.vm.helpers.printk import PRINTK_BYTES_PER_UNIT, PRINTK_COST
from shared_data import REPO

SUM = REPO / "examples" / "sum.asm"


def test_run_on_the_vm(capsys):
    assert main(["run", str(SUM), "--engine", "vm", "--conformance"]) == 0
    assert capsys.readouterr().out == "r0 = 5050 (0x13ba)  [vm engine]\n"


def test_run_json_with_memory_and_trace_output(tmp_path, capsys):
    program = tmp_path / "p.asm"
    program.write_text("ldxb %r3, [%r1+1]\nr1 = 0x0a7825 ll\n*(u64 *)(r10 -8) = r1\nr1 = r10\nr1 += -8\n"
                       "r2 = 4\ncall bpf_trace_printk\nr0 = r2\nexit\n".replace("r0 = r2", "r0 = 7"))
    assert main(["run", str(program), "--engine", "vm", "--conformance", "--mem", "01 ff", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["retval"] == 7 and result["output"] == ["ff\n"] and result["engine"] == "vm"
    # the budget used: 9 instructions and the bpf_trace_printk call's work (docs/vm.md)
    assert result["instructions"] == 9 + PRINTK_COST + (4 + 2 * 3) // PRINTK_BYTES_PER_UNIT


@pytest.mark.skipif(os.geteuid() != 0, reason="the kernel engine needs root")
def test_run_on_the_kernel_agrees(capsys):
    assert main(["run", str(SUM), "--engine", "kernel", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["retval"] == 5050


def test_asm_then_disasm(tmp_path, capsys):
    out = tmp_path / "sum.bin"
    assert main(["asm", str(SUM), "-o", str(out)]) == 0
    assert out.stat().st_size == 6 * 8
    assert main(["disasm", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[4] == "   4: if r1 <= 0x64 goto -3"
    assert main(["disasm", str(out), "--labels", "--no-numbers"]) == 0
    assert "goto L2" in capsys.readouterr().out


@pytest.mark.parametrize("argv, why", [
    (["run", "{bad}", "--engine", "vm"], "line 1, column 1: unknown register 'r12'"),
    (["run", "{sum}", "--engine", "vm", "--mem", "zz"], "--mem: not hex bytes"),
    (["run", "{sum}", "--engine", "vm", "--conformance", "--max-instructions", "10"], "ran 10 instructions"),
    (["run", "{sum}", "--engine", "vm", "--conformance", "--max-instructions", "-1"],
     "--max-instructions must be at least 1, not -1"),
    (["run", "{sum}", "--engine", "vm", "--max-instructions", "10"], "--max-instructions applies to --conformance"),
    (["run", "{sum}", "--engine", "kernel", "--conformance"], "--conformance runs on the vm only"),
    (["run", "{sum}", "--engine", "vm", "--repeat", str(1 << 32)], "--repeat must be between 1 and 4294967295"),
    (["run", "{sum}", "--engine", "vm", "--repeat", "0"], "--repeat must be between 1 and 4294967295"),
    (["run", "{odd}", "--engine", "vm"], "not a whole number of 8-byte instructions"),
    (["run", "{missing}", "--engine", "vm"], "No such file"),
    (["asm", "{bad}", "-o", "{out}"], "unknown register"),
    (["disasm", "{junk}"], "instruction 0:"),
])
def test_errors_are_one_line(tmp_path, capsys, argv, why):
    files = {"bad": tmp_path / "bad.asm", "odd": tmp_path / "odd.bin", "junk": tmp_path / "junk.bin",
             "sum": SUM, "missing": tmp_path / "missing.bin", "out": tmp_path / "out.bin"}
    files["bad"].write_text("r12 = 1\nexit\n")
    files["odd"].write_bytes(b"\x95" * 5)
    files["junk"].write_bytes(b"\xff" * 8)
    assert main([a.format(**{k: str(v) for k, v in files.items()}) for a in argv]) == 1
    err = capsys.readouterr().err
    assert why in err and err.count("\n") <= 3 and "Traceback" not in err
    assert not files["out"].exists()  # nothing half-written


def test_installed_script_runs():
    result = subprocess.run([sys.executable, "-m", "pybpf", "run", str(SUM), "--engine", "vm"],
                            capture_output=True, text=True, check=True)
    assert "r0 = 5050" in result.stdout
