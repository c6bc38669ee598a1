"""A corpus of broken BPF objects, each made from one valid object by one targeted change,
with the words the loader's ObjectError must say about it.

The valid object (:data:`SOURCE`) has what a loader must get right: code in three
sections (a tracepoint, an XDP program, a ``.text`` subprogram), relocations of maps,
global data and calls, legacy and BTF-defined maps, ``.BTF`` and ``.BTF.ext`` with line
info and a CO-RE relocation. :class:`ElfEdit` finds the headers, symbols, relocations and
BTF records to change by parsing the file with ``struct`` only, independently of the
loader under test.

``python tests/object/malformed_corpus.py DIR`` writes the valid object and every broken
one to DIR (``NAME.o``), for trying other loaders (bpftool, libbpf) on the same input.
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SOURCE = r"""
#include <pybpf/bpf.h>

struct task_struct { int tgid; } __attribute__((preserve_access_index));
struct event { __u32 pid; __u32 value; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
struct bpf_map_def { __u32 type, key_size, value_size, max_entries, map_flags; };
struct bpf_map_def SEC("maps") legacy = { .type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 2 };
volatile const __u32 scale = 3;
__u64 seen;

static __attribute__((noinline)) __u64 bump(__u32 key, __u64 by)
{
    __u64 *v = bpf_map_lookup_elem(&counts, &key);
    if (v) { *v += by; return *v; }
    bpf_map_update_elem(&counts, &key, &by, BPF_ANY);
    return by;
}

SEC("tracepoint/syscalls/sys_enter_getppid") int on_getppid(void *ctx)
{
    struct task_struct *task = (void *)bpf_get_current_task();
    __u32 pid = BPF_CORE_READ(task, tgid);
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    seen += 1;
    if (!e) return 0;
    e->pid = pid;
    e->value = bump(pid, scale);
    bpf_ringbuf_submit(e, 0);
    return 0;
}

SEC("xdp") int first_byte(struct xdp_md *ctx)
{
    unsigned char *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u32 k = 0;
    __u64 *hits = bpf_map_lookup_elem(&legacy, &k);
    if (data + 1 > end) return XDP_ABORTED;
    if (hits) *hits += 1;
    return data[0] == 0x42 ? XDP_DROP : XDP_PASS;
}
LICENSE("GPL");
"""

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")
_REL = struct.Struct("<QQ")
#: byte offsets of fields inside the ELF header and a section header
E_TYPE, E_MACHINE, E_SHOFF, E_SHENTSIZE, E_SHNUM, E_SHSTRNDX = 16, 18, 40, 58, 60, 62
SH_NAME, SH_TYPE, SH_OFFSET, SH_SIZE, SH_LINK, SH_INFO, SH_ENTSIZE = 0, 4, 24, 32, 40, 44, 56
SHT_PROGBITS, SHT_SYMTAB = 1, 2
LDDW, CALL = 0x18, 0x85


@dataclass
class Header:
    """A section header's place in the file and the fields the edits use."""

    index: int
    at: int          # byte offset of the header itself
    name: str
    type: int
    offset: int
    size: int


class ElfEdit:
    """A copy of an ELF64 little-endian object that edits write into."""

    def __init__(self, data: bytes):
        self.data = bytearray(data)
        shoff, shnum, shstrndx = (struct.unpack_from("<Q", data, E_SHOFF)[0],
                                  *struct.unpack_from("<HH", data, E_SHNUM))
        raw = [_SHDR.unpack_from(data, shoff + i * _SHDR.size) for i in range(shnum)]
        names_at = raw[shstrndx][4]
        self.headers = [Header(i, shoff + i * _SHDR.size, _cstring(data, names_at + r[0]), r[1], r[4], r[5])
                        for i, r in enumerate(raw)]

    def bytes(self) -> bytes:
        return bytes(self.data)

    def put(self, at: int, fmt: str, *values: int) -> ElfEdit:
        struct.pack_into("<" + fmt, self.data, at, *values)
        return self

    def header(self, name: str) -> Header:
        return next(h for h in self.headers if h.name == name)

    def set_field(self, name: str, field: int, value: int, fmt: str = "Q") -> ElfEdit:
        """Set a field of section ``name``'s header (``fmt`` "I" for the 32-bit ones)."""
        return self.put(self.header(name).at + field, fmt, value)

