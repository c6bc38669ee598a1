"""CO-RE relocations applied by pybpf: against a BTF built here (a struct laid out
differently, bitfields moved, an enum renumbered) on both engines, and against the
running kernel's BTF (``task_struct`` fields through a ``___flavor``), with failed
relocations poisoning their instruction and named when reached."""

from __future__ import annotations

import os
import struct

import pytest

from pybpf.btf import BTF, Kind, decode
from pybpf.engine import VerifierError, load
from pybpf.object.core import POISON_HELPER, ReloKind, essential_name
from pybpf.object.elf import ObjectError, load_object, read_object
from pybpf.vm.errors import VMError

FIELD_HELPERS = r"""
#include <pybpf/bpf.h>
#define FIELD(s, f, k) __builtin_preserve_field_info((s)->f, k)
#define READ_BITFIELD(s, f) ({ \
    unsigned long long __v = 0; \
    const char *__p = (const char *)(s) + FIELD(s, f, 0); \
    switch (FIELD(s, f, 1)) { \
    case 1: __v = *(const __u8 *)__p; break; case 2: __v = *(const __u16 *)__p; break; \
    case 4: __v = *(const __u32 *)__p; break; default: __v = *(const __u64 *)__p; } \
    __v <<= FIELD(s, f, 4); \
    if (FIELD(s, f, 3)) __v = (unsigned long long)((long long)__v >> FIELD(s, f, 5)); \
    else __v >>= FIELD(s, f, 5); \
    __v; })
"""

LOCAL = FIELD_HELPERS + r"""
struct hdr { __u32 a; __u16 b; __u8 c; unsigned int flags:3, kind:5; int level:4; } __attribute__((preserve_access_index));
struct absent { int x; };
enum color { RED = 1, BLUE = 2 };
__u64 out[16];

SEC("tc") int read_hdr(struct __sk_buff *skb)
{
    char buf[32] = {};
    if (bpf_skb_load_bytes(skb, 0, buf, sizeof(buf)))
        return 0;
    struct hdr *h = (void *)buf;
    out[0] = h->a;
    out[1] = h->b;
    out[2] = FIELD(h, c, 2);
    if (FIELD(h, c, 2))
        out[3] = h->c;          /* poisoned: the target has no c, but this is never reached */
    out[4] = READ_BITFIELD(h, flags);
    out[5] = READ_BITFIELD(h, kind);
    out[6] = READ_BITFIELD(h, level);
    out[7] = __builtin_preserve_type_info(*(struct hdr *)0, 1);
    out[8] = __builtin_preserve_enum_value(*(enum color *)BLUE, 1);
    out[9] = __builtin_preserve_enum_value(*(enum color *)RED, 0);
    out[10] = FIELD(h, b, 0);
    out[11] = __builtin_preserve_type_info(*(struct absent *)0, 0);
    out[12] = __builtin_btf_type_id(*(struct hdr *)0, 1);
    out[13] = __builtin_preserve_type_info(*(struct hdr *)0, 2);
    return 1;
}
LICENSE("GPL");
"""

TARGET = r"""
struct hdr { unsigned char pad[4]; unsigned short b; unsigned short pad2; unsigned int a;
             unsigned int pad3:2, kind:5, flags:3; int level:6; int extra; };
enum color { BLUE = 7, GREEN = 9 };
struct hdr h; enum color c;
"""

UNGUARDED = r"""
#include <pybpf/bpf.h>
struct hdr { __u32 a; __u16 b; __u8 c; } __attribute__((preserve_access_index));
SEC("tc") int read_c(struct __sk_buff *skb)
{
    char buf[32] = {};
    if (bpf_skb_load_bytes(skb, 0, buf, sizeof(buf)))
        return 0;
    struct hdr *h = (void *)buf;
    return h->c;
}
LICENSE("GPL");
"""

TASK = r"""
#include <pybpf/bpf.h>
struct task_struct { int pid; int tgid; } __attribute__((preserve_access_index));
/* a flavor: same kernel type, this program's own (wrong) idea of where pid is */
struct task_struct___mine { long junk[3]; int pid; } __attribute__((preserve_access_index));
SEC("raw_tp/sys_enter") int task_pid(void *ctx)
{
    struct task_struct *task = (void *)bpf_get_current_task();
    struct task_struct___mine *mine = (void *)task;
    int pid = 0, tgid = 0, again = 0;
    bpf_probe_read_kernel(&pid, sizeof(pid), &task->pid);
    bpf_probe_read_kernel(&tgid, sizeof(tgid), &task->tgid);
    bpf_probe_read_kernel(&again, sizeof(again), &mine->pid);
    if (pid != again)
        return -1;
    return pid == tgid ? pid : -2;
}
LICENSE("GPL");
"""


def btf_of(data: bytes) -> BTF:
    return BTF.parse(read_object(data).section(".BTF").data)


