"""CO-RE from C: a program on the running kernel's vmlinux.h using BPF_CORE_READ and the
bpf_core_* queries compiles to an object whose .BTF.ext carries CO-RE relocation records
naming the kernel types it reads (the loader that applies them lives in pybpf.object)."""

from __future__ import annotations

import os
import struct

import pytest
from elftools.elf.elffile import ELFFile

from pybpf.btf import BTF, Kind
from pybpf.toolchain import compile_object

VMLINUX = "/sys/kernel/btf/vmlinux"
pytestmark = [pytest.mark.skipif(not os.path.exists(VMLINUX), reason=f"{VMLINUX} is absent: no kernel BTF"),
              pytest.mark.usefixtures("module_cache")]

PROGRAM = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>

SEC("kprobe/do_nanosleep")
int probe(struct pt_regs *ctx)
{
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    int ppid = BPF_CORE_READ(task, real_parent, tgid);
    const unsigned char *exe = BPF_CORE_READ(task, mm, exe_file, f_path.dentry, d_name.name);
    char comm[16];
    BPF_CORE_READ_INTO(&comm, task, comm);
    if (!bpf_core_field_exists(task->pid) || !bpf_core_type_exists(struct task_struct))
        return 0;
    bpf_printk("%d %s %s", ppid, comm, exe);
    return bpf_core_field_size(task->comm) + bpf_core_enum_value(enum bpf_map_type, BPF_MAP_TYPE_HASH)
        + (int)PT_REGS_PARM1(ctx);
}
LICENSE("GPL");
"""




def core_relocations(data: bytes, elf: ELFFile) -> list[tuple[str, int, str, int]]:
    """(section, instruction offset, type name, relocation kind) for each record in the
    core_relo part of .BTF.ext (header: magic, version, flags, hdr_len, func/line/core
    info offsets and lengths; each part: record size, then per section name, count, records)."""
    ext = elf.get_section_by_name(".BTF.ext").data()
    btf_section = elf.get_section_by_name(".BTF").data()
    btf = BTF.parse(btf_section)
    magic, _version, _flags, hdr_len = struct.unpack_from("<HBBI", ext)
    assert magic == 0xEB9F and hdr_len >= 32, "no core_relo part in the .BTF.ext header"
    core_off, core_len = struct.unpack_from("<II", ext, 24)
    if core_len == 0:
        return []
    pos, end = hdr_len + core_off, hdr_len + core_off + core_len
    record_size = struct.unpack_from("<I", ext, pos)[0]
    pos += 4
    records = []
    while pos < end:
        section_off, count = struct.unpack_from("<II", ext, pos)
        pos += 8
        section = btf.strings[section_off:btf.strings.index(b"\0", section_off)].decode()
        for _ in range(count):
            insn_off, type_id, _access, kind = struct.unpack_from("<IIII", ext, pos)
            records.append((section, insn_off, btf[type_id].name, kind))
            pos += record_size
    return records


def test_core_reads_compile_to_relocations(tmp_path):
    result = compile_object(PROGRAM)
    path = tmp_path / "core.o"
    path.write_bytes(result.data)
    with path.open("rb") as stream:
        relocations = core_relocations(result.data, ELFFile(stream))
    assert relocations, "the core_relo part of .BTF.ext is empty"
    assert {section for section, *_ in relocations} == {"kprobe/do_nanosleep"}
    names = {name for _, _, name, _ in relocations}
    assert {"task_struct", "mm_struct", "file", "dentry"} <= names
    kinds = {kind for *_, kind in relocations}
    assert {0, 1, 2, 8, 11} <= kinds    # byte offset, byte size, field exists, type exists, enum value
    assert not [d for d in result.diagnostics if d.level == "warning"], result.diagnostics


def test_no_preserve_access_index_leaves_plain_accesses_alone():
    plain = compile_object("#define BPF_NO_PRESERVE_ACCESS_INDEX\n#include <vmlinux.h>\n"
                           "int f(struct task_struct *t) { return t->pid; }\n")
    core = compile_object("#include <vmlinux.h>\nint f(struct task_struct *t) { return t->pid; }\n")
    from io import BytesIO

    def relos(data):
        elf = ELFFile(BytesIO(data))
        return core_relocations(data, elf) if elf.get_section_by_name(".BTF.ext") else []
    assert [name for _, _, name, _ in relos(core.data)] == ["task_struct"]
    assert not any(name == "task_struct" for _, _, name, _ in relos(plain.data))
    assert BTF.parse(ELFFile(BytesIO(core.data)).get_section_by_name(".BTF").data()).find("task_struct", Kind.STRUCT)
