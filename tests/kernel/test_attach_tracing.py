"""Tracing attachments on the running kernel: each test triggers the event and sees the
program's counter move, then checks that closing the attachment removed the hook.
Needs root; kprobes are absent on this kernel, so their refusal is tested instead."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kernel_programs import counter_map, counting

from pybpf.engine import load
from pybpf.kernel.attach import AttachError, attach, parse_target, target_of_section
from pybpf.object import CollectionSpec

pytestmark = pytest.mark.usefixtures("no_fd_leak")
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="attaching tracing programs needs root")


def _loaded(program_type: str, **kw):
    return load(CollectionSpec.of(counter_map(), counting("prog", program_type, **kw)), engine="kernel")


def _count(collection) -> int:
    return collection.maps["hits"][0]


@root_only
def test_tracepoint_counts_our_syscalls():
    with _loaded("tracepoint", tgid=os.getpid()) as coll:
        with attach(coll.programs["prog"], "tracepoint:syscalls:sys_enter_getppid"):
            for _ in range(7):
                os.getppid()
            assert _count(coll) == 7
        os.getppid()
        assert _count(coll) == 7  # detached


@root_only
def test_attaching_one_program_twice_to_a_tracepoint_says_so():
    from pybpf.engine import BPFError

    with _loaded("tracepoint", tgid=os.getpid()) as coll:
        with attach(coll.programs["prog"], "tracepoint:syscalls:sys_enter_getppid"):
            with pytest.raises(BPFError) as caught:
                attach(coll.programs["prog"], "tracepoint:syscalls:sys_enter_getppid")
    message = str(caught.value)
    assert "already attached there" in message and "BPF_NOEXIST" not in message


@root_only
def test_tracepoint_from_section_name():
    spec = CollectionSpec.of(counter_map(), counting("prog", "tracepoint", tgid=os.getpid(),
                                                     section="tracepoint/syscalls/sys_enter_getppid"))
    with load(spec, engine="kernel") as coll, coll.programs["prog"].attach():
        os.getppid()
        assert _count(coll) == 1


@root_only
def test_raw_tracepoint():
    with _loaded("raw_tracepoint", tgid=os.getpid()) as coll:
        with attach(coll.programs["prog"], "raw_tracepoint:sys_enter"):
            for _ in range(5):
                os.getppid()
            assert _count(coll) >= 5
        seen = _count(coll)
        os.getppid()
        assert _count(coll) == seen


_PROBED_C = r"""
#include <stdio.h>
__attribute__((noinline)) int step(int n) { __asm__ volatile(""); return n + 1; }
int main(void) { int t = 0; char b[4]; fgets(b, sizeof b, stdin); for (int i = 0; i < 4; i++) t = step(t); printf("%d\n", t); return 0; }
"""


@pytest.fixture(scope="module")
def probed(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc to build the probed program")
    d = tmp_path_factory.mktemp("probed")
    (d / "p.c").write_text(_PROBED_C)
    subprocess.run(["gcc", "-O1", "-o", d / "p", d / "p.c"], check=True)
    return str(d / "p")


@root_only
@pytest.mark.parametrize("kind, expected", [("uprobe", 4), ("uretprobe", 4)])
def test_uprobe_on_a_function(probed, kind, expected):
    with _loaded("kprobe") as coll:
        with attach(coll.programs["prog"], f"{kind}:{probed}:step"):
            out = subprocess.run([probed], input="go\n", capture_output=True, text=True, check=True).stdout
        assert out.strip() == "4" and _count(coll) == expected
        subprocess.run([probed], input="go\n", capture_output=True, text=True, check=True)
        assert _count(coll) == expected


@root_only
def test_uprobe_on_libc_by_short_name():
    with _loaded("kprobe", tgid=os.getpid()) as coll:
        with attach(coll.programs["prog"], "uprobe:c:getppid"):
            for _ in range(3):
                os.getppid()
        assert _count(coll) == 3


@root_only
def test_uprobe_errors(probed):
    with _loaded("kprobe") as coll:
        with pytest.raises(AttachError, match=r"no function 'stpe' .*did you mean step"):
            attach(coll.programs["prog"], f"uprobe:{probed}:stpe")
        with pytest.raises(AttachError, match="library 'nosuchlib' not found"):
            attach(coll.programs["prog"], "uprobe:nosuchlib:f")


@root_only
def test_perf_event_sampling():
    with _loaded("perf_event", tgid=os.getpid()) as coll:
        with attach(coll.programs["prog"], "software:cpu-clock:1000000") as group:  # every 1 ms of CPU
            assert len(group) == os.cpu_count()
            end = time.perf_counter() + 0.1
            while time.perf_counter() < end:
                pass
        assert _count(coll) >= 20


@root_only
def test_kprobe_refusal_names_a_tracepoint():
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        pytest.skip("this kernel has kprobes")
    with _loaded("kprobe") as coll:
        with pytest.raises(AttachError, match=r"no kprobes.*tracepoint:syscalls:sys_enter_clone"):
            attach(coll.programs["prog"], "kprobe:__x64_sys_clone")
        with pytest.raises(AttachError, match=r"no kprobes.*tracepoint:sock:inet_sock_set_state"):
            attach(coll.programs["prog"], "kprobe:tcp_v4_connect")


def test_targets_from_sections():
    assert target_of_section("tracepoint/sched/sched_process_exec") == "tracepoint:sched:sched_process_exec"
    assert target_of_section("tp/syscalls/sys_enter_openat") == "tracepoint:syscalls:sys_enter_openat"
    assert target_of_section("raw_tp/sched_switch") == "raw_tracepoint:sched_switch"
    assert target_of_section("uprobe/libc.so.6:malloc") == "uprobe:libc.so.6:malloc"
    assert target_of_section("usdt/python3.11:python:function__entry") == "usdt:python3.11:python:function__entry"
    assert target_of_section("xdp") == "xdp"
    assert target_of_section("cgroup_skb/egress") == "cgroup::egress"
    assert parse_target("t:syscalls:sys_enter_read") == ("tracepoint", ["syscalls", "sys_enter_read"])
    assert parse_target("profile:hz:99") == ("profile", ["hz", "99"])
    with pytest.raises(AttachError, match="does not say where to attach"):
        target_of_section("license")


@root_only
def test_bad_targets():
    with _loaded("tracepoint") as coll:
        program = coll.programs["prog"]
        for target, why in [("tracepoint:sched", "expected tracepoint:CATEGORY:NAME"),
                            ("bogus:x", "unknown probe kind 'bogus'"),
                            ("profile:ms:5", "expected profile:hz:RATE"),
                            ("tracepoint:sched:sched_nope", "no tracepoint sched:sched_nope")]:
            with pytest.raises(Exception, match=why):
                attach(program, target)


@root_only
@pytest.mark.parametrize("section, why", [
    ("fentry/__x64_sys_clone", r"refuses fentry programs even to root.*tracepoint:syscalls:sys_enter_clone"),
    ("fexit/tcp_v4_connect", r"refuses fexit programs even to root.*tracepoint:sock:inet_sock_set_state"),
    ("lsm/file_open", r"refuses LSM programs even to root.*use a tracepoint or raw tracepoint instead"),
])
def test_trampoline_programs_refused_with_a_tracepoint_to_use(section, why):
    from pybpf.engine import BPFError
    from pybpf.object import ProgramSpec
    from pybpf.object.elf import section_kind

    kind = section_kind(section)
    spec = ProgramSpec("tramp", kind.program_type, counting("x", "kprobe").instructions[-2:],
                       expected_attach_type=kind.attach_type, attach_to=kind.target, section=section)
    try:
        with load(spec, engine="kernel"):
            pytest.skip("this kernel accepts trampoline programs")
    except BPFError as exc:
        if exc.errno != 1:
            pytest.skip(f"the kernel refused differently here: {exc}")
        assert re.search(why, str(exc))


@root_only
def test_closing_the_program_or_its_collection_detaches():
    coll = _loaded("tracepoint", tgid=os.getpid())
    link = attach(coll.programs["prog"], "tracepoint:syscalls:sys_enter_getppid")
    os.getppid()
    assert coll.maps["hits"][0] == 1
    hits = coll.maps["hits"]
    coll.programs["prog"].close()
    assert link.closed
    os.getppid()
    assert hits[0] == 1          # detached with its program
    coll.close()


@root_only
@pytest.mark.parametrize("section, target, expected", [
    ("uprobe.multi", "uprobe_multi:{binary}:st?p,main", 5),        # step four times, main once
    ("uretprobe.multi", "uretprobe_multi:{binary}:step", 4),
])
def test_uprobe_multi(probed, section, target, expected):
    from pybpf.object.elf import section_kind

    kind = section_kind(f"{section}/x:y")
    spec = counting("prog", kind.program_type)
    spec = spec.copy(expected_attach_type=kind.attach_type)
    with load(CollectionSpec.of(counter_map(), spec), engine="kernel") as coll:
        with attach(coll.programs["prog"], target.format(binary=probed)):
            subprocess.run([probed], input="go\n", capture_output=True, text=True, check=True)
        assert coll.maps["hits"][0] == expected
        with pytest.raises(AttachError, match="no function matches nothing\\*"):
            attach(coll.programs["prog"], f"uprobe_multi:{probed}:nothing*")


@root_only
def test_sigterm_leaves_nothing_attached(tmp_path):
    """A tracing tool killed with SIGTERM leaves no program, link or perf event behind:
    every attachment is owned by a file descriptor the kernel closes at exit."""
    import signal

    script = tmp_path / "tool.py"
    script.write_text(
        "import os, sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from kernel_programs import counter_map, counting\n"
        "from pybpf.engine import load\nfrom pybpf.kernel.attach import attach\n"
        "from pybpf.object import CollectionSpec\n"
        "coll = load(CollectionSpec.of(counter_map(), counting('sigterm_probe', 'tracepoint')), engine='kernel')\n"
        "link = attach(coll.programs['sigterm_probe'], 'tracepoint:syscalls:sys_enter_getppid')\n"
        "print(coll.programs['sigterm_probe'].id, flush=True)\n"
        "time.sleep(60)\n")
    tool = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    prog_id = int(tool.stdout.readline())
    from pybpf.kernel.info import ids

    assert prog_id in set(ids("prog"))
    tool.send_signal(signal.SIGTERM)
    tool.wait(timeout=10)
    for _ in range(50):           # the kernel frees the program shortly after the fds close
        if prog_id not in set(ids("prog")):
            break
        time.sleep(0.05)
    assert prog_id not in set(ids("prog"))


@root_only
def test_kprobe_multi_refusal_names_tracepoints():
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        pytest.skip("this kernel has kprobes")
    spec = counting("prog", "kprobe").copy(expected_attach_type="trace_kprobe_multi")
    with load(CollectionSpec.of(counter_map(), spec), engine="kernel") as coll:
        with pytest.raises(AttachError, match=r"no kprobes .*kprobe_multi links are refused too.*"
                                              r"__x64_sys_openat -> tracepoint:syscalls:sys_enter_openat"):
            attach(coll.programs["prog"], "kprobe_multi:__x64_sys_openat,do_nothing_here")


@root_only
def test_kprobe_through_kprobe_events_with_recorded_answers(tmp_path):
    """The kprobe_events path, on a tracefs laid out as a kernel with kprobe_events
    answers: the probe's event directory (recorded here from the getppid syscall
    tracepoint's real id, so the perf event and BPF link are real) appears under
    events/kprobes/. Because that event is really a tracepoint, the program is loaded as
    a tracepoint program. The test checks the probe definition written, the program
    running on the event, and the definition removed on close."""
    from pybpf.kernel.attach import attach_kprobe
    from pybpf.tracefs import Tracefs

    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        pytest.skip("this kernel has the kprobe PMU, which pybpf uses instead")
    real = Tracefs()
    getppid = (real.root / "events" / "syscalls" / "sys_enter_getppid" / "format").read_text()
    name = f"pybpf_{os.getpid()}___x64_sys_getppid"
    fake = tmp_path / "tracing"
    (fake / "events" / "kprobes" / name).mkdir(parents=True)
    (fake / "events" / "kprobes" / name / "format").write_text(getppid.replace("sys_enter_getppid", name, 1))
    (fake / "kprobe_events").write_text("")
    with _loaded("tracepoint", tgid=os.getpid()) as coll:
        with attach_kprobe(coll.programs["prog"].fd, "__x64_sys_getppid", tracefs=Tracefs(fake)) as link:
            for _ in range(3):
                os.getppid()
        assert coll.maps["hits"][0] == 3 and link.closed
    assert (fake / "kprobe_events").read_text().splitlines() == [
        f"p:kprobes/{name} __x64_sys_getppid", f"-:kprobes/{name}"]
