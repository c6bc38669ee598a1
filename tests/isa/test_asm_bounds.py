"""The assembler tried as a hostile or careless user would (issue 12): a file that is not
UTF-8 is a one-line error with its place, digits that are not ASCII are refused instead
of read as numbers, and long or deep lines end in an :class:`AsmError` in well under a
second — no traceback, no RecursionError, no minutes of regex backtracking."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.isa import AsmError, assemble
from shared_data import REPO, shared_path
from time_limits import time_limit


def _pybpf(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybpf", *args], capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize("command", ["asm", "run"])
def test_a_file_that_is_not_utf8_is_one_line_with_its_place(command):
    path = str(shared_path("reproducers", "asm_not_utf8.asm"))
    done = _pybpf(command, path)
    assert done.returncode == 1
    assert done.stderr.startswith(f"pybpf {command}: error: {path}: line 2, column 1: not UTF-8 text (byte 7: 0xff)")
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize("digits", ["١٢", "１２", "۱۲", "१२", "1²", "12\u0663"])
def test_digits_that_are_not_ascii_are_refused(digits):
    with pytest.raises(AsmError, match=r"^line 1, column \d+: '.' \(U\+[0-9A-F]{4}\) is not ASCII"):
        assemble(f"r0 = {digits}\nexit")
    with pytest.raises(AsmError, match="is not ASCII"):
        assemble(f"mov %r0, {digits}\nexit")


def test_non_ascii_in_a_comment_is_a_comment():
    assert assemble("r0 = 12 // ١٢\nexit") == assemble("r0 = 12\nexit")


LONG = 50_000
HOSTILE = {
    "spaces before an operand": "r0 = " + " " * LONG + "x",
    "tabs before an operator": "r0" + "\t" * LONG + "+= x",
    "spaces in a mnemonic line": "mov %r0," + " " * LONG + "x",
    "spaces in a memory operand": "*(u32 *)(r1 +" + " " * LONG + ") = x",
    "spaces in a branch": "if r0 > " + " " * LONG + "1 goto x",
    "nested parentheses": "r0 = " + "(" * LONG + "1" + ")" * LONG,
    "nested brackets": "mov %r0, " + "[" * LONG,
    "a long sum": "r0 = 1" + " + 1" * (LONG // 4),
    "many signs": "r0 = " + "-" * LONG + "1",
    "a number of 50,000 digits": "r0 = " + "1" * LONG,
    "a hex number of 50,000 digits": "r0 = 0x" + "f" * LONG + " ll",
    "a register of 50,000 digits": "r" + "1" * LONG + " = 1",
    "a sign extension of 50,000 bits": "r0 = (s" + "1" * LONG + ") r1",
    "a long label": "call " + "a" * LONG,
}


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_long_and_deep_lines_fail_fast_with_an_asm_error(text):
    with time_limit(5, "assembling"), pytest.raises(AsmError):
        assemble(text)


def test_a_long_line_that_is_right_still_assembles():
    assert assemble("mov" + " " * LONG + "%r0, 1\nexit") == assemble("mov %r0, 1\nexit")


ASM_ALPHABET = st.sampled_from(list("r0123456789wx+-*/=()[]<>&|^%!:;, \t\nabcdefgilmnopstuv") + ["١", "\u00a0", "\ufeff"])


@settings(max_examples=300, deadline=None)
@given(st.lists(ASM_ALPHABET, max_size=200).map("".join))
def test_random_text_assembles_or_raises_asm_error(text):
    with time_limit(5, "assembling"):
        try:
            assemble(text)
        except AsmError as exc:
            assert str(exc).startswith("line ")
