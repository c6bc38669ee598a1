"""Behaviours of bpftrace 0.17 that its runtime tests rely on, each compared with the
bpftrace installed on this machine (root; skipped where either is missing): the tracer's
comm, ``-c`` word splitting, ``debugf``, ``-k`` helper-error warnings, tuple and struct
layouts as printed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="tracing programs need root")
SRC = Path(__file__).resolve().parents[2] / "src"
BPFTRACE = shutil.which("bpftrace")
needs_bpftrace = pytest.mark.skipif(BPFTRACE is None, reason="bpftrace is not installed")
sys.path.insert(0, str(Path(__file__).parent))
from bpftrace_runtime import drop_in  # noqa: E402


def pybpf_trace(*args: str, tracer: str = "", timeout: float = 30,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = [tracer] if tracer else [sys.executable, "-m", "pybpf", "trace"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONPATH=str(SRC), **(env or {})), check=False)


def bpftrace(*args: str, timeout: float = 30, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    assert BPFTRACE is not None
    return subprocess.run([BPFTRACE, *args], capture_output=True, text=True, timeout=timeout, check=False,
                          env=dict(os.environ, **(env or {})))


COMM = 'BEGIN { printf("%s\\n", comm); print(comm); exit() }'


def assert_prints_as_bpftrace(program: str) -> None:
    """``pybpf trace -e program`` prints what bpftrace prints (and bpftrace succeeds)."""
    ours, theirs = pybpf_trace("-e", program), bpftrace("-e", program)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.stdout == theirs.stdout


def test_comm_of_begin_is_pybpf_not_the_interpreter():
    result = pybpf_trace("-q", "-e", COMM)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["pybpf", "pybpf"]


@needs_bpftrace
def test_comm_of_a_drop_in_named_bpftrace_is_bpftraces(tmp_path):
    for args in (("-q", "-e", COMM), ("-q", "-f", "json", "-e", COMM)):
        ours, theirs = pybpf_trace(*args, tracer=drop_in(tmp_path)), bpftrace(*args)
        assert theirs.returncode == 0, theirs.stderr
        assert ours.stdout == theirs.stdout


@needs_bpftrace
@pytest.mark.parametrize("command", ["/bin/echo 'A'  b", '/bin/echo "x y" z', "/bin/echo  lead"])
def test_c_command_split_at_spaces_keeping_quotes_as_bpftrace(command):
    ours, theirs = pybpf_trace("-q", "-c", command, "-e", "END {}"), bpftrace("-q", "-c", command, "-e", "END {}")
    assert ours.stdout == theirs.stdout
    assert ours.returncode == theirs.returncode


HELPER_ERRORS = [
    ("-k", "i:ms:100 { @[1] = 1; delete(@[2]); exit(); }"),
    ("-kk", 'i:ms:100 { @[1] = 1; printf("%d\\n", @[2]); exit(); }'),
    ("-k", 'i:ms:100 { @[1] = 1; printf("%d\\n", @[2]); exit(); }'),  # -k leaves lookups out
    ("-kk", "BEGIN { @a = avg(1); @b = stats(2); @h = hist(3); @l = lhist(4, 0, 10, 1); @m = min(3); "
            "@s[7] = sum(1); @c = count(); exit() }"),
]


@needs_bpftrace
@pytest.mark.parametrize("level, program", HELPER_ERRORS)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_helper_error_warnings_as_bpftrace(level, program, fmt):
    ours, theirs = pybpf_trace(level, "-f", fmt, "-e", program), bpftrace(level, "-f", fmt, "-e", program)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.stdout == theirs.stdout


@needs_bpftrace
def test_helper_error_of_a_read_names_probe_read_and_its_place():
    program = "struct foo {int a;}; BEGIN { $tmp = ((struct foo*) 0)->a; exit(); }"
    ours, theirs = (pybpf_trace("-kk", "-q", "-f", "json", "-e", program),
                    bpftrace("-kk", "-q", "-f", "json", "-e", program))
    assert ours.stdout == theirs.stdout
    assert '"helper": "probe_read", "retcode": -14, "line": 1, "col": 37' in ours.stdout


class TraceInstance:
    """A tracefs instance of this test's own with bpf_trace_printk's event enabled: what
    debugf writes, read without touching the global trace buffer others may use."""

    def __init__(self, name: str):
        self.path = Path("/sys/kernel/tracing/instances") / name

    def __enter__(self) -> TraceInstance:
        if not self.path.parent.is_dir():
            pytest.skip("tracefs is not mounted at /sys/kernel/tracing")
        self.path.mkdir()
        (self.path / "events/bpf_trace/bpf_trace_printk/enable").write_text("1")
        return self

    def messages(self) -> list[str]:
        lines = (self.path / "trace").read_text().splitlines()
        return [line.split("bpf_trace_printk: ", 1)[1] for line in lines if "bpf_trace_printk: " in line]

    def clear(self) -> None:
        (self.path / "trace").write_text("")

    def __exit__(self, *exc: object) -> None:
        (self.path / "events/bpf_trace/bpf_trace_printk/enable").write_text("0")
        self.path.rmdir()


DEBUGF = ('i:ms:1 { $s = "str-trace"; debugf("trace-debugf %s %d %x|", $s, -1, 255); '
          'printf("printf %d\\n", 0); debugf("trace-debugf %5d|%-3u|%llx", 7, 1 << 40, 1 << 36); exit(); }')


@needs_bpftrace
def test_debugf_writes_to_the_trace_buffer_as_bpftrace():
    with TraceInstance(f"pybpf_trace_debugf_{os.getpid()}") as instance:
        theirs = bpftrace("-e", DEBUGF)
        expected = [m for m in instance.messages() if m.startswith("trace-debugf")]
        instance.clear()
        ours = pybpf_trace("-e", DEBUGF)
        got = [m for m in instance.messages() if m.startswith("trace-debugf")]
    assert len(set(expected)) == 2, theirs.stderr
    assert set(got) == set(expected)  # the interval may fire again before exit() is seen: once or more
    assert ours.stdout == theirs.stdout
    warnings = [line for line in theirs.stderr.splitlines() if "RLIMIT_MEMLOCK" not in line]
    assert ours.stderr.splitlines() == warnings  # the same two warnings, placed as bpftrace places them
    assert "WARNING: The debugf() builtin is not recommended" in ours.stderr


def test_debugf_takes_at_most_three_conversions():
    result = pybpf_trace("-e", 'BEGIN { debugf("%d %d %d %d", 1, 2, 3, 4); }')
    assert result.returncode == 1
    assert "ERROR: debugf: Cannot use more than 3 conversion specifiers" in result.stderr
    assert "Traceback" not in result.stderr


TUPLES = [
    "BEGIN { $t = ((int8) 1, (int64) 1, (int8) 1, (int64) 1); print(sizeof($t)); print($t); exit() }",
    "BEGIN { $t = ((int8) 1, (int16) 1, (int32) 1); print(sizeof($t)); print($t); exit() }",
    "BEGIN { $t = ((int32) 1, (int16) -2, (int8) 3); print(sizeof($t)); print($t); @[$t.1] = $t.2; exit() }",
    'BEGIN { $a = ((int8)-100, (int8) 100, "abcdef", 3, (int32) 1, (int64)-10, (int8)10, (int16)-555, "abc"); '
    'print(sizeof($a)); print($a); @n[$a.2, $a.7] = $a; printf("%s %d %s %d\\n", $a.2, $a.7, $a.8, $a.0); exit(); }',
    'BEGIN { $t = ("a", ((int16) 7, "bc"), (int8) -1); print(sizeof($t)); print($t); @m[1] = $t; exit() }',
]


@needs_bpftrace
@pytest.mark.parametrize("program", TUPLES)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_tuple_layout_sizes_and_values_as_bpftrace(program, fmt):
    ours, theirs = pybpf_trace("-f", fmt, "-e", program), bpftrace("-f", fmt, "-e", program)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.stdout == theirs.stdout


STRUCT_PROGRAM = r"""
struct Foo { int m; int n; };
struct Bar { char c; struct Foo f; short s[3]; char text[5]; unsigned char bytes[4]; int grid[2][2]; const char *name; };
int func(struct Bar *bar) { return bar->f.m; }
int func2(struct Foo **pp) { return (*pp)->n; }
int main(void) { struct Bar bar = {'x', {2, -3}, {4, 5, 6}, {'h', 'e', 'l', 'l', 'o'}, {1, 2, 250, 4},
                                  {{5, 6}, {7, 8}}, "\\x01bcd"};
                 struct Foo *p = &bar.f;
                 return func(&bar) - 2 + func2(&p) + 3; }
