"""USDT notes and argument specs: decoded by hand-checked cases, a probe built here with
gcc, and the probes of this machine's python3.11 cross-checked against ``readelf -n``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from elftools.elf.elffile import ELFFile

from pybpf.usdt import ArgKind, UsdtError, find_probe, parse_argument, parse_arguments, read_probes


@pytest.mark.parametrize(
    "spec, kind, size, signed, reg, value",
    [
        ("8@%rax", ArgKind.REG, 8, False, 80, 0),
        ("-4@%edi", ArgKind.REG, 4, True, 112, 0),
        ("-1@%al", ArgKind.REG, 1, True, 80, 0),
        ("2@%r9w", ArgKind.REG, 2, False, 64, 0),
        ("4@$5", ArgKind.CONST, 4, False, -1, 5),
        ("-8@$-0x10", ArgKind.CONST, 8, True, -1, -16),
        ("-4@112(%rsp)", ArgKind.REG_DEREF, 4, True, 152, 112),
        ("8@-16(%rbp)", ArgKind.REG_DEREF, 8, False, 32, -16),
        ("8@(%rbx)", ArgKind.REG_DEREF, 8, False, 40, 0),
    ],
)
def test_argument_forms(spec, kind, size, signed, reg, value):
    arg = parse_argument(spec)
    assert (arg.kind, arg.size, arg.signed, arg.reg_offset, arg.value) == (kind, size, signed, reg, value)
    assert arg.bitshift == 64 - 8 * size


def test_scaled_index_argument():
    arg = parse_argument("8@8(%rdi,%rsi,4)")
    assert (arg.kind, arg.reg_offset, arg.index_offset, arg.scale, arg.value) == (ArgKind.SIB, 112, 104, 4, 8)


@pytest.mark.parametrize(
    "spec, why",
    [
        ("%rax", "expected SIZE@OPERAND"),
        ("x@%rax", "is not a number"),
        ("3@%rax", "not 1, 2, 4 or 8"),
        ("8@%xmm0", "unknown x86-64 register %xmm0"),
        ("8@foo", "is not a constant, register or memory"),
    ],
)
def test_argument_errors(spec, why):
    with pytest.raises(UsdtError, match=re.escape(why)):
        parse_argument(spec)


@pytest.mark.parametrize(("spec", "symbol", "displacement"), [
    ("-4@40+CheckpointStats(%rip)", "CheckpointStats", 40),     # postgres's checkpoint__done
    ("8@counter(%rip)", "counter", 0), ("8@counter+8(%rip)", "counter", 8), ("-2@-8+a.b(%rip)", "a.b", -8)])
def test_rip_relative_argument_names_a_global(spec, symbol, displacement):
    arg = parse_argument(spec)
    assert (arg.kind, arg.symbol, arg.value, arg.resolved) == (ArgKind.GLOBAL, symbol, displacement, False)


def test_empty_argument_string():
    assert parse_arguments("") == ()


_PROBE_C = r"""
unsigned short demo_tick_semaphore __attribute__((section(".probes"), used));
#define DEMO_PROBE(a1, a2) __asm__ __volatile__ (                                  \
    "990: nop\n"                                                                   \
    ".pushsection .note.stapsdt,\"?\",\"note\"\n"                                  \
    ".balign 4\n.4byte 992f-991f, 994f-993f, 3\n991: .asciz \"stapsdt\"\n"         \
    "992: .balign 4\n993: .8byte 990b\n.8byte _.stapsdt.base\n"                    \
    ".8byte demo_tick_semaphore\n.asciz \"demo\"\n.asciz \"tick\"\n"               \
    ".asciz \"-4@%[x] 8@%[y]\"\n994: .balign 4\n.popsection\n"                     \
    ".ifndef _.stapsdt.base\n"                                                     \
    ".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n"        \
    ".weak _.stapsdt.base\n.hidden _.stapsdt.base\n_.stapsdt.base: .space 1\n"     \
    ".size _.stapsdt.base, 1\n.popsection\n.endif\n"                               \
    :: [x] "r" (a1), [y] "r" (a2))
