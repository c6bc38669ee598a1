"""Trace programs on the vm engine, on synthetic tracepoint records: the language tested
without root (the record layouts are the kernel's format files, given as text)."""

from __future__ import annotations

import io

from hist_reference import rows
from pybpf.trace.runtime import Options, run_on_records
from pybpf.tracefs.format import parse_format
from recorded_formats import EXEC_FORMAT

FORMATS = {"sched:sched_process_exec": parse_format(EXEC_FORMAT, "sched")}


def run(source: str, records: list) -> str:
    out = io.StringIO()
    assert run_on_records(source, records, FORMATS, Options(output=out)) == 0
    return out.getvalue()


def exec_record(path: str, pid: int) -> tuple:
    return ("sched:sched_process_exec", {"filename": path, "pid": pid, "old_pid": pid})


def test_fields_strings_predicates_and_aggregations():
    program = r"""
    BEGIN { printf("start\n"); }
    t:sched:sched_process_exec /args->pid > 10/ {
        @[str(args->filename)] = count();
        @pids = hist(args->pid);
        @sum = sum(args->pid); @mn = min(args->pid); @mx = max(args->pid); @st = stats(args->pid);
        if (args.filename == "/bin/ls") { printf("ls as %d\n", args->pid); } else { printf("%s\n", args.filename); }
        $s = strcontains(args->filename, "bin") ? "bin" : "other";
        @kind[$s, args->pid % 2] = count();
    }
    END { printf("end\n"); }
    """
    records = [exec_record("/bin/ls", 100), exec_record("/usr/bin/python3", 4000), exec_record("/bin/ls", 7),
               exec_record("/opt/tool", 33)]
    assert run(program, records) == (
        "Attaching 3 probes...\nstart\nls as 100\n/usr/bin/python3\n/opt/tool\nend\n\n\n"
        "@[/bin/ls]: 1\n@[/opt/tool]: 1\n@[/usr/bin/python3]: 1\n"
        "@kind[other, 1]: 1\n@kind[bin, 0]: 2\n"
        "@mn: 33\n@mx: 4000\n"
        "@pids: \n"
        "[32, 64)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[64, 128)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        "[128, 256)             0 |                                                    |\n"
        "[256, 512)             0 |                                                    |\n"
        "[512, 1K)              0 |                                                    |\n"
        "[1K, 2K)               0 |                                                    |\n"
        "[2K, 4K)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\n"
        "@st: count 3, average 1377, total 4133\n\n"
        "@sum: 4133\n")


def test_exit_stops_at_the_record_that_calls_it():
    program = 't:sched:sched_process_exec { @n = count(); if (args->pid == 2) { exit(); } }'
    out = run(program, [exec_record("/a", 1), exec_record("/b", 2), exec_record("/c", 3)])
    assert out.endswith("@n: 2\n")


def test_output_emitted_after_exit_is_dropped_but_end_prints():
    """The probes on one event all run (their map updates count), but what they print
    after exit() is dropped, as bpftrace drops every event it reads once finalizing."""
    program = ('t:sched:sched_process_exec { printf("first\\n"); exit(); } '
               't:sched:sched_process_exec { printf("after exit\\n"); @n = count(); } END { printf("end\\n"); }')
    out = run(program, [exec_record("/a", 1), exec_record("/b", 2)])
    assert out == "Attaching 3 probes...\nfirst\nend\n\n\n@n: 1\n"


def test_loops_unroll_ternary_and_tuples():
    program = r"""
    t:sched:sched_process_exec {
        $i = 0; $acc = 0;
        while ($i < args->pid) { $acc += $i; $i++; if ($acc > 1000) { break; } }
        unroll(3) { $acc = $acc * 2; }
        @t[args->pid] = ($acc, str(args->filename), $i > 3 ? "big" : "small");
        print(@t[args->pid]);
    }
    """
    out = run(program, [exec_record("/x", 5), exec_record("/yy", 2)])
    assert out == ("Attaching 1 probe...\n(80, /x, big)\n(8, /yy, small)\n\n\n"
                   "@t[2]: (8, /yy, small)\n@t[5]: (80, /x, big)\n")