"""
STRUCT_CASES = [
    "struct Foo { int m; int n; } struct Bar { char c; struct Foo f; short s[3]; } "
    "u:BINARY:func { $b = (struct Bar *)arg0; @s[$b->f] = 0; @k[$b->f, (int8)1] = $b->f; @a[$b->s] = 1; "
    "$t = ((int8)1, $b->f, $b->s); print(sizeof($t)); print($t); exit(); }",
    "struct Foo { int m; int n; } u:BINARY:func { @x = *((struct Foo *)arg0); @s[@x] = 0; exit(); }",
    # char[N] is a string, all N bytes of it (no NUL needed); other byte arrays are arrays
    "struct Foo { int m; int n; } struct Bar { char c; struct Foo f; short s[3]; char text[5]; uint8_t bytes[4]; } "
    'u:BINARY:func { $b = (struct Bar *)arg0; $t = $b->text; printf("%s %s %d %d\\n", $t, $b->text, $b->bytes[2], '
    "$b->s[1]); @[$b->text, $b->bytes] = 1; print($b->bytes); exit(); }",
    # nested definitions, with and without the last member's semicolon
    "struct N { struct { int m[1] } y; struct { int n; short s[2]; } a; } u:BINARY:func { "
    "@s = *((struct N *)arg0); print(*((struct N *)arg0)); $x = (struct N *)arg0; "
    'printf("%d %d\\n", $x->y.m[0], $x->a.s[1]); exit(); }',
    # indexing into values the program holds: map values, variables, arrays of arrays
    "struct Foo { int m; int n; } struct Bar { char c; struct Foo f; short s[3]; char text[5]; uint8_t bytes[4]; "
    "int grid[2][2]; } u:BINARY:func { $b = (struct Bar *)arg0; @m[0] = $b->s; @g[1] = $b->grid; $g = $b->grid; "
    '@p[0] = (int32 *)arg0; printf("%d %d %d %d %d\\n", @m[0][2], @g[1][1][0], $g[0][1], $b->grid[1][1], '
    "@p[0][1] == 0); clear(@p); exit(); }",  # a stack address: not printed
    # buf() of what a pointer member points to, and of a member's own bytes
    "struct Foo { int m; int n; } struct Bar { char c; struct Foo f; short s[3]; char text[5]; uint8_t bytes[4]; "
    "int grid[2][2]; const char *name; } u:BINARY:func { $b = (struct Bar *)arg0; "
    'printf("%r %r %r\\n", buf($b->name, 4), buf($b->bytes, 4), buf($b->s)); exit(); }',
    'struct Foo { int m; int n; } u:BINARY:func2 { $pp = (struct Foo **)arg0; printf("%d %d\\n", (*$pp)->m, '
    "(**$pp).n); exit(); }",
]


@needs_bpftrace
@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc builds the traced program")
@pytest.mark.parametrize("program", STRUCT_CASES)
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_structs_in_keys_and_tuples_as_bpftrace(tmp_path, program, fmt):
    (tmp_path / "structs.c").write_text(STRUCT_PROGRAM)
    binary = tmp_path / "structs"
    subprocess.run(["gcc", "-g", "-O0", "-o", str(binary), str(tmp_path / "structs.c")], check=True)
    program = program.replace("BINARY", str(binary))
    ours = pybpf_trace("-f", fmt, "-e", program, "-c", str(binary))
    theirs = bpftrace("-f", fmt, "-e", program, "-c", str(binary))
    assert theirs.returncode == 0, theirs.stderr
    assert ours.stdout == theirs.stdout


LOOPING = r"""
#include <unistd.h>
int function1(int x) { return x + 1; }
int main(void) { for (;;) { function1(1); usleep(50000); } }
"""


@pytest.fixture
def process_in_own_mount_namespace(tmp_path):
    """A process in a mount namespace of its own, run from a directory bind-mounted at a
    path only it sees (as bpftrace's mountns_wrapper does): (pid, that path)."""
    if shutil.which("gcc") is None or shutil.which("unshare") is None:
        pytest.skip("gcc and unshare are needed")
    (tmp_path / "looping.c").write_text(LOOPING)
    subprocess.run(["gcc", "-g", "-O0", "-o", str(tmp_path / "looping"), str(tmp_path / "looping.c")], check=True)
    private = Path(f"/tmp/pybpf-trace-mntns-{os.getpid()}")
    private.mkdir(exist_ok=True)
    script = f"mount --bind {tmp_path} {private} && exec {private}/looping"
    process = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", script])
    try:
        for _ in range(50):
            if os.path.exists(f"/proc/{process.pid}/exe") and \
                    os.readlink(f"/proc/{process.pid}/exe").endswith("/looping"):
                break
            subprocess.run(["sleep", "0.1"], check=True)
        assert not (private / "looping").exists()  # not visible from here
        yield process.pid, f"{private}/looping"
    finally:
        process.kill()
        process.wait()
        private.rmdir()


@needs_bpftrace
def test_uprobes_of_a_process_in_another_mount_namespace_as_bpftrace(process_in_own_mount_namespace):
    pid, path = process_in_own_mount_namespace
    listed = [pybpf_trace("-l", "-p", str(pid)), bpftrace("-l", "-p", str(pid))]
    ours, theirs = ([line for line in result.stdout.splitlines() if line.startswith("uprobe:") and "function1" in line]
                    for result in listed)
    assert ours == theirs == [f"uprobe:/proc/{pid}/root{path}:function1"]
    program = f'uprobe:{path}:function1 {{ printf("%s %d\\n", probe, arg0); exit(); }}'
    ours_run, theirs_run = pybpf_trace("-p", str(pid), "-e", program), bpftrace("-p", str(pid), "-e", program)
    assert theirs_run.returncode == 0, theirs_run.stderr
    assert ours_run.stdout == theirs_run.stdout
    assert f"uprobe:/proc/{pid}/root{path}:function1 1" in ours_run.stdout


POSITIONAL = [
    ('BEGIN { @ = kaddr(str($1)); @b = kaddr("vfs_read"); exit() }', ["vfs_read"]),
    ('BEGIN { printf("got: %d %o 0x%x %d\\n", $1, $2, $3, $2 + 1); exit() }', ["123", "0775", "0x123"]),
    ('BEGIN { printf("%s|%s|%s\\n", str($1 + 1), str($1), str($1 + 5)); exit(); }', ["hello"]),
]


@needs_bpftrace
@pytest.mark.parametrize("program, params", POSITIONAL)
def test_positional_parameters_as_bpftrace(program, params):
    ours, theirs = pybpf_trace("-e", program, *params), bpftrace("-e", program, *params)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.stdout == theirs.stdout


@needs_bpftrace
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_pointer_values_in_maps_as_bpftrace(fmt):
    program = "BEGIN { @p = (struct task_struct *)4096; @q[1] = (int32 *)8; exit() }"
    ours, theirs = pybpf_trace("-f", fmt, "-e", program), bpftrace("-f", fmt, "-e", program)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.stdout == theirs.stdout


@needs_bpftrace
def test_pointer_conversion_as_bpftrace():
    program = 'BEGIN { $p = (struct task_struct *)4096; printf("%p|%p|%20p|%-6p|%p\\n", 0, 4096, 255, 0, $p + 1); exit() }'
    assert_prints_as_bpftrace(program)


@needs_bpftrace
def test_nested_definition_read_from_address_zero_as_bpftrace():
    program = ("struct Foo { int m; struct { int x; int y; } bar; int n; } BEGIN { @foo = (struct Foo *)0; "
               '@bar = @foo->bar; @x = @foo->bar.x; printf("_%s_\\n", "done"); exit(); }')
    assert_prints_as_bpftrace(program)


def test_constant_index_out_of_bounds_is_an_error():
    result = pybpf_trace("-e", "struct A { int x[4]; } BEGIN { $a = (struct A *) 0; $x = $a->x[5]; exit(); }")
    assert result.returncode == 1
    assert "ERROR: the index 5 is out of bounds for array of size 4" in result.stderr


@needs_bpftrace
def test_buf_equality_as_bpftrace():
    program = ('BEGIN { $a = buf("hi", 2); $b = buf("bye", 3); $c = buf("hi", 2); $d = buf("hj", 2); '
               'printf("%d %d %d %d %d\\n", $a == $a, $a != $b, $a == $c, $a == $b, $a == $d); exit(); }')
    assert_prints_as_bpftrace(program)


@needs_bpftrace
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_join_of_the_c_command_as_bpftrace(fmt):
    program = 'tracepoint:syscalls:sys_enter_execve /pid == cpid/ { join(args->argv, ","); }'
    command = "/bin/echo 'A' b"
    ours, theirs = (pybpf_trace("-f", fmt, "-c", command, "-e", program),
                    bpftrace("-f", fmt, "-c", command, "-e", program))
    assert theirs.returncode == 0, theirs.stderr
    assert sorted(ours.stdout.splitlines()) == sorted(theirs.stdout.splitlines())  # echo's line races the events


@needs_bpftrace
def test_struct_member_of_undefined_struct_type_is_an_error_as_in_bpftrace():
    program = "struct foo { struct nosuch_trace_zz t; } BEGIN { exit(); }"
    ours, theirs = pybpf_trace("-e", program), bpftrace("-e", program)
    assert ours.returncode == theirs.returncode == 1
    assert "incomplete type 'struct nosuch_trace_zz'" in ours.stderr
    assert "incomplete type 'struct nosuch_trace_zz'" in theirs.stderr


@needs_bpftrace
def test_kernel_struct_held_by_value_in_a_definition_as_bpftrace():
    program = ('struct foo { char c; struct task_struct t; } BEGIN { printf("%d\\n", sizeof(struct foo)); '
               "exit(); }")
    assert_prints_as_bpftrace(program)


def _interrupted_under_flood(command: list[str]) -> tuple[str, float]:
    """Run a program whose every event runs a shell, SIGINT it after a second: what it
    printed at the end, and how long it took to stop."""
    import signal
    import time
    program = 'tracepoint:sched:sched_switch { system("echo foo"); } END { printf("end"); }'
    process = subprocess.Popen([*command, "--unsafe", "-e", program], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=str(SRC)))
    time.sleep(1.5)
    process.send_signal(signal.SIGINT)
    start = time.monotonic()
    out, _ = process.communicate(timeout=20)
    return out.decode().rstrip("\n")[-3:], time.monotonic() - start


