"""perf events on the running kernel: counters, sampling with callchains, tracepoint
records decoded by their tracefs format, uprobes and USDT semaphores, and the messages
for what this kernel refuses. Needs root (skips otherwise); every fd is closed."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from pybpf.kernel.perf_event import (
    SAMPLE_CALLCHAIN,
    SAMPLE_IP,
    SAMPLE_RAW,
    SAMPLE_TID,
    PerfEvent,
    PerfEventError,
    online_cpus,
)
from pybpf.kernel.perf_ring import PERF_CONTEXT_KERNEL, PERF_CONTEXT_USER, PerfRing, split_callchain
from pybpf.symbols import ElfSymbols
from pybpf.tracefs import Tracefs, TracefsError
from pybpf.usdt import find_probe

pytestmark = [
    pytest.mark.usefixtures("no_fd_leak"),
    pytest.mark.skipif(os.geteuid() != 0, reason="perf events for tracing need root"),
]


def _burn(seconds: float = 0.05) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sum(range(1000))


def test_software_counter_counts_this_process():
    with PerfEvent.software("task-clock", pid=0, cpu=-1, disabled=True) as event:
        event.enable()
        _burn()
        event.disable()
        assert event.read_count() > 10_000_000  # ns of task clock: at least 10 ms
        event.reset()
        assert event.read_count() == 0


def test_sampling_this_process_with_callchains():
    kinds = SAMPLE_IP | SAMPLE_TID | SAMPLE_CALLCHAIN
    with PerfEvent.software("cpu-clock", pid=0, cpu=-1, sample_period=100_000, sample_type=kinds) as event, \
            PerfRing(event.fileno()) as ring:
        _burn(0.05)
        samples = list(ring.samples(kinds))
    assert len(samples) > 10
    assert all(s.pid == os.getpid() for s in samples)
    assert any(s.user_stack and s.ip == s.user_stack[0] for s in samples)


def test_tracepoint_records_decode_with_their_format(tmp_path):
    try:
        fmt = Tracefs().format("syscalls:sys_enter_openat")
    except TracefsError as exc:
        pytest.skip(f"no openat tracepoint: {exc}")
    dir_fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with PerfEvent.tracepoint(fmt.id, name=fmt.qualified_name, pid=0, cpu=-1,
                                  sample_type=SAMPLE_RAW | SAMPLE_TID) as event, PerfRing(event.fileno()) as ring:
            with pytest.raises(FileNotFoundError):
                os.open("no-such-file", os.O_RDONLY, dir_fd=dir_fd)
            records = [fmt.decode(s.raw) for s in ring.samples(SAMPLE_RAW | SAMPLE_TID)]
    finally:
        os.close(dir_fd)
    ours = [r for r in records if r["dfd"] == dir_fd]
    assert ours and ours[-1]["common_type"] == fmt.id and ours[-1]["common_pid"] == os.getpid()
    assert ours[-1]["flags"] & os.O_CLOEXEC


_DEMO_C = r"""
#include <stdio.h>
unsigned short demo_tick_semaphore __attribute__((section(".probes"), used));
__attribute__((noinline)) int tick(int n) { __asm__ volatile(""); return n + 1; }
int main(void) {
    char line[8];
    int total = 0;
    fgets(line, sizeof line, stdin);               /* wait until the probe is placed */
    if (demo_tick_semaphore) {
        __asm__ __volatile__ (
            "990: nop\n"
            ".pushsection .note.stapsdt,\"?\",\"note\"\n"
            ".balign 4\n.4byte 992f-991f, 994f-993f, 3\n991: .asciz \"stapsdt\"\n"
            "992: .balign 4\n993: .8byte 990b\n.8byte _.stapsdt.base\n"
            ".8byte demo_tick_semaphore\n.asciz \"demo\"\n.asciz \"tick\"\n"
            ".asciz \"-4@%0\"\n994: .balign 4\n.popsection\n"
            ".ifndef _.stapsdt.base\n"
            ".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n"
            ".weak _.stapsdt.base\n.hidden _.stapsdt.base\n_.stapsdt.base: .space 1\n"
            ".size _.stapsdt.base, 1\n.popsection\n.endif\n" :: "r" (total));
        puts("semaphore set");
    }
    for (int i = 0; i < 5; i++) total = tick(total);
    printf("%d\n", total);
    return 0;
}
"""


@pytest.fixture(scope="module")
def demo_binary(tmp_path_factory):
    if shutil.which("gcc") is None:
        pytest.skip("needs gcc to build the probed program")
    directory = tmp_path_factory.mktemp("uprobe")
    (directory / "demo.c").write_text(_DEMO_C)
    subprocess.run(["gcc", "-O1", "-o", directory / "demo", directory / "demo.c"], check=True)
    return str(directory / "demo")


def _run_probed(binary: str, make_event) -> tuple[str, int]:
    child = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        with make_event(child.pid) as event:
            out, _ = child.communicate("go\n", timeout=10)
            return out, event.read_count()
    finally:
        child.kill()
        child.wait()


def test_uprobe_counts_function_calls(demo_binary):
    elf = ElfSymbols(demo_binary)
    offset = elf.offset_of_vaddr(elf.address("tick"))
    out, hits = _run_probed(demo_binary, lambda pid: PerfEvent.uprobe(demo_binary, offset, pid=pid))
    assert out.split() == ["5"] and hits == 5


def test_uretprobe_counts_returns(demo_binary):
    elf = ElfSymbols(demo_binary)
    offset = elf.offset_of_vaddr(elf.address("tick"))
    _, hits = _run_probed(demo_binary, lambda pid: PerfEvent.uprobe(demo_binary, offset, retprobe=True, pid=pid))
    assert hits == 5


def test_usdt_probe_with_semaphore(demo_binary):
    (probe,) = find_probe(demo_binary, "tick", "demo")
    out, hits = _run_probed(demo_binary, lambda pid: PerfEvent.uprobe(
        demo_binary, probe.offset, ref_ctr_offset=probe.semaphore_offset, pid=pid))
    # the kernel raised the semaphore, so the program took its probe path
    assert out.split() == ["semaphore", "set", "5"] and hits == 1


def test_kprobe_refusal_names_the_tracepoint():
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        pytest.skip("this kernel has kprobes")
    suggestion = Tracefs().tracepoint_for_function("__x64_sys_clone")
    with pytest.raises(PerfEventError, match=r"no kprobes .*CONFIG_KPROBES.*tracepoint:syscalls:sys_enter_clone"):
        PerfEvent.kprobe("__x64_sys_clone", suggestion=suggestion)


def test_hardware_counter_or_a_clear_reason():
    try:
        with PerfEvent.hardware("instructions", pid=0, cpu=-1) as event:
            _burn(0.01)
            assert event.read_count() > 0
    except PerfEventError as exc:
        assert "no hardware counters" in str(exc) or "not supported" in str(exc) or "EOPNOTSUPP" in str(exc)


def test_errors_name_the_event():
    with pytest.raises(PerfEventError, match="unknown software event 'nope'"):
        PerfEvent.software("nope")
    with pytest.raises(PerfEventError, match=r"cannot open uprobe /nonexistent\+0x10"):
        PerfEvent.uprobe("/nonexistent", 0x10, cpu=0)
    with pytest.raises(PerfEventError, match="power of two"):
        PerfRing(0, pages=3)


def test_callchain_split():
    chain = (PERF_CONTEXT_KERNEL, 0xFFFFFFFF81000010, 0xFFFFFFFF81000020, PERF_CONTEXT_USER, 0x401000)
    assert split_callchain(chain) == ((0xFFFFFFFF81000010, 0xFFFFFFFF81000020), (0x401000,))


def test_online_cpus():
    assert online_cpus() and len(online_cpus()) == os.cpu_count()