    def in_section(self, name: str, offset: int, fmt: str, *values: int) -> ElfEdit:
        return self.put(self.header(name).offset + offset, fmt, *values)

    def symbols(self) -> list[tuple[int, str, int, tuple]]:
        """(number, name, file offset, (st_name, info, other, shndx, value, size)) of each symbol."""
        symtab = next(h for h in self.headers if h.type == SHT_SYMTAB)
        strtab = self.headers[struct.unpack_from("<I", self.data, symtab.at + SH_LINK)[0]]
        out = []
        for number in range(symtab.size // _SYM.size):
            at = symtab.offset + number * _SYM.size
            fields = _SYM.unpack_from(self.data, at)
            out.append((number, _cstring(self.data, strtab.offset + fields[0]), at, fields))
        return out

    def symbol_at(self, name: str) -> int:
        """The file offset of symbol ``name``'s entry."""
        return next(at for _n, sym_name, at, _f in self.symbols() if sym_name == name)

    def relocations(self, section: str) -> list[tuple[int, int, int, int]]:
        """(file offset, r_offset, symbol number, type) of each relocation of ``section``."""
        rel = self.header(".rel" + section)
        out = []
        for at in range(rel.offset, rel.offset + rel.size, _REL.size):
            offset, info = _REL.unpack_from(self.data, at)
            out.append((at, offset, info >> 32, info & 0xFFFF_FFFF))
        return out

    def instructions(self, section: str) -> list[int]:
        """The opcode byte of each 8-byte slot of a code section."""
        header = self.header(section)
        return list(self.data[header.offset:header.offset + header.size:8])

    def btf_types(self) -> list[tuple[int, int, int, int]]:
        """(type id, file offset, kind, vlen) of each .BTF type record."""
        btf = self.header(".BTF")
        hdr_len, type_off, type_len = struct.unpack_from("<III", self.data, btf.offset + 4)
        extra = {1: (4, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 13: (0, 8), 14: (4, 0), 15: (0, 12),
                 17: (4, 0), 19: (0, 12)}
        pos = btf.offset + hdr_len + type_off
        end = pos + type_len
        out = []
        while pos < end:
            info = struct.unpack_from("<I", self.data, pos + 4)[0]
            kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
            out.append((len(out) + 1, pos, kind, vlen))
            fixed, each = extra.get(kind, (0, 0))
            pos += 12 + fixed + each * vlen
        return out

    def btf_ext_tables(self) -> dict[str, int]:
        """File offsets of the record-size word of each .BTF.ext table (func, line, core)."""
        ext = self.header(".BTF.ext")
        hdr_len, func_off, _fl, line_off, _ll, core_off = struct.unpack_from("<IIIIII", self.data, ext.offset + 4)
        base = ext.offset + hdr_len
        return {"func": base + func_off, "line": base + line_off, "core": base + core_off}


def _cstring(data: bytes | bytearray, at: int) -> str:
    return bytes(data[at:data.index(b"\0", at)]).decode("latin-1")


@dataclass(frozen=True)
class Case:
    """One broken object: ``make`` breaks a copy of the valid one; the error must match ``why``."""

    name: str
    make: Callable[[ElfEdit], ElfEdit | bytes]
    why: str


def _first_plain_slot(e: ElfEdit, section: str) -> int:
    """The byte offset of the first instruction that is neither lddw nor a call, nor relocated."""
    relocated = {offset for _at, offset, _s, _t in e.relocations(section)}
    opcodes = e.instructions(section)
    for slot, opcode in enumerate(opcodes):
        previous = opcodes[slot - 1] if slot else 0
        if opcode not in (LDDW, CALL, 0) and previous != LDDW and slot * 8 not in relocated:
            return slot * 8
    raise AssertionError(f"no plain instruction in {section}")


def _lddw_relocation(e: ElfEdit, section: str) -> tuple[int, int, int, int]:
    opcodes = e.instructions(section)
    return next(r for r in e.relocations(section) if opcodes[r[1] // 8] == LDDW)


def _btf_kind(e: ElfEdit, kind: int, nth: int = 0) -> int:
    return [at for _id, at, k, _v in e.btf_types() if k == kind][nth]


def _array_with(e: ElfEdit, nelems: int) -> int:
    """The file offset of the ARRAY record with ``nelems`` elements (how __uint() encodes a number)."""
    return next(at for _id, at, k, _v in e.btf_types()
                if k == 3 and struct.unpack_from("<I", e.data, at + 20)[0] == nelems)


def _truncations(size: int, headers: list[Header]) -> list[int]:
    points = {0, 3, 5, 16, 40, 63, 64, size // 2, size - 1}
    for h in headers[1:]:
        if h.size and h.type != 8:
            points.update({h.offset, h.offset + h.size // 2, h.offset + h.size - 1})
    return sorted(p for p in points if 0 <= p < size)


TRACEPOINT = "tracepoint/syscalls/sys_enter_getppid"

CASES: list[Case] = [
    # the ELF header
    Case("class-32", lambda e: e.put(4, "B", 1), "32-bit"),
    Case("class-bad", lambda e: e.put(4, "B", 7), r"EI_CLASS\) is 7"),
    Case("big-endian", lambda e: e.put(5, "B", 2), "big-endian"),
    Case("data-bad", lambda e: e.put(5, "B", 0), r"EI_DATA\) is 0"),
    Case("machine-x86", lambda e: e.put(E_MACHINE, "H", 62), "EM_X86_64, not BPF"),
    Case("machine-unknown", lambda e: e.put(E_MACHINE, "H", 9999), "machine 9999, not BPF"),
    Case("type-exec", lambda e: e.put(E_TYPE, "H", 2), r"relocatable \(ET_REL"),
    Case("shentsize", lambda e: e.put(E_SHENTSIZE, "H", 40), "e_shentsize is 40"),
    Case("shnum-zero", lambda e: e.put(E_SHNUM, "H", 0), "no section headers"),
    Case("shnum-large", lambda e: e.put(E_SHNUM, "H", 0xFFFF), "section header table .* runs past the end"),
    Case("shoff-huge", lambda e: e.put(E_SHOFF, "Q", 1 << 62), "section header table .* runs past the end"),
    Case("shstrndx-range", lambda e: e.put(E_SHSTRNDX, "H", 999), "e_shstrndx 999"),
    Case("shstrndx-not-strtab", lambda e: e.put(E_SHSTRNDX, "H", e.header("xdp").index), "e_shstrndx"),
    # section headers
    Case("section-offset", lambda e: e.set_field(".BTF", SH_OFFSET, 1 << 40),
         r"section \d+ \(\.BTF\): offset 0x10000000000 .* runs past the end of the file"),
    Case("section-size", lambda e: e.set_field("xdp", SH_SIZE, 1 << 63),
         r"section \d+ \(xdp\): offset .* runs past the end of the file"),
    Case("section-name", lambda e: e.set_field("xdp", SH_NAME, 0x7FFF_FFFF, "I"),
         "name offset 2147483647 is past the end of the section name table"),
    Case("symtab-entsize", lambda e: e.set_field(".symtab", SH_ENTSIZE, 16), "its entries are 24 bytes"),
    Case("symtab-size", lambda e: e.set_field(".symtab", SH_SIZE, e.header(".symtab").size - 5),
         "its entries are 24 bytes"),
    Case("symtab-link", lambda e: e.set_field(".symtab", SH_LINK, e.header("xdp").index, "I"),
         "not the string table of its symbols"),
    Case("rel-link", lambda e: e.set_field(".relxdp", SH_LINK, e.header("xdp").index, "I"), "not a symbol table"),
    Case("rel-link-range", lambda e: e.set_field(".relxdp", SH_LINK, 5000, "I"), "sh_link 5000 names no section"),
    Case("rel-info", lambda e: e.set_field(".relxdp", SH_INFO, 5000, "I"), r"applies to section 5000 \(sh_info\)"),
    Case("rel-entsize", lambda e: e.set_field(".relxdp", SH_ENTSIZE, 24), "its entries are 16 bytes"),
    Case("symtab-type", lambda e: e.set_field(".symtab", SH_TYPE, SHT_PROGBITS, "I"),
         r"\(\.rel\.text\): sh_link \d+ names a section of type 1, not a symbol table"),
    Case("bss-huge", lambda e: e.set_field(".bss", SH_SIZE, 1 << 40),
         r"DATASEC '\.bss': its section is 1099511627776 bytes, more than BTF can describe"),
    Case("bss-large", lambda e: e.set_field(".bss", SH_SIZE, 8 << 20), r"data section '\.bss' is 8388608 bytes"),
    # symbols
    Case("symbol-name", lambda e: e.put(e.symbol_at("first_byte"), "I", 0x7FFF_FFFF),
         r"symbol \d+: name offset 2147483647 is past the end of its string table"),
    Case("symbol-section", lambda e: e.put(e.symbol_at("first_byte") + 6, "H", 900),
         "defined in section 900, which does not exist"),
    Case("function-misaligned", lambda e: e.put(e.symbol_at("first_byte") + 8, "Q", 4),
         "function 'first_byte' at xdp\\+0x4 .* not a whole number of instructions"),
    Case("function-size", lambda e: e.put(e.symbol_at("first_byte") + 16, "Q", 1 << 20),
         "function 'first_byte' .* not a whole number of instructions inside its section"),
    Case("legacy-map-offset", lambda e: e.put(e.symbol_at("legacy") + 8, "Q", 8),
         r"DATASEC 'maps': variable \d+ at offset 8 \(20 bytes\) lies past the end of the section"),
    # relocations
    Case("reloc-outside", lambda e: e.put(e.relocations("xdp")[0][0], "Q", 1 << 20),
         r"\.relxdp relocation at 0x100000 lies outside 'xdp'"),
    Case("reloc-symbol-range", lambda e: e.put(e.relocations("xdp")[0][0] + 12, "I", 100000),
         "names symbol 100000, beyond the"),
    Case("reloc-undefined-symbol", lambda e: e.put(e.relocations("xdp")[0][0] + 12, "I", 0),
         "which this object does not define"),
    Case("reloc-plain-instruction", lambda e: e.put(e.relocations("xdp")[0][0], "Q", _first_plain_slot(e, "xdp")),
         "unexpected relocation type 1 on opcode"),
    Case("reloc-mid-lddw", lambda e: e.put(_lddw_relocation(e, "xdp")[0], "Q", _lddw_relocation(e, "xdp")[1] + 8),
         "points into the middle of an instruction"),
    Case("reloc-type", lambda e: e.put(_lddw_relocation(e, "xdp")[0] + 8, "I", 99),
         "unexpected relocation type 99 on opcode 0x18"),
    Case("reloc-call-type", lambda e: e.put(next(r for r in e.relocations(TRACEPOINT)
                                                 if e.instructions(TRACEPOINT)[r[1] // 8] == CALL)[0] + 8, "I", 1),
         "unexpected relocation type 1 on opcode 0x85"),
    # code
    Case("code-size", lambda e: e.set_field("xdp", SH_SIZE, e.header("xdp").size - 4),
         "code section 'xdp' is .* not a whole number of 8-byte instructions"),
    Case("bad-opcode", lambda e: e.in_section("xdp", _first_plain_slot(e, "xdp"), "B", 0xFF),
         r"function 'first_byte' in xdp: instruction \d+"),
    # .BTF
    Case("btf-magic", lambda e: e.in_section(".BTF", 0, "H", 0x1234), r"\.BTF: byte 0: bad magic 0x1234"),
    Case("btf-version", lambda e: e.in_section(".BTF", 2, "B", 9), "unsupported BTF version 9"),
    Case("btf-reloc-outside", lambda e: e.set_field(".BTF", SH_SIZE, 20), r"\.rel\.BTF relocation at 0x[0-9a-f]+ lies outside"),
    Case("btf-truncated", lambda e: e.set_field(".rel.BTF", SH_SIZE, 0).set_field(".BTF", SH_SIZE, 20),
         r"\.BTF: .*shorter than the BTF header"),
    Case("btf-type-len", lambda e: e.in_section(".BTF", 12, "I", 1 << 30), r"\.BTF: .*the type section .*runs past"),
    Case("btf-str-len", lambda e: e.in_section(".BTF", 20, "I", 1 << 30), r"\.BTF: .*the string section .*runs past"),
    Case("btf-type-id", lambda e: e.put(_btf_kind(e, 2) + 8, "I", 0xFFFF), "refers to type 65535, but there are"),
    Case("btf-name-offset", lambda e: e.put(e.btf_types()[0][1], "I", 1 << 30),
         r"\.BTF: byte \d+: name offset 1073741824 is past the string section"),
    Case("btf-kind", lambda e: e.put(e.btf_types()[0][1] + 7, "B", 0x1F), "unknown BTF kind 31"),
    Case("btf-datasec-entry", lambda e: e.put(_btf_kind(e, 15) + 12, "I", 1), "is type 1, not a VAR"),
    Case("btf-map-type", lambda e: e.put(_array_with(e, 27) + 20, "I", 999), "map 'events': unknown map type 999"),
    # .BTF.ext
    Case("btf-ext-magic", lambda e: e.in_section(".BTF.ext", 0, "H", 0), r"\.BTF\.ext: byte 0: bad magic"),
    Case("btf-ext-truncated", lambda e: e.set_field(".rel.BTF.ext", SH_SIZE, 0).set_field(".BTF.ext", SH_SIZE, 6),
         r"\.BTF\.ext: .*shorter than"),
    Case("btf-ext-hdr-len", lambda e: e.in_section(".BTF.ext", 4, "I", 1 << 20), "header length 1048576"),
    Case("btf-ext-table", lambda e: e.in_section(".BTF.ext", 12, "I", 1 << 20), "the func_info table \\(1048576 bytes\\) runs past the end of .BTF.ext"),
    Case("btf-ext-record-size", lambda e: e.put(e.btf_ext_tables()["func"], "I", 3),
         "func_info record size 3 is smaller"),
    Case("btf-ext-section-name", lambda e: e.put(e.btf_ext_tables()["line"] + 4, "I", 1 << 30),
         "string offset 1073741824 is past the .BTF string table"),
    Case("btf-ext-count", lambda e: e.put(e.btf_ext_tables()["line"] + 8, "I", 1 << 20),
         "line_info records of 16 bytes for section .* run past the end"),
    Case("core-unknown-section", lambda e: e.put(e.btf_ext_tables()["core"] + 4, "I", 1),
         "CO-RE relocations for section"),
    Case("core-mid-instruction", lambda e: e.put(e.btf_ext_tables()["core"] + 12, "I", 4),
         "CO-RE relocation at .*\\+0x4 is not at the start of an instruction"),
    Case("core-kind", lambda e: e.put(e.btf_ext_tables()["core"] + 24, "I", 99),
         "unknown CO-RE relocation kind 99"),
    Case("core-type-id", lambda e: e.put(e.btf_ext_tables()["core"] + 16, "I", 0xFFFFF),
         "FIELD_BYTE_OFFSET relocation of type 1048575"),
    Case("core-access", lambda e: e.put(e.btf_ext_tables()["core"] + 20, "I", 1 << 30),
         "CO-RE relocation record at byte .*string offset 1073741824"),
    # maps sections
    Case("legacy-maps-size", lambda e: e.set_field("maps", SH_SIZE, 12),
         r"DATASEC 'maps': variable \d+ at offset 0 \(20 bytes\) lies past the end of the section \(12 bytes\)"),
    Case("legacy-map-type", lambda e: e.in_section("maps", 0, "I", 4242), "map 'legacy' has unknown map type 4242"),
    Case("legacy-map-key-size", lambda e: e.in_section("maps", 4, "I", 0), "map 'legacy': .*key_size"),
    Case("btf-maps-size", lambda e: e.set_field(".maps", SH_SIZE, 8),
         r"DATASEC '\.maps': variable .* lies past the end of the section \(8 bytes\)"),
]


def corpus(valid: bytes) -> list[tuple[str, bytes, str]]:
    """(name, broken object, regex its error must match) for every case and truncation."""
    out = []
    for case in CASES:
        made = case.make(ElfEdit(valid))
        out.append((case.name, made.bytes() if isinstance(made, ElfEdit) else made, case.why))
    for point in _truncations(len(valid), ElfEdit(valid).headers):
        out.append((f"truncated-{point}", valid[:point], "truncated|not a valid ELF|runs past the end"))
    return out


def main(argv: list[str]) -> int:
    """Write the valid object and the corpus to a directory."""
    from pybpf.toolchain import compile_c

    if len(argv) != 1:
        print("usage: malformed_corpus.py DIR", file=sys.stderr)
        return 2
    directory = Path(argv[0])
    directory.mkdir(parents=True, exist_ok=True)
    valid = compile_c(SOURCE)
    (directory / "valid.o").write_bytes(valid)
    for name, data, _why in corpus(valid):
        (directory / f"{name}.o").write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