@needs_bpftrace
def test_sigint_under_a_flood_of_events_stops_promptly_as_bpftrace():
    assert BPFTRACE is not None
    ours, theirs = _interrupted_under_flood([sys.executable, "-m", "pybpf", "trace"]), _interrupted_under_flood([BPFTRACE])
    assert ours[0] == theirs[0] == "end"
    assert ours[1] < 5


LOG_PROGRAM = 'BEGIN { if (str($1) == str($2)) { printf("%s\\n", str($1)); exit() } }'


@needs_bpftrace
@pytest.mark.parametrize("size", ["1", "200"])
def test_v_with_a_log_size_too_small_for_the_verifier_log_fails_as_bpftrace(size):
    """-v loads with a verifier log buffer of BPFTRACE_LOG_SIZE bytes, fixed: a log that
    does not fit is the kernel's ENOSPC, and the run fails naming the variable and size."""
    args = ("-v", "-e", LOG_PROGRAM, "hello", "hello")
    ours, theirs = pybpf_trace(*args, env={"BPFTRACE_LOG_SIZE": size}), bpftrace(*args, env={"BPFTRACE_LOG_SIZE": size})
    assert theirs.returncode != 0 and ours.returncode != 0
    hint = f"try increasing the BPFTRACE_LOG_SIZE environment variable beyond the current value of {size} bytes"
    assert hint in theirs.stderr and hint in ours.stderr
    assert "Error loading program: BEGIN" in ours.stderr  # what bpftrace 0.17's runtime test expects
    assert "hello" not in ours.stdout