int main(int argc, char **argv) { DEMO_PROBE(argc, (long)argv); return 0; }
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build a program with a USDT probe")
def test_probe_built_here(tmp_path):
    source = tmp_path / "demo.c"
    source.write_text(_PROBE_C)
    binary = tmp_path / "demo"
    subprocess.run(["gcc", "-O1", "-o", binary, source], check=True)
    (probe,) = find_probe(binary, "tick", provider="demo")
    assert [(a.kind, a.size, a.signed) for a in probe.arguments] == [(ArgKind.REG, 4, True), (ArgKind.REG, 8, False)]
    with open(binary, "rb") as f:
        elf = ELFFile(f)
        semaphore = elf.get_section_by_name(".symtab").get_symbol_by_name("demo_tick_semaphore")[0]["st_value"]
        probes_section = elf.get_section_by_name(".probes")
        assert probe.semaphore == semaphore
        assert probe.semaphore_offset == semaphore - probes_section["sh_addr"] + probes_section["sh_offset"]
        text = elf.get_section_by_name(".text")
        assert text["sh_addr"] <= probe.address < text["sh_addr"] + text["sh_size"]
        # the uprobe's file offset holds the probe's nop
        f.seek(probe.offset)
        assert f.read(1) == b"\x90"
    with pytest.raises(UsdtError, match=r"no USDT probe demo:tock \(probes here: demo:tick\)"):
        find_probe(binary, "tock", provider="demo")


def _readelf_probes(path: str) -> list[tuple[str, str, int, int, str]]:
    out = subprocess.run(["readelf", "-n", path], capture_output=True, text=True, check=True).stdout
    found = re.findall(
        r"Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: 0x[0-9a-f]+, "
        r"Semaphore: (0x[0-9a-f]+)\s+Arguments: ?(.*)", out)
    return [(p, n, int(loc, 16), int(sem, 16), args.strip()) for p, n, loc, sem, args in found]


@pytest.mark.skipif(shutil.which("readelf") is None, reason="needs readelf (binutils) as the reference")
def test_python_probes_agree_with_readelf():
    python = "/usr/bin/python3.11"  # Debian's build has USDT probes (a pyenv one may not)
    if not os.path.exists(python) or not _readelf_probes(python):
        pytest.skip("no python3.11 with USDT probes on this machine")
    ours = [(p.provider, p.name, p.address, p.semaphore, " ".join(a.spec for a in p.arguments))
            for p in read_probes(python)]
    assert ours == _readelf_probes(python)


def test_not_elf(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"\x7fELFjunk")
    with pytest.raises(UsdtError, match="not a valid ELF"):
        read_probes(path)
    with pytest.raises(UsdtError, match="cannot read"):
        read_probes(tmp_path / "missing")


_TWO_PROBES_C = r"""
#define PROBE(name, args) __asm__ __volatile__ (                                       \
    "990: nop\n"                                                                       \
    ".pushsection .note.stapsdt,\"?\",\"note\"\n"                                      \
    ".balign 4\n.4byte 992f-991f, 994f-993f, 3\n991: .asciz \"stapsdt\"\n"             \
    "992: .balign 4\n993: .8byte 990b\n.8byte _.stapsdt.base\n"                        \
    ".8byte 0\n.asciz \"demo\"\n.asciz \"" name "\"\n"                                 \
    ".asciz \"" args "\"\n994: .balign 4\n.popsection\n"                               \
    ".ifndef _.stapsdt.base\n"                                                         \
    ".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n"            \
    ".weak _.stapsdt.base\n.hidden _.stapsdt.base\n_.stapsdt.base: .space 1\n"         \
    ".size _.stapsdt.base, 1\n.popsection\n.endif\n")
int main(void) { PROBE("good", "-4@%edi"); PROBE("odd", "16@%xmm0"); return 0; }
"""


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to build a program with USDT probes")
def test_a_note_that_cannot_be_decoded_refuses_only_its_probe(tmp_path):
    (tmp_path / "two.c").write_text(_TWO_PROBES_C)
    binary = tmp_path / "two"
    subprocess.run(["gcc", "-O1", "-o", binary, tmp_path / "two.c"], check=True)
    assert {p.name for p in read_probes(binary)} == {"good", "odd"}      # listed, as readelf lists them
    (good,) = find_probe(binary, "good")
    assert [a.spec for a in good.arguments] == ["-4@%edi"]
    with pytest.raises(UsdtError, match=r"probe demo:odd: USDT argument '16@%xmm0'"):
        find_probe(binary, "odd")
