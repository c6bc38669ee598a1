"""BCC's tools/tplist.py ``-l BINARY`` (``-v``, ``-vv``) run unmodified under ``python -m
pybpf.bcc``: the probes, sites and arguments it prints are checked against the notes
binutils' ``readelf -n`` shows, on the USDT test program built at -O0 and -O2 (stack
memory, constants, registers) and on the system's python3.11 where it has probes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_scripts import _bcc_script

from sdt_probes import build, needs_sdt

pytestmark = pytest.mark.skipif(shutil.which("readelf") is None, reason="needs binutils' readelf")

_WIDTH = {"eax": "ax", "ebx": "bx", "ecx": "cx", "edx": "dx", "esi": "si", "edi": "di", "ebp": "bp", "esp": "sp",
          "rax": "ax", "rbx": "bx", "rcx": "cx", "rdx": "dx", "rsi": "si", "rdi": "di", "rbp": "bp", "rsp": "sp",
          "rip": "ip", "al": "ax", "bl": "bx", "cl": "cx", "dl": "dx", "sil": "si", "dil": "di"}


def _register(name: str) -> str:
    return _WIDTH.get(name, re.sub(r"^(r\d+)[dwb]$", r"\1", name))


def _bcc_argument(spec: str) -> str:
    """How BCC's tplist -vv prints a note's ``SIZE@OPERAND`` (read from readelf)."""
    size, _, operand = spec.partition("@")
    prefix = f"{abs(int(size))} {'signed  ' if size.startswith('-') else 'unsigned'} bytes @ "
    if operand.startswith("$"):
        return prefix + str(int(operand[1:], 0))
    if operand.startswith("%"):
        return prefix + _register(operand[1:])
    memory = re.fullmatch(r"(-?\w*)\(%(\w+)(?:,%(\w+)(?:,(\d))?)?\)", operand)
    assert memory, spec
    offset = int(memory[1] or "0", 0)
    index = f" + {_register(memory[3])}" if memory[3] else ""
    index += f" * {memory[4]}" if memory[4] else ""
    return prefix + f"*({_register(memory[2])} {'+' if offset >= 0 else '-'} {abs(offset)}{index})"


def _notes(binary: str) -> list[dict]:
    """The stapsdt notes of ``binary`` as readelf -n prints them."""
    text = subprocess.run(["readelf", "-n", binary], capture_output=True, text=True, check=True).stdout
    notes = []
    for block in text.split("NT_STAPSDT")[1:]:
        fields = dict(re.findall(r"^\s*(Provider|Name|Arguments): ?(.*)$", block, re.M))
        location = re.search(r"Location: (0x[0-9a-f]+)", block)
        semaphore = re.search(r"Semaphore: (0x[0-9a-f]+)", block)
        notes.append({"probe": f"{fields['Provider']}:{fields['Name']}", "address": int(location[1], 16),
                      "semaphore": int(semaphore[1], 16), "arguments": fields.get("Arguments", "").split()})
    return notes


def _tplist(tmp_path: Path, *args: str) -> list[str]:
    import pybpf

    path = os.pathsep.join([str(Path(pybpf.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-m", "pybpf.bcc", str(_bcc_script("tools/tplist.py", tmp_path)), *args],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": path})
    assert done.returncode == 0 and not done.stderr, done.stdout + done.stderr
    return done.stdout.splitlines()


def _expected_vv(binary: str) -> list[str]:
    lines: list[str] = []
    seen: dict[str, list[dict]] = {}
    for note in _notes(binary):
        seen.setdefault(note["probe"], []).append(note)
    for probe, sites in seen.items():
        lines.append(f"{probe} [sema {sites[0]['semaphore']:#x}]")
        for number, site in enumerate(sites, 1):
            lines.append(f"  location #{number} {binary} {site['address']:#x}")
            lines.extend(f"    argument #{i} {_bcc_argument(spec)}" for i, spec in enumerate(site["arguments"], 1))
    return lines


def _check(tmp_path: Path, binary: str) -> None:
    probes = list(dict.fromkeys(note["probe"] for note in _notes(binary)))
    assert probes, f"{binary} has no USDT notes"
    assert _tplist(tmp_path, "-l", binary) == [f"{binary} {probe}" for probe in probes]
    assert _tplist(tmp_path, "-vv", "-l", binary) == _expected_vv(binary)
    first = probes[0]
    sites = [n for n in _notes(binary) if n["probe"] == first]
    assert _tplist(tmp_path, "-v", "-l", binary, first) == [
        f"{first} [sema {sites[0]['semaphore']:#x}]", f"  {len(sites)} location(s)",
        f"  {len(sites[0]['arguments'])} argument(s)"]


@needs_sdt
@pytest.mark.parametrize("optimisation", ["-O0", "-O2"])
def test_tplist_lists_the_probes_of_a_built_program(tmp_path, optimisation):
    _check(tmp_path, build(tmp_path, "pybpf_bccnet", optimisation))


def test_tplist_lists_the_probes_of_python(tmp_path):
    binary = os.path.realpath("/usr/bin/python3.11")     # Debian's, built with its USDT probes
    if not os.path.exists(binary) or not _notes(binary):
        pytest.skip("no python3.11 with USDT notes")
    _check(tmp_path, binary)


COLLECTIONS = "import gc, os; gc.disable(); print(os.getpid(), flush=True); [gc.collect(1) for _ in range(3)]"


@pytest.mark.skipif(os.geteuid() != 0, reason="attaches USDT probes: root only")
def test_trace_prints_a_python_usdt_argument(tmp_path):
    # trace.py finds the probe through enumerate_probes (bytes names) and declares the
    # argument with get_probe_arg_ctype (gc__start's -4@... is int32_t)
    from test_scripts import _run

    python = "/usr/bin/python3.11"
    if not os.path.exists(python) or "gc__start" not in subprocess.run(
            ["readelf", "-n", python], capture_output=True, text=True).stdout:
        pytest.skip("no python3.11 with USDT notes")
    pids: list[str] = []

    def collect() -> None:
        pids.append(subprocess.run([python, "-S", "-c", COLLECTIONS], capture_output=True, text=True,
                                   check=True).stdout.strip())

    out = _run(_bcc_script("tools/trace.py", tmp_path), [f'u:{python}:gc__start "gen %d", arg1'], collect,
               ready="PID", stop_after=2)
    rows = [line.split() for line in out.splitlines()]
    for pid in pids:
        mine = [row for row in rows if row[:1] == [pid]]
        # besides the three collections it asks for, the interpreter collects generation 0
        # while it starts and generation 2 when it exits
        assert [row[3:] for row in mine if row[5] == "1"] == [["gc__start", "gen", "1"]] * 3, out
        assert {row[5] for row in mine} <= {"0", "1", "2"}, out


LIBRARY = r"""
#include <sys/sdt.h>
void pybpf_tick(int value) { STAP_PROBE1(pybpf_bccnet_lib, tick, value); }
"""
PROGRAM = r"""
#include <stdio.h>
void pybpf_tick(int value);
int main(void) {
    char line[16];
    printf("%d\n", 0); fflush(stdout);
    while (fgets(line, sizeof(line), stdin))
        for (int i = 1; i <= 5; i++) pybpf_tick(i * 11);
    return 0;
}
"""


@needs_sdt
@pytest.mark.skipif(os.geteuid() != 0, reason="attaches USDT probes: root only")
def test_a_process_probes_in_the_libraries_it_maps(tmp_path):
    # USDT(pid=) finds probes in the process's shared libraries too, as BCC's does: tplist
    # -p lists them, and enable_probe attaches to the library's site
    from pybpf.bcc import BPF
    from pybpf.bcc.usdt import USDT

    (tmp_path / "lib.c").write_text(LIBRARY)
    (tmp_path / "main.c").write_text(PROGRAM)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(tmp_path / "libpybpftick.so"), str(tmp_path / "lib.c")],
                   check=True)
    subprocess.run(["gcc", "-o", str(tmp_path / "ticker"), str(tmp_path / "main.c"), f"-L{tmp_path}", "-lpybpftick",
                    f"-Wl,-rpath,{tmp_path}"], check=True)
    ticker = subprocess.Popen([str(tmp_path / "ticker")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert ticker.stdout.readline().strip() == "0"
        listed = _tplist(tmp_path, "-p", str(ticker.pid))
        assert f"{tmp_path}/libpybpftick.so pybpf_bccnet_lib:tick" in listed, listed
        usdt = USDT(pid=ticker.pid)
        usdt.enable_probe("pybpf_bccnet_lib:tick", "on_tick")
        assert usdt.get_probe_arg_ctype("pybpf_bccnet_lib:tick", 0) == "int32_t"
        b = BPF(text="""
BPF_HASH(values, u64, u64);
int on_tick(struct pt_regs *ctx) { u64 v = 0; bpf_usdt_readarg(1, ctx, &v); values.increment(v); return 0; }
""", usdt_contexts=[usdt])
        try:
            ticker.stdin.write("go\n")
            ticker.stdin.flush()
            ticker.stdin.close()
            ticker.wait(10)
            assert sorted((k.value, v.value) for k, v in b["values"].items()) == [(i * 11, 1) for i in range(1, 6)]
        finally:
            b.cleanup()
    finally:
        ticker.kill()
        ticker.wait()
