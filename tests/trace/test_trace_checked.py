"""What an outside check of ``pybpf trace`` against bpftrace 0.17 found (docs/trace.md,
"Checked against bpftrace 2026-12-08"): each mismatch it fixed, twice — as a
differential test beside the installed bpftrace (root; skipped without bpftrace), and as
a plain test whose expected text is what bpftrace 0.17 printed on this machine for the
same program, run on the vm engine (no root) or compiled only."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pybpf.trace.errors import TraceSyntaxError
from pybpf.trace.runtime import Options, compile_source, run_on_records
from pybpf.tracefs.format import parse_format
from recorded_formats import EXEC_FORMAT

SRC = Path(__file__).resolve().parents[2] / "src"
BPFTRACE = shutil.which("bpftrace")
differential = pytest.mark.skipif(BPFTRACE is None or os.geteuid() != 0,
                                  reason="needs root and bpftrace installed (the differential half)")

# (program, what bpftrace 0.17 printed for it here)
PRINTED = [
    # printf passes a 64-bit integer to C's snprintf: %d/%u/%x/%o/%c read its low 32 bits,
    # %hhd/%hd 8/16, %lu/%ld all 64 (pybpf printed all 64 bits for every conversion)
    ('BEGIN { printf("%d %u %x %X %o|%lu %ld %hhd %hd|%c|%5d|%-6x|%05u\\n", -5, -5, 255, 3054, 8, -1, -1, 300, '
     '70000, 0x141, -42, 255, 7); $x = 1000000000000; printf("%d %ld %d %u %lu\\n", $x * $x, $x * $x, 1 << 63, '
     '(uint32)-1 + 1, (uint32)-1 + 1); exit(); }',
     "Attaching 1 probe...\n"
     "-5 4294967291 ff BEE 10|18446744073709551615 -1 44 4464|A|  -42|ff    |00007\n"
     "-1593835520 2003764205206896640 0 0 4294967296\n\n\n"),
    # a % before a space is text, as bpftrace 0.17 reads conversions (pybpf took "% d" for one)
    ('BEGIN { printf("50% done\\n"); printf("%d%% of %d\\n", 5, 10); exit(); }',
     "Attaching 1 probe...\n50% done\n5% of 10\n\n\n"),
    # / and % are unsigned and >> logical whatever the operands' signs (pybpf divided and
    # shifted signed); a shift is signed when its left side is
    ('BEGIN { $a = 7; $b = -2; printf("%ld %ld %ld %ld|%ld %ld %lu|%d\\n", $a / $b, -$a / 2, -$a % 2, $a % $b, '
     '-5 >> 1, -16 >> 2, (uint64)-16 >> 2, -7 / 2); @q = -7 / 2; @r = -10 >> 1; @s[-5 % 3] = 1; exit(); }',
     "Attaching 1 probe...\n"
     "0 9223372036854775804 1 7|9223372036854775805 4611686018427387900 4611686018427387900|-4\n\n\n"
     "@q: 9223372036854775804\n@r: 9223372036854775803\n@s[2]: 1\n"),
    # avg/stats (and hist/lhist) maps are sorted with std::sort over the keys' byte order:
    # past 16 entries, ties come out in introsort's order (pybpf's stable sort differed)
    ('BEGIN { $i = 0; while ($i < 20) { @a[$i] = avg($i % 3); @s[$i * 7 % 23] = stats($i / 7); $i++; } exit(); }',
     "Attaching 1 probe...\n\n\n"
     "@a[18]: 0\n@a[3]: 0\n@a[15]: 0\n@a[6]: 0\n@a[12]: 0\n@a[9]: 0\n@a[0]: 0\n@a[10]: 1\n@a[19]: 1\n@a[16]: 1\n"
     "@a[13]: 1\n@a[7]: 1\n@a[4]: 1\n@a[1]: 1\n@a[11]: 2\n@a[8]: 2\n@a[14]: 2\n@a[5]: 2\n@a[17]: 2\n@a[2]: 2\n\n"
     "@s[0]: count 1, average 0, total 0\n@s[21]: count 1, average 0, total 0\n@s[19]: count 1, average 0, total 0\n"
     "@s[5]: count 1, average 0, total 0\n@s[7]: count 1, average 0, total 0\n@s[14]: count 1, average 0, total 0\n"
     "@s[12]: count 1, average 0, total 0\n@s[22]: count 1, average 1, total 1\n@s[17]: count 1, average 1, total 1\n"
     "@s[15]: count 1, average 1, total 1\n@s[10]: count 1, average 1, total 1\n@s[8]: count 1, average 1, total 1\n"
     "@s[3]: count 1, average 1, total 1\n@s[1]: count 1, average 1, total 1\n@s[11]: count 1, average 2, total 2\n"
     "@s[13]: count 1, average 2, total 2\n@s[6]: count 1, average 2, total 2\n@s[18]: count 1, average 2, total 2\n"
     "@s[4]: count 1, average 2, total 2\n@s[20]: count 1, average 2, total 2\n\n"),
    ('BEGIN { $i = 0; while ($i < 24) { @a[$i, "k"] = avg($i % 2); $i++; } print(@a, 5); print(@a, 3, 2); '
     'clear(@a); exit(); }',
     "Attaching 1 probe...\n@a[9, k]: 1\n@a[7, k]: 1\n@a[5, k]: 1\n@a[3, k]: 1\n@a[1, k]: 1\n\n"
     "@a[5, k]: 0\n@a[3, k]: 0\n@a[1, k]: 0\n\n\n\n\n\n"),
    # - and ~ work at their operand's width: ~(uint8)0 is 255 (pybpf: -1 over 64 bits)
    ('BEGIN { printf("%ld %ld %ld\\n", ~(uint8)0, -(uint8)1, -(uint32)1); @a = -(uint64)5; @b = ~(uint16)1; '
     '@c = -(int16)5; exit(); }',
     "Attaching 1 probe...\n255 255 4294967295\n\n\n@a: 18446744073709551611\n@b: 65534\n@c: -5\n"),
    # ++/-- keep a narrow variable's type and wrap (pybpf widened $x to 64 bits: 256)
    ('BEGIN { $x = (uint8)255; $x++; $y = (int8)127; $y++; $z = (uint16)0; $z--; $w = (uint8)254; '
     'printf("%d %d %d|%d %d %d\\n", $x, $y, $z, $w++, ++$w, $w); exit(); }',
     "Attaching 1 probe...\n0 -128 65535|254 0 0\n\n\n"),
    # a keyless count() is a one-slot array in bpftrace: printed (0) even when never counted
    ('BEGIN { if (0) { @x = count(); } @s = sum(2); exit(); }', "Attaching 1 probe...\n\n\n@s: 2\n@x: 0\n"),
    # print()'s top and div are ignored for stats maps (pybpf kept the top entries)
    ('BEGIN { @s[1] = stats(1); @s[2] = stats(5); print(@s, 1, 10); clear(@s); exit(); }',
     "Attaching 1 probe...\n@s[1]: count 1, average 1, total 1\n@s[2]: count 1, average 5, total 5\n\n\n\n\n\n"),
    # an address with no symbol is printed as C++ streams a pointer: null as "0" (pybpf: 0x0)
    ('BEGIN { printf("%s|", ksym(0)); @[ksym(0)] = count(); exit(); }', "Attaching 1 probe...\n0|\n\n@[0]: 1\n"),
]

# (program, bpftrace 0.17's error for it here, without the place)
REFUSED = [
    ("BEGIN { exit(1, 2); }", None),  # bpftrace 0.17 takes no argument, a newer one the exit status
    ("BEGIN { print(@x, 1, 2, 3); @x = 1; }", "print() takes up to 3 arguments (4 provided)"),
    ("BEGIN { @x = lhist(1, 0, 10); }", "lhist() requires 4 arguments (3 provided)"),
    ('BEGIN { strftime("%H"); }', "strftime() requires at least 2 arguments (1 provided)"),
    ("BEGIN { ksym(); }", "ksym() requires one argument (0 provided)"),
    ("BEGIN { @x = count(1); }", "count() requires no arguments (1 provided)"),
    ('BEGIN { time("a", "b"); }', "time() takes up to one argument (2 provided)"),
    ('BEGIN { $x = strncmp("a", "b"); }', "strncmp() requires 3 arguments (2 provided)"),
    ("BEGIN { printf(); }", "printf() requires at least one argument (0 provided)"),
    ('BEGIN { printf("%d %s\\n", 1); }', "printf: Not enough arguments for format string (1 supplied, 2 expected)"),
    ('BEGIN { printf("%d\\n", 1, 2); }', "printf: Too many arguments for format string (2 supplied, 1 expected)"),
    ('tracepoint:sched:sched_process_exec { printf("%s\\n", func); }',
     "The func builtin can not be used with 'tracepoint' probes"),
    ('BEGIN { printf("%s\\n", func); }', "The func builtin can not be used with 'BEGIN' probes"),
    ("BEGIN { $x = 99999999999999999999; }", None),  # bpftrace: "stoull"
    ("BEGIN { @l = lhist(-5, -10, 10, 5); }", "lhist() min must be non-negative (provided min -10)"),
    ("BEGIN { @l = lhist(5, 0, 100000, 10); }", "lhist() too many buckets, must be <= 1000 (would need 10000)"),
    ("BEGIN { @l = lhist(1, 0, 10, 0); }", "lhist() step must be >= 1 (0 provided)"),
    ("BEGIN { @l = lhist(1, 10, 0, 1); }", "lhist() min must be less than max (provided min 10 and max 0)"),
]


def run_vm(program: str) -> tuple[int, str]:
    out = io.StringIO()
    status = run_on_records(program, [], {}, Options(output=out))
    return status, out.getvalue()


@pytest.mark.parametrize("program, printed", PRINTED)
def test_prints_what_bpftrace_printed(program, printed):
    assert run_vm(program) == (0, printed)


@pytest.mark.parametrize("program, message", REFUSED)
def test_refused_as_bpftrace_refuses(program, message):
    with pytest.raises(TraceSyntaxError) as info:
        compile_source(program, formats={"sched:sched_process_exec": parse_format(EXEC_FORMAT, "sched")})
    first = str(info.value).splitlines()[0]
    assert first.startswith("stdin:1:")
    if message is not None:
        assert first.endswith(f"ERROR: {message}")


def test_exit_takes_the_status_as_a_newer_bpftrace():
    assert run_vm("BEGIN { exit(3); }")[0] == 3
    assert run_vm("BEGIN { exit(); }")[0] == 0


def test_str_of_a_string_with_a_length_truncates():
    # bpftrace 0.17 refuses str() of a string; a newer one truncates as str(pointer, n) reads
    assert run_vm('BEGIN { $t = "xyz"; printf("[%s] [%s] [%s]\\n", str("abcdef", 3), str($t, 2), str($t, 100)); '
                  'exit(); }')[1] == "Attaching 1 probe...\n[abc] [xy] [xyz]\n\n\n"


def pybpf(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pybpf", "trace", *args], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PYTHONPATH=str(SRC)), check=False)


def bpftrace(*args: str) -> subprocess.CompletedProcess:
    assert BPFTRACE is not None
    return subprocess.run([BPFTRACE, *args], capture_output=True, text=True, timeout=60, check=False)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("stdin:")]


@differential
@pytest.mark.parametrize("program, printed", PRINTED)
def test_prints_as_bpftrace_prints(program, printed):
    ours, theirs = pybpf("-e", program), bpftrace("-e", program)
    assert theirs.returncode == 0 and theirs.stdout == printed
    assert ours.returncode == 0 and ours.stdout == theirs.stdout


@differential
@pytest.mark.parametrize("program, message", [case for case in REFUSED if case[1] is not None])
def test_refuses_as_bpftrace_refuses(program, message):
    ours, theirs = pybpf("-e", program), bpftrace("-e", program)
    assert theirs.returncode == ours.returncode == 1
    assert error_lines(ours.stderr)[0] == error_lines(theirs.stderr)[0]


@differential
def test_child_makes_bpftraces_system_calls_before_exec():
    # bpftrace's -c child reads its 8-byte go and closes that descriptor before exec;
    # probes filtered on cpid see both (pybpf's child read 1 byte and closed nothing)
    program = ("tracepoint:syscalls:sys_exit_read /pid == cpid/ { @reads = hist(args->ret); } "
               "tracepoint:syscalls:sys_enter_close /pid == cpid/ { @closes = count(); }")
    ours, theirs = pybpf("-c", "/bin/true", "-e", program), bpftrace("-c", "/bin/true", "-e", program)
    assert theirs.returncode == 0 and "[8, 16)" in theirs.stdout
    assert ours.stdout == theirs.stdout


# buf(pointer, length known when run): min(length, 64) bytes (pybpf wanted a literal), and an
# integer given to buf() is a pointer to read (pybpf copied the pointer's own bytes)
BUFFERS = ('tracepoint:syscalls:sys_enter_write /pid == cpid/ { printf("%r|%rx\\n", buf(args->buf, args->count), '
           'buf(args->buf, 3)); @[buf(args->buf, 4)] = count(); }')
BUFFERS_PRINTED = "Attaching 1 probe...\none two\\x0a|\\x6f\\x6e\\x65\n\n\n@[one ]: 1\n"  # bpftrace 0.17, here


def without_child_output(text: str) -> str:
    return text.replace("one two\n", "", 1)  # echo's own line, wherever it lands among the events


@pytest.mark.skipif(os.geteuid() != 0, reason="tracing programs need root")
def test_buffers_print_what_bpftrace_printed():
    ours = pybpf("-c", "/bin/echo one two", "-e", BUFFERS)
    assert ours.returncode == 0, ours.stderr
    assert without_child_output(ours.stdout) == BUFFERS_PRINTED


@differential
def test_buffers_print_as_bpftrace_prints():
    ours, theirs = pybpf("-c", "/bin/echo one two", "-e", BUFFERS), bpftrace("-c", "/bin/echo one two", "-e", BUFFERS)
    assert without_child_output(ours.stdout) == without_child_output(theirs.stdout) == BUFFERS_PRINTED


# bpftrace's warnings for signed division and mixed signs, placed on the operator (pybpf
# printed none); the first line of each, as bpftrace 0.17 printed it here
SIGNS = 'BEGIN { $a = 7; $u = (uint32)3; printf("%d %d %d\\n", -$a / 2, (uint64)5 > -1, $u + -1); exit(); }'
SIGNS_WARNED = [
    "stdin:1:58-59: WARNING: signed operands for '/' can lead to undefined behavior (cast to unsigned to silence "
    "warning)",
    "stdin:1:73-74: WARNING: comparison of integers of different signs: 'unsigned int64' and 'int64' can lead to "
    "undefined behavior",
    "stdin:1:82-83: WARNING: arithmetic on integers of different signs: 'unsigned int32' and 'int64' can lead to "
    "undefined behavior",
]


def test_sign_warnings_as_bpftrace_warned():
    assert [warning.splitlines()[0] for warning in compile_source(SIGNS).warnings] == SIGNS_WARNED


@differential
def test_sign_warnings_as_bpftrace_warns():
    ours, theirs = pybpf("-e", SIGNS), bpftrace("-e", SIGNS)
    assert [line for line in theirs.stderr.splitlines() if "WARNING" in line] == SIGNS_WARNED
    assert ours.stderr == "\n".join(line for line in theirs.stderr.splitlines() if "RLIMIT" not in line) + "\n"
