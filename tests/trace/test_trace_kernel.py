"""pybpf trace against real events in the kernel (root), and beside bpftrace 0.17 where
it is installed: the same program, the same events, the same output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="tracing programs need root")
SRC = os.path.join(os.path.dirname(__file__), "..", "..", "src")
BPFTRACE = shutil.which("bpftrace")


def pybpf_trace(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.path.abspath(SRC))
    return subprocess.run([sys.executable, "-m", "pybpf", "trace", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)


def bpftrace(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([BPFTRACE, *args], capture_output=True, text=True, timeout=timeout, check=False)


BEGIN_PROGRAM = r"""
BEGIN {
  @a = count(); @b[1] = sum(5); @b[2] = sum(3); @s["x", 2] = avg(7); @st = stats(10); @st = stats(3);
  @mi = min(4); @mi = min(-2); @ma = max(9); @c = hist(5); @c = hist(100); @c = hist(0); @c = hist(-1);
  @l = lhist(15, 0, 100, 10); @l = lhist(200, 0, 100, 10); @l = lhist(-5, 0, 100, 10); @v = 5; @str["hello"] = 1;
  @t = (1, "two"); $x = 7; $y = $x * 3 - 1; @k["a", 2] = $y / 3; @k["b", 1] = $y % 4;
  printf("%d %s %-5d| %x %5s| %u|\n", -1, "ab", 3, 255, "xy", 10);
  if ($x > 5) { printf("big\n"); } else { printf("small\n"); }
  printf("%d %d\n", $x > 3 ? 10 : 20, 1 << 4 | 1);
  $s = "abc"; if ($s == "abc") { printf("eq\n"); } if ($s != "abd") { printf("ne\n"); }
  unroll(3) { $x = $x + 1; } printf("%d\n", $x);
  while ($x < 20) { $x++; } printf("%d\n", $x);
  exit();
}
END { printf("end\n"); }
"""


def test_begin_program_runs():
    result = pybpf_trace("-e", BEGIN_PROGRAM)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Attaching 2 probes...\n-1 ab 3    | ff    xy| 10|\nbig\n10 17\neq\nne\n10\n20\nend\n")
    assert "@c: \n(..., 0)" in result.stdout and "@st: count 2, average 6, total 13\n" in result.stdout


@pytest.mark.skipif(BPFTRACE is None, reason="bpftrace is not installed")
def test_begin_program_output_is_bpftraces():
    ours, theirs = pybpf_trace("-e", BEGIN_PROGRAM), bpftrace("-e", BEGIN_PROGRAM)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.stdout == theirs.stdout


def test_openat_events_counted_by_key_and_bucket():
    with tempfile.TemporaryDirectory(prefix="trace-") as tmp:
        path = os.path.join(tmp, "opened-by-trace-test")
        with open(path, "w") as f:
            f.write("x\n")
        program = (f'tracepoint:syscalls:sys_enter_openat /str(args->filename) == "{path}"/ '
                   '{ @[comm, str(args->filename)] = count(); @flags = lhist(args->flags & 3, 0, 4, 1); }')
        script = os.path.join(tmp, "cat3.sh")  # -c splits at spaces (no shell quoting), as bpftrace's
        with open(script, "w") as f:
            f.write(f"cat {path} {path} {path} > /dev/null\n")
        command = f"/bin/sh {script}"
        ours = pybpf_trace("-c", command, "-e", program)
    assert ours.returncode == 0, ours.stderr
    bar = "@" * 52
    assert ours.stdout == (f"Attaching 1 probe...\n\n\n@[cat, {path}]: 3\n"
                           f"@flags: \n[0, 1)                 3 |{bar}|\n\n")


def test_syntax_error_exit_status_and_caret():
    result = pybpf_trace("-e", "BEGIN { @x = ; }")
    assert result.returncode == 1
    assert result.stderr.splitlines()[:3] == ["stdin:1:14-15: ERROR: syntax error, unexpected ';'",
                                              "BEGIN { @x = ; }", "             ~"]


def test_notify_word_and_sigterm_prints_maps():
    env = dict(os.environ, PYTHONPATH=os.path.abspath(SRC), __BPFTRACE_NOTIFY_PROBES_ATTACHED="1")
    process = subprocess.Popen([sys.executable, "-m", "pybpf", "trace", "-e",
                                "interval:ms:50 { @ticks = count(); }"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    line = process.stderr.readline()
    assert line == "__BPFTRACE_NOTIFY_PROBES_ATTACHED\n"
    import time
    time.sleep(0.3)
    process.terminate()
    out, _ = process.communicate(timeout=20)
    assert process.returncode == 0
    assert out.startswith("Attaching 1 probe...\n\n\n@ticks: ")


LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
needs_libc = pytest.mark.skipif(not os.path.exists(LIBC), reason=f"{LIBC} is not here")


@pytest.mark.skipif(BPFTRACE is None, reason="bpftrace is not installed")
@needs_libc
def test_join_uprobe_uretprobe_and_cpid_match_bpftrace():
    program = ("tracepoint:syscalls:sys_enter_execve /pid == cpid/ { join(args->argv); join(args->argv, \",\"); } "
               f"uprobe:{LIBC}:malloc /pid == cpid/ {{ @ = count(); @h = hist(arg0); }} "
               f"uretprobe:{LIBC}:malloc /pid == cpid/ {{ @ret[retval > 0] = count(); }}")
    command = "/bin/echo a b c"  # bpftrace 0.17 splits -c on blanks: no quotes
    ours, theirs = pybpf_trace("-c", command, "-e", program), bpftrace("-c", command, "-e", program)
    assert ours.returncode == 0, ours.stderr
    # the command's own line ("a b c") races with the traced events: compare events as a set
    our_events, our_maps = ours.stdout.split("\n\n\n", 1)
    their_events, their_maps = theirs.stdout.split("\n\n\n", 1)
    assert sorted(our_events.splitlines()) == sorted(their_events.splitlines()) == sorted(
        ["Attaching 3 probes...", "/bin/echo a b c", "/bin/echo,a,b,c", "a b c"])
    assert our_maps == their_maps


@pytest.mark.skipif(BPFTRACE is None, reason="bpftrace is not installed")
def test_kernel_types_through_btf_match_bpftrace():
    program = ('BEGIN { $t = (struct task_struct *)curtask; printf("%d %d %d %d\\n", $t->pid == pid, '
               'curtask->parent->tgid > 0, sizeof(struct task_struct), $t->real_parent->real_parent->pid >= 0); '
               'printf("%d %s\\n", strncmp("hello", "help", 3), "x"); @m[$t->pid == pid, "a"] = count(); exit(); }')
    ours, theirs = pybpf_trace("-e", program), bpftrace("-e", program)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout


def test_other_probe_kinds_fire():
    program = ("rawtracepoint:sched_switch { @sw = count(); } software:cpu-clock:1000000 { @sc = count(); } "
               "profile:hz:99 { @p = count(); @k[kstack] = count(); } interval:ms:300 { exit(); }")
    result = pybpf_trace("-e", program)
    assert result.returncode == 0, result.stderr
    counts = dict(line.split(": ") for line in result.stdout.splitlines() if line.startswith(("@sw", "@sc", "@p")))
    assert set(counts) == {"@sw", "@sc", "@p"} and all(int(v) > 0 for v in counts.values())
    assert "@k[\n" in result.stdout


def test_kprobe_refusal_names_the_tracepoint():
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        pytest.skip("this kernel has kprobes")
    result = pybpf_trace("-e", "kprobe:__x64_sys_openat { @ = count(); }")
    assert result.returncode == 1
    assert "tracepoint:syscalls:sys_enter_openat" in result.stderr


@pytest.mark.skipif(BPFTRACE is None, reason="bpftrace is not installed")
def test_json_output_matches_bpftrace():
    program = ('BEGIN { printf("a %d\\n", 1); @a = count(); @b["x"] = sum(3); @h = hist(3); @s = stats(4); '
               '@l = lhist(3, 0, 10, 2); print(5); print(@b); @t = (1, "a"); @m = avg(5); exit(); }')
    ours, theirs = pybpf_trace("-f", "json", "-e", program), bpftrace("-f", "json", "-e", program)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout
    assert '{"type": "stats", "data": {"@s": {"count": 1, "average": 4, "total": 4}}}' in ours.stdout


def test_ntop_of_tracepoint_address_arrays():
    script = ("import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
              "c = socket.create_connection(s.getsockname()); a, _ = s.accept(); c.close(); a.close()")
    with tempfile.NamedTemporaryFile("w", suffix=".py", prefix="trace-") as f:
        f.write(script)
        f.flush()
        program = ('tracepoint:sock:inet_sock_set_state /args->family == 2 && args->newstate == 1/ '
                   '{ @[ntop(args->saddr), ntop(args->daddr), args->protocol] = count(); '
                   '@v6[ntop(args->saddr_v6)] = count(); }')
        result = pybpf_trace("-c", f"{sys.executable} {f.name}", "-e", program)
    assert result.returncode == 0, result.stderr
    assert "@[127.0.0.1, 127.0.0.1, 6]: " in result.stdout
    assert "@v6[::ffff:127.0.0.1]: " in result.stdout


def test_strftime_buf_macaddr_cgroupid_and_unsafe_functions():
    result = pybpf_trace("-e", 'BEGIN { printf("%s|%s|%s|%d\\n", strftime("%Y", nsecs), buf("ab\\tc", 4), '
                               'macaddr("\\x01\\x02\\x03\\x04\\x05\\x06"), cgroupid("/sys/fs/cgroup") == 1); exit(); }')
    assert result.returncode == 0, result.stderr
    import time
    assert result.stdout.splitlines()[1] == f"{time.strftime('%Y')}|ab\\x09c|01:02:03:04:05:06|1"
    refused = pybpf_trace("-e", 'BEGIN { system("true"); }')
    assert refused.returncode == 1 and "unsafe" in refused.stderr


@pytest.mark.skipif(BPFTRACE is None, reason="bpftrace is not installed")
@pytest.mark.parametrize("args", [["-lv", "tracepoint:syscalls:sys_enter_openat"], ["-l", "tracepoint:sched:*"]])
def test_listing_matches_bpftrace(args):
    ours, theirs = pybpf_trace(*args), bpftrace(*args)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout and ours.stdout


@pytest.mark.skipif(BPFTRACE is None, reason="bpftrace is not installed")
def test_bare_glob_listing_finds_tracepoints_as_bpftrace():
    """``-l '*sched_switch*'`` matches whole probe names (bpftrace also echoes the glob as
    software:/hardware: lines, which pybpf does not)."""
    ours, theirs = pybpf_trace("-l", "*sched_switch*"), bpftrace("-l", "*sched_switch*")
    assert ours.stdout == "tracepoint:sched:sched_switch\n"
    assert [line for line in theirs.stdout.splitlines() if line.startswith("tracepoint:")] == \
        ["tracepoint:sched:sched_switch"]


STRUCT_PROGRAM = r"""
#include <stdio.h>
struct Foo { int m; int n; char name[8]; int x[4]; };
__attribute__((noinline)) int func(struct Foo *foo) { return foo->m + foo->n; }
int main(void) { struct Foo foo = {2, 3, "trace", {1, 2, 3, 4}}; printf("%d\n", func(&foo)); return 0; }
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
def test_program_struct_definitions_values_and_arrays():
    with tempfile.TemporaryDirectory(prefix="trace-") as tmp:
        source, binary = os.path.join(tmp, "structs.c"), os.path.join(tmp, "structs")
        with open(source, "w") as f:
            f.write(STRUCT_PROGRAM)
        subprocess.run(["gcc", "-O0", "-g", "-o", binary, source], check=True)
        program = (f"struct Foo {{ int m; int n; char name[8]; int x[4]; }} uprobe:{binary}:func "
                   "{ $f = (struct Foo *)arg0; $s = *$f; @s = $s; @x = $f->x; "
                   'printf("%d %d %s %d %d\\n", $s.m, $f->n, $f->name, $f->x[3], sizeof(struct Foo)); exit(); }')
        result = pybpf_trace("-c", binary, "-e", program)
    assert result.returncode == 0, result.stderr
    assert "2 3 trace 4 32\n" in result.stdout
    assert result.stdout.endswith('@s: { .m = 2, .n = 3, .name = trace, .x = [1,2,3,4] }\n@x: [1,2,3,4]\n')


@pytest.mark.skipif(BPFTRACE is None, reason="bpftrace is not installed")
def test_positional_parameters_where_literals_are_wanted():
    program = ('BEGIN { $a = 1; unroll ($1) { $a++; } if (strncmp("hello", "hell", $2) == 0) { printf("ok %d\\n", $a); } '
               '@ = buf("hello", $2); exit(); }')
    ours, theirs = pybpf_trace("-e", program, "3", "4"), bpftrace("-e", program, "3", "4")
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout == "Attaching 1 probe...\nok 4\n\n\n@: hell\n"


def test_a_program_file_that_is_not_utf8_is_one_line(tmp_path):
    script = tmp_path / "latin1.bt"
    script.write_bytes(b"BEGIN { printf(\"caf\xe9\"); exit(); }")
    result = pybpf_trace(str(script))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"ERROR: failed to read file '{script}': byte 19 is not UTF-8 text"