@pytest.fixture(scope="module")
def target(build):
    return btf_of(build(TARGET))


@pytest.mark.parametrize("name, essential", [
    ("task_struct___old", "task_struct"), ("task_struct", "task_struct"), ("a___b___c", "a___b"),
    ("__x___y", "__x"), ("x____y", "x____y"), ("___y", "___y"),
])
def test_essential_names_drop_the_flavor(name, essential):
    assert essential_name(name) == essential


@pytest.mark.parametrize("engine", ["vm", "kernel"])
def test_fields_bitfields_enums_and_types_follow_the_target(build, target, engine, request):
    if engine == "kernel":
        request.getfixturevalue("kernel")
    spec = load_object(build(LOCAL), name="core", core_btf=target)
    kinds = {r.kind for r in spec.programs["read_hdr"].core}
    assert {ReloKind.FIELD_BYTE_OFFSET, ReloKind.FIELD_BYTE_SIZE, ReloKind.FIELD_EXISTS, ReloKind.FIELD_SIGNED,
            ReloKind.FIELD_LSHIFT_U64, ReloKind.FIELD_RSHIFT_U64, ReloKind.TYPE_SIZE, ReloKind.TYPE_EXISTS,
            ReloKind.TYPE_ID_TARGET, ReloKind.TYPE_MATCHES, ReloKind.ENUMVAL_VALUE,
            ReloKind.ENUMVAL_EXISTS} <= kinds
    poisoned = [r for r in spec.programs["read_hdr"].core if r.poisoned]
    assert [r.what for r in poisoned] == ["struct hdr.c"]
    packet = bytes(range(1, 33))
    hdr = target.find("hdr", Kind.STRUCT)
    expected = decode(target, hdr.id, packet)
    with load(spec, engine=engine) as coll:
        assert coll.programs["read_hdr"].test_run(packet).retval == 1
        out = struct.unpack("<16Q", coll.maps["core.bss"][0])
    level = expected.level & 0xFFFF_FFFF_FFFF_FFFF
    assert out[:14] == (expected.a, expected.b, 0, 0, expected.flags, expected.kind, level, hdr.size,
                        7, 0, target.member(hdr.id, "b").offset // 8, 0, hdr.id, 0)


@pytest.mark.parametrize("engine", ["vm", "kernel"])
def test_an_unsatisfiable_relocation_is_named_when_reached(build, target, engine, request):
    if engine == "kernel":
        request.getfixturevalue("kernel")
    spec = load_object(build(UNGUARDED), name="unguarded", core_btf=target)
    program = spec.programs["read_c"]
    (failed,) = [r for r in program.core if r.poisoned]
    assert program.instructions[failed.index].imm == POISON_HELPER
    expected = (VerifierError, VMError)
    with pytest.raises(expected) as caught:
        with load(spec, engine=engine) as coll:          # the kernel refuses it here...
            coll.programs["read_c"].test_run(bytes(32))  # ...the vm when it gets there
    message = str(caught.value)
    assert "CO-RE relocation failed: struct hdr.c: the field does not exist in the target" in message
    assert "return h->c;" in message


def test_ambiguous_candidates_are_an_error(build):
    flavors = btf_of(build("struct hdr___x { int a; short b; }; struct hdr___y { short b; int a; };\n"
                           "struct hdr___x x; struct hdr___y y;\n"))
    with pytest.raises(ObjectError, match=r"tc:read_c: instruction \d+: FIELD_BYTE_OFFSET relocation of "
                                          r"struct hdr.a \(access '0:0'\): field offset ambiguity: target types "
                                          r"\d+ and \d+ \(struct hdr___y\) put it at bits 0 and 32"):
        load_object(build(UNGUARDED.replace("h->c", "h->a")), core_btf=flavors)


def test_missing_target_btf_file_is_named(build, tmp_path):
    with pytest.raises(ObjectError, match="nothing.btf: cannot read the target BTF"):
        load_object(build(UNGUARDED), core_btf=tmp_path / "nothing.btf")


def test_task_struct_offsets_are_the_running_kernels(build, vmlinux):
    spec = load_object(build(TASK), name="task")
    task = vmlinux.find("task_struct", Kind.STRUCT)
    kernel = {m.name: m.offset // 8 for m in task.members if m.name in ("pid", "tgid")}
    relocated = {(r.what, r.new) for r in spec.programs["task_pid"].core}
    assert relocated == {("struct task_struct.pid", kernel["pid"]), ("struct task_struct.tgid", kernel["tgid"]),
                         ("struct task_struct___mine.pid", kernel["pid"])}
    assert all(not r.poisoned for r in spec.programs["task_pid"].core)


def test_task_pid_read_through_co_re_in_the_kernel(build, vmlinux, kernel):
    spec = load_object(build(TASK), name="task")
    with load(spec, engine="kernel") as coll:
        assert coll.programs["task_pid"].test_run(ctx=bytes(8)).retval == os.getpid()
