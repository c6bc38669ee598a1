"""Run bpftrace's own runtime test cases (``tests/runtime/*`` of the bpftrace repository)
with ``pybpf trace`` in place of ``bpftrace``, following the directives the way
bpftrace's runner does: RUN/PROG, EXPECT (a regex searched in stdout+stderr), TIMEOUT,
BEFORE/AFTER, REQUIRES, REQUIRES_FEATURE, ENV, ARCH, MIN_KERNEL/MAX_KERNEL, WILL_FAIL.

    sudo PYTHONPATH=src python tests/trace/bpftrace_runtime.py BPFTRACE/tests [SUITE ...]

Prints one line per case and a summary; exits 0. Features this build has (for
REQUIRES_FEATURE) are listed in FEATURES.
"""

from __future__ import annotations

import os
import platform
import re
import select
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

FEATURES = {"loop": True, "btf": True, "probe_read_kernel": True, "signal": True, "libpath_resolv": True,
            "uprobe_refcount": True, "kfunc": False, "dpath": False, "iter:task": True, "iter:task_file": True,
            "dwarf": False, "kprobe_multi": False, "aot": False, "skboutput": False}
NOTIFY = "__BPFTRACE_NOTIFY_PROBES_ATTACHED"


@dataclass
class Case:
    suite: str
    name: str
    run: str = ""
    prog: str = ""
    expect: str = ""
    timeout: float = 5
    before: str = ""
    after: str = ""
    requires: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    arch: list[str] = field(default_factory=list)
    min_kernel: str = ""
    max_kernel: str = ""
    will_fail: bool = False


def parse_suite(path: Path) -> list[Case]:
    cases: list[Case] = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if word == "NAME":
            cases.append(Case(path.name, rest))
            continue
        if not cases:
            continue
        case = cases[-1]
        if word == "RUN":
            case.run = rest
        elif word == "PROG":
            case.prog = rest
        elif word == "EXPECT":
            case.expect = rest
        elif word == "TIMEOUT":
            case.timeout = float(rest)
        elif word == "BEFORE":
            case.before = rest
        elif word == "AFTER":
            case.after = rest
        elif word == "REQUIRES":
            case.requires.append(rest)
        elif word == "REQUIRES_FEATURE":
            case.features.append(rest)
        elif word == "ENV":
            case.env.update(item.split("=", 1) for item in rest.split())  # type: ignore[misc]
        elif word == "ARCH":
            case.arch = [a.strip() for a in rest.split("|")]
        elif word == "MIN_KERNEL":
            case.min_kernel = rest
        elif word == "MAX_KERNEL":
            case.max_kernel = rest
        elif word == "WILL_FAIL":
            case.will_fail = True
    return cases


def _kernel_version() -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", platform.release())[:2])


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:2])


def skip_reason(case: Case, tests_dir: Path) -> str | None:
    if case.arch and platform.machine() not in case.arch:
        return "arch"
    if case.min_kernel and _kernel_version() < _version(case.min_kernel):
        return "kernel too old"
    if case.max_kernel and _kernel_version() > _version(case.max_kernel):
        return "kernel too new"
    for feature in case.features:
        wanted = not feature.startswith("!")
        if FEATURES.get(feature.lstrip("!"), False) != wanted:
            return f"feature {feature}"
    for requirement in case.requires:
        if subprocess.call(requirement, shell=True, cwd=tests_dir, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL) != 0:
            return f"requirement {requirement!r}"
    return None


DEBUG_TRACING = "/sys/kernel/debug/tracing"


def command_of(case: Case, tracer: str) -> str:
    command = case.run.replace("{{BPFTRACE}}", tracer) if case.run else f"{tracer} -e '{case.prog}'"
    if DEBUG_TRACING in command and not os.path.isdir(DEBUG_TRACING):
        # the case expects tracefs under debugfs (where older systems mount it): mounted so
        # in a mount namespace of the case's own, nothing changes for the rest of the machine
        mounts = f"mount -t debugfs debugfs /sys/kernel/debug && mount -t tracefs tracefs {DEBUG_TRACING}"
        command = f"unshare -m --propagation private sh -c {shlex.quote(mounts + ' && ' + command)}"
    return command


