"""``extern`` declarations resolved by the loader, as libbpf does: ``__kconfig`` variables
from the running kernel's version and configuration (a read-only ``.kconfig`` map, the same
on both engines), ``__ksym`` kfuncs by their id in the kernel's BTF (kernel engine only),
``__weak`` ones the kernel lacks as 0."""

from __future__ import annotations

import gzip
import os
import time
from pathlib import Path

import pytest

import pybpf
from pybpf.btf import BTF, Kind
from pybpf.isa import opcodes as o
from pybpf.object.core import POISON_HELPER
from pybpf.object.elf.errors import ObjectError
from pybpf.object.elf.externs import kernel_version

ROOT = os.geteuid() == 0
needs_kernel = pytest.mark.skipif(not ROOT, reason="the kernel engine needs root (bpf())")
CONFIG = Path("/proc/config.gz")
needs_config = pytest.mark.skipif(not CONFIG.exists(), reason="this kernel does not expose /proc/config.gz")
pytestmark = pytest.mark.usefixtures("module_cache")

KCONFIG_C = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

extern int LINUX_KERNEL_VERSION __kconfig;
extern bool LINUX_HAS_BPF_COOKIE __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig;
extern enum libbpf_tristate CONFIG_BPF_JIT __kconfig __weak;
extern char CONFIG_BPF_EVENTS __kconfig __weak;
extern int CONFIG_HZ __kconfig __weak;
extern char CONFIG_LOCALVERSION[16] __kconfig __weak;
extern int CONFIG_PYBPF_NOT_AN_OPTION __kconfig __weak;

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 8); __type(key, u32); __type(value, s64); } out SEC(".maps");

static void put(u32 slot, s64 value) { bpf_map_update_elem(&out, &slot, &value, BPF_ANY); }

SEC("socket")
int facts(void *ctx)
{
    put(0, LINUX_KERNEL_VERSION);
    put(1, LINUX_HAS_BPF_COOKIE);
    put(2, CONFIG_BPF_SYSCALL);
    put(3, CONFIG_BPF_JIT);
    put(4, CONFIG_BPF_EVENTS);
    put(5, CONFIG_HZ);
    put(6, CONFIG_LOCALVERSION[0]);
    put(7, CONFIG_PYBPF_NOT_AN_OPTION);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""

KFUNC_C = r"""
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym;
extern void bpf_task_release(struct task_struct *p) __ksym;
extern void bpf_pybpf_no_such_kfunc(void) __ksym __weak;

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, s64); } out SEC(".maps");

SEC("tp_btf/sched_switch")
int BPF_PROG(seen, bool preempt, struct task_struct *prev, struct task_struct *next)
{
    u32 zero = 0;
    struct task_struct *task = bpf_task_from_pid(bpf_get_current_pid_tgid() >> 32);
    if (!task)
        return 0;
    s64 tgid = task->tgid;
    bpf_task_release(task);
    if (bpf_ksym_exists(bpf_pybpf_no_such_kfunc))
        bpf_pybpf_no_such_kfunc();
    bpf_map_update_elem(&out, &zero, &tgid, BPF_ANY);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""


def _config() -> dict[str, str]:
    text = gzip.decompress(CONFIG.read_bytes()).decode()
    return dict(line.split("=", 1) for line in text.splitlines() if line.startswith("CONFIG_"))


def _expected() -> dict[int, int]:
    config = _config()
    tristate = {"y": 1, "m": 2, "n": 0}
    local = config.get("CONFIG_LOCALVERSION", '""').strip('"')
    return {0: kernel_version(os.uname().release), 1: 1, 2: 1,
            3: tristate[config.get("CONFIG_BPF_JIT", "n")], 4: ord(config.get("CONFIG_BPF_EVENTS", "\0")),
            5: int(config.get("CONFIG_HZ", "0")), 6: ord(local[0]) if local else 0, 7: 0}


def test_kernel_version_saturates_the_patch_level():
    assert kernel_version("6.18.44-fc-v1272") == (6 << 16) + (18 << 8) + 44
    assert kernel_version("5.4.300") == (5 << 16) + (4 << 8) + 255


@needs_config
@pytest.mark.parametrize("engine", ["vm", pytest.param("kernel", marks=needs_kernel)])
def test_kconfig_externs_read_the_running_kernel(engine):
    spec = pybpf.read(KCONFIG_C)
    kconfig = next(m for name, m in spec.maps.items() if name.endswith(".kconfig"))
    assert kconfig.freeze and kconfig.flags & 0x80          # read-only for programs
    with pybpf.load(spec, engine=engine) as collection:
        assert collection.programs["facts"].test_run(bytes(64)).retval == 0
        assert dict(collection.maps["out"].items()) == _expected()


def test_a_missing_strong_kconfig_extern_is_an_error():
    source = KCONFIG_C.replace("extern int CONFIG_PYBPF_NOT_AN_OPTION __kconfig __weak;",
                               "extern int CONFIG_PYBPF_NOT_AN_OPTION __kconfig;")
    with pytest.raises(ObjectError, match="CONFIG_PYBPF_NOT_AN_OPTION.*__weak"):
        pybpf.read(source)


def test_kfunc_calls_name_the_kernel_btf_ids():
    spec = pybpf.read(KFUNC_C)
    calls = [ins for ins in spec.programs["seen"].instructions if ins.opcode == o.JMP | o.CALL]
    kernel = BTF.load()
    kfuncs = {ins.imm for ins in calls if ins.src == o.CALL_KFUNC}
    assert kfuncs == {kernel.find("bpf_task_from_pid", Kind.FUNC).id, kernel.find("bpf_task_release", Kind.FUNC).id}
    # the weak kfunc this kernel lacks: a call the kernel refuses only if it is reached
    assert any(ins.imm == POISON_HELPER for ins in calls)


def test_the_vm_refuses_kfuncs_by_name():
    with pytest.raises(pybpf.VerifierError, match="kfunc"):
        pybpf.load(pybpf.read(KFUNC_C), engine="vm")


@needs_kernel
def test_kfuncs_run_in_the_kernel():
    with pybpf.load(pybpf.read(KFUNC_C), engine="kernel") as collection:
        with collection.programs["seen"].attach():
            deadline = time.monotonic() + 5
            while collection.maps["out"][0] == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
        assert collection.maps["out"][0] > 0