def test_for_loops_and_len_on_the_vm():
    """for over a map (bpf_for_each_map_elem, per-CPU counts summed with
    bpf_map_lookup_percpu_elem), for over a range (bpf_loop) and len(): the vm runs the
    callbacks as the kernel does, printf inside them included."""
    out = run('t:sched:sched_process_exec { @c[args->pid % 3] = count(); } '
              'END { for ($kv : @c) { printf("%d %d\\n", $kv.0, $kv.1); } '
              'for ($i : 0..3) { printf("i=%d\\n", $i); } printf("len %d\\n", len(@c)); clear(@c); }',
              [exec_record("/bin/a", pid) for pid in range(10, 20)])
    lines = out.splitlines()
    assert sorted(line for line in lines if line[:1].isdigit()) == ["0 3", "1 4", "2 3"]
    assert [line for line in lines if line.startswith(("i=", "len"))] == ["i=0", "i=1", "i=2", "len 3"]


def test_hist_with_bits_on_the_vm():
    pids = [0, 1, 3, 5, 9, 17, 100, 130, 1000, 5000, 70000]
    out = run("t:sched:sched_process_exec { @h = hist(args->pid, 2); }", [exec_record("/x", p) for p in pids])
    printed = out.split("@h: \n", 1)[1].strip("\n").splitlines()
    assert [(row[:16].rstrip(), int(row[16:24])) for row in printed] == rows(pids, 2)


def test_for_loops_len_and_return_on_the_vm():
    """for/len compile to callbacks of bpf_for_each_map_elem and bpf_loop, which the vm's
    interpreter runs as the kernel does (per-CPU counts summed with lookup_percpu_elem)."""
    program = r"""
    t:sched:sched_process_exec {
        @n[args->pid % 3] = count();
        @last[args->pid] = str(args->filename);
        $total = 0;
        for ($kv : @n) { $total += $kv.1; }
        for ($i : 0..4) { if ($i == 2) { continue; } $total += 100; }
        printf("%d %d\n", $total, len(@last));
        for ($kv : @last) { if ($kv.0 == 7) { printf("seven is %s\n", $kv.1); return; } }
        printf("no seven\n");
    }
    """
    out = run(program, [exec_record("/a", 4), exec_record("/b", 7), exec_record("/c", 10)])
    assert out.split("\n\n\n")[0] == ("Attaching 1 probe...\n301 1\nno seven\n302 2\nseven is /b\n303 3\n"
                                      "seven is /b")


def test_probes_attach_in_program_order_and_blocks_on_one_hook_last_first():
    """A running process meets the first attached probe first, so probes attach in
    program order, as bpftrace's (``usdt:bin:*`` on a busy loop reports its first probe);
    several blocks on one uprobe/usdt hook attach last first, as the kernel runs such a
    hook's programs newest first and the blocks must run in program order."""
    from types import SimpleNamespace

    from pybpf.trace.runtime import Session

    def probe(kind: str, target: str) -> tuple:
        return SimpleNamespace(point=SimpleNamespace(kind=kind), target=target), target

    session = Session.__new__(Session)
    session.programs = [probe("usdt", "usdt:b:p:one"), probe("usdt", "usdt:b:p:two"), probe("uprobe", "uprobe:b:f"),
                        probe("usdt", "usdt:b:p:one"), probe("tracepoint", "tracepoint:a:b"),
                        probe("uprobe", "uprobe:b:f"), probe("tracepoint", "tracepoint:a:b")]
    order = [next(i for i, q in enumerate(session.programs) if q is p) for p in session.attach_order()]
    assert order == [3, 0, 1, 5, 2, 4, 6]