def _chunks(process: subprocess.Popen, deadline: float):
    """What ``process`` writes to its stdout pipe until EOF (TimeoutExpired at ``deadline``)."""
    fd = process.stdout.fileno()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise subprocess.TimeoutExpired(process.args, 0)
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.5))
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            yield chunk


def run_case(case: Case, tests_dir: Path, tracer: str) -> tuple[str, str]:
    """(PASS|FAIL|TIMEOUT|SKIP, detail)."""
    reason = skip_reason(case, tests_dir)
    if reason:
        return "SKIP", reason
    before = after = None
    command = command_of(case, tracer)
    try:
        if case.before:
            before = subprocess.Popen(case.before, shell=True, cwd=tests_dir, start_new_session=True)
            name = os.path.basename(case.before.split()[-1])
            deadline = time.monotonic() + case.timeout
            while subprocess.call(["pidof", name], stdout=subprocess.DEVNULL) != 0:
                if time.monotonic() > deadline:
                    return "FAIL", f"BEFORE {case.before} did not start"
                time.sleep(0.1)
            if "{{BEFORE_PID}}" in command:
                pids = subprocess.run(["pidof", name], capture_output=True, text=True, check=False).stdout.split()
                if not pids:
                    return "FAIL", f"BEFORE {case.before} exited before the tracer started"
                command = command.replace("{{BEFORE_PID}}", pids[0])
        env = dict(os.environ, **case.env, **{NOTIFY: "1"})
        process = subprocess.Popen(command, shell=True, cwd=tests_dir, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, env=env, start_new_session=True)
        received, timed_out = bytearray(), False
        try:
            # one unbuffered reader of the pipe (a line reader's read-ahead would hide what
            # arrived with the NOTIFY line from a later communicate())
            notified = False
            for chunk in _chunks(process, time.monotonic() + 5 + case.timeout):
                received += chunk
                if not notified and (NOTIFY + "\n").encode() in received:
                    notified = True
                    if case.after:
                        after = subprocess.Popen(case.after, shell=True, cwd=tests_dir, start_new_session=True)
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGTERM)
            try:
                received += process.communicate(timeout=5)[0]
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                received += process.communicate()[0]
        output = received.decode(errors="replace")
        found = re.search(case.expect, output, re.MULTILINE)
        if timed_out:
            return ("PASS", "") if found else ("TIMEOUT", output[-300:])
        if process.returncode != 0 and not case.will_fail:
            return "FAIL", f"exit {process.returncode}: {output[-300:]}"
        return ("PASS", "") if found else ("FAIL", f"expected {case.expect!r}: {output[-300:]}")
    finally:
        for helper in (before, after):
            if helper is not None and helper.poll() is None:
                os.killpg(helper.pid, signal.SIGKILL)
                helper.wait()


def drop_in(directory: Path) -> str:
    """An executable named ``bpftrace`` in ``directory`` that runs ``pybpf trace``: the
    tests run the tracer as bpftrace's runner runs ``bpftrace``, and expect its comm
    (``comm`` in BEGIN) to be that name, which the kernel takes from the script's name."""
    src = Path(__file__).resolve().parents[2] / "src"
    script = directory / "bpftrace"
    script.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(src)!r})\n"
                      "from pybpf.cli import main\nsys.exit(main(['trace', *sys.argv[1:]]))\n")
    script.chmod(0o755)
    return str(script)


def main() -> None:
    tests_dir = Path(sys.argv[1])
    suites = sys.argv[2:] or sorted(p.name for p in (tests_dir / "runtime").iterdir()
                                    if p.is_file() and p.name != "engine")
    tracer = drop_in(Path(tempfile.mkdtemp(prefix="pybpf-trace-runtime-")))
    totals: dict[str, int] = {}
    for suite in suites:
        for case in parse_suite(tests_dir / "runtime" / suite):
            status, detail = run_case(case, tests_dir, tracer)
            totals[status] = totals.get(status, 0) + 1
            print(f"{status:<8} {case.suite}.{case.name}" + (f"  [{detail.strip()[:200]!r}]" if detail else ""),
                  flush=True)
    print("summary: " + ", ".join(f"{k} {v}" for k, v in sorted(totals.items())))


if __name__ == "__main__":
    main()