@needs_bpftrace
def test_v_prints_each_programs_id_and_verifier_log_as_bpftrace():
    args = ("-v", "-e", LOG_PROGRAM, "hello", "hello")
    ours, theirs = pybpf_trace(*args), bpftrace(*args)
    assert theirs.returncode == 0 and ours.returncode == 0, ours.stderr
    for result in (ours, theirs):
        assert result.stdout.startswith("Attaching 1 probe...\n\nProgram ID: ")
        assert "\n\nThe verifier log: \nprocessed " in result.stdout
        assert "hello\n" in result.stdout


def test_log_size_that_is_not_a_number_is_refused():
    result = pybpf_trace("-v", "-e", "BEGIN { exit() }", env={"BPFTRACE_LOG_SIZE": "many"})
    assert result.returncode == 1
    assert result.stderr == "ERROR: Env var 'BPFTRACE_LOG_SIZE' did not contain a valid uint64_t, or was zero-valued.\n"


def test_a_drop_in_named_bpftrace_is_found_by_pidof_and_sigusr1_prints_its_maps(tmp_path):
    """bpftrace's runtime test ``print all maps on sigusr1`` signals ``$(pidof bpftrace)``:
    the drop-in's command line must start with the script, not the interpreter."""
    tracer = drop_in(tmp_path)
    process = subprocess.Popen([tracer, "-f", "json", "-e", "BEGIN { @scalar = 5; } interval:s:20 { exit(); }"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, PYTHONPATH=str(SRC), __BPFTRACE_NOTIFY_PROBES_ATTACHED="1"))
    try:
        assert process.stderr is not None
        assert process.stderr.readline() == "__BPFTRACE_NOTIFY_PROBES_ATTACHED\n"
        arguments = Path(f"/proc/{process.pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
        assert arguments[:2] == [tracer.encode(), b"-f"]
        assert Path(f"/proc/{process.pid}/comm").read_text() == "bpftrace\n"
        pidof = shutil.which("pidof")
        if pidof is not None:
            found = subprocess.run([pidof, "bpftrace"], capture_output=True, text=True, check=False).stdout.split()
            assert str(process.pid) in found
        process.send_signal(signal.SIGUSR1)
        time.sleep(0.5)
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    assert out.count('{"type": "map", "data": {"@scalar": 5}}') == 2, out


REDEFINITIONS = [
    # redefines curtask's struct: no kernel type completes the definitions
    ("struct task_struct { struct thread_info x; } BEGIN { printf(\"%d\\n\", curtask->x.status); exit(); }", False),
    ("\nstruct task_struct {\n  int a;\n  struct thread_info y; } BEGIN { printf(\"%d\\n\", curtask->a); exit(); }",
     False),
    ("struct file { struct thread_info x; } BEGIN { printf(\"%d\\n\", sizeof(struct file)); exit(); }", False),
    # the program's own complete definition shadows the kernel's
    ("struct task_struct { int x; } BEGIN { printf(\"%d\\n\", sizeof(struct task_struct)); exit(); }", True),
    # the redefined type is not one the probes take from the kernel: BTF completes the rest
    ("struct task_struct { int x; } struct foo { struct thread_info t; } "
     "BEGIN { printf(\"%d\\n\", sizeof(struct foo)); exit(); }", True),
    ("struct foo { struct thread_info x; } BEGIN { printf(\"%d\\n\", sizeof(((struct foo *)curtask)->x)); exit(); }",
     True),
]


@needs_bpftrace
@pytest.mark.parametrize("program, runs", REDEFINITIONS)
def test_a_redefined_kernel_struct_takes_no_kernel_types_as_bpftrace(program, runs):
    ours, theirs = pybpf_trace("-q", "-e", program), bpftrace("-q", "-e", program)
    if runs:
        assert theirs.returncode == 0, theirs.stderr
        assert (ours.returncode, ours.stdout) == (0, theirs.stdout), ours.stderr
    else:
        errors = [line for line in theirs.stderr.splitlines() if ": error: " in line]
        assert ours.returncode != 0 and theirs.returncode != 0
        assert ours.stderr.splitlines() == errors[:1]  # clang's notes left out


def burst_under(tracer: list[str], program: str, burst: Path, env: dict[str, str]) -> str:
    """Run ``program`` under ``tracer`` and, once it is attached, the script ``burst``."""
    first, second = sorted(os.sched_getaffinity(0))[:2]  # apart: the burst runs on while the tracer reacts
    process = subprocess.Popen([*tracer, "-e", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, __BPFTRACE_NOTIFY_PROBES_ATTACHED="1", **env),
                               preexec_fn=lambda: os.sched_setaffinity(0, {first}))
    try:
        assert process.stderr is not None
        while "__BPFTRACE_NOTIFY_PROBES_ATTACHED" not in process.stderr.readline():
            assert process.poll() is None
        subprocess.run([str(burst)], check=True, timeout=60, preexec_fn=lambda: os.sched_setaffinity(0, {second}))
        out, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    return out


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler for the burst program")
@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="the burst and the tracer need a CPU each")
@pytest.mark.parametrize("tracer", ["pybpf", pytest.param("bpftrace", marks=needs_bpftrace)])
def test_events_after_exit_are_dropped_and_end_still_prints(tmp_path, tracer):
    """A burst of events, each calling exit(): bpftrace prints the first one's output and
    drops the rest (in the buffer behind the exit event, or emitted until the probes are
    detached); END's output follows."""
    burst = tmp_path / "tr2burst"
    (tmp_path / "burst.c").write_text("#include <unistd.h>\n#include <sys/syscall.h>\n"
                                      "int main(void) { for (int i = 0; i < 300000; i++) syscall(SYS_getppid); }\n")
    subprocess.run(["cc", "-O2", "-o", str(burst), str(tmp_path / "burst.c")], check=True)
    program = ('tracepoint:syscalls:sys_enter_getppid /comm == "tr2burst"/ { printf("hit\\n"); exit(); } '
               'END { printf("end\\n"); }')
    command = [sys.executable, "-m", "pybpf", "trace"] if tracer == "pybpf" else [str(BPFTRACE)]
    out = burst_under(command, program, burst, {"PYTHONPATH": str(SRC)})
    assert out == "Attaching 2 probes...\nhit\nend\n\n\n"
