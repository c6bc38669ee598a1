"""Packages import their modules on first use (pybpf._lazy), and every public name is
still where it was: ``import pybpf`` and the ``pybpf`` command load only what a command
needs."""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import struct
import subprocess
import sys

import pytest

import pybpf

LAZY_PACKAGES = ["pybpf", "pybpf.isa", "pybpf.cbpf", "pybpf.capture", "pybpf.vm", "pybpf.vm.jit", "pybpf.toolchain", "pybpf.btf",
                 "pybpf.object", "pybpf.engine"]


@pytest.mark.parametrize("name", LAZY_PACKAGES)
def test_every_public_name_resolves_to_its_definition(name):
    package = importlib.import_module(name)
    for public in package.__all__:
        value = getattr(package, public)
        exec(f"from {name} import {public} as imported", namespace := {})
        assert namespace["imported"] is value
        source = package._SOURCES.get(public)
        if source is not None:
            assert value is getattr(importlib.import_module(source), public)
        assert public in dir(package)


@pytest.mark.parametrize("name", LAZY_PACKAGES)
def test_names_survive_importing_every_submodule(name):
    """Importing a submodule sets the package attribute of its name: a function named
    like its module (pybpf.cbpf.dump.dump) must still be the function afterwards."""
    package = importlib.import_module(name)
    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in ("__main__", "live"):
            importlib.import_module(f"{name}.{info.name}")
    for public, source in package._SOURCES.items():
        assert getattr(package, public) is getattr(importlib.import_module(source), public)


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError, match="has no attribute 'nonesuch'"):
        pybpf.nonesuch  # noqa: B018
    with pytest.raises(ImportError):
        exec("from pybpf.isa import nonesuch")


_LOADED = """
import sys
{code}
print(sorted(m for m in ({heavy}) if m in sys.modules))
"""
HEAVY = ("pybpf.engine", "pybpf.object", "pybpf.kernel", "pybpf.btf", "pybpf.filter", "pybpf.vm.interpreter",
         "pybpf.isa.assembler", "pybpf.toolchain.compile", "llvmlite", "pybpf.capture.summary")


def _loaded(code: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", _LOADED.format(code=code, heavy=", ".join(map(repr, HEAVY)))],
                            capture_output=True, text=True, check=True)
    return eval(result.stdout.splitlines()[-1])


def test_import_pybpf_loads_no_engine():
    assert _loaded("import pybpf") == []
    assert "pybpf.engine" in _loaded("from pybpf import load")


def test_a_package_imports_no_module_named_like_one_of_its_names():
    """``pybpf.btf.decode`` is a function in ``pybpf.btf.decode``: importing the package
    does not import that module (nor, through it, the BTF reader) to bind the name, and
    the name stays the function once the module is imported."""
    code = ("import sys, pybpf.btf, pybpf.cbpf; print(sorted(m for m in sys.modules if m.startswith(('pybpf.btf.', "
            "'pybpf.cbpf.')))); import pybpf.btf.decode, pybpf.cbpf.dump; "
            "print([callable(pybpf.btf.decode), callable(pybpf.btf.encode), callable(pybpf.cbpf.dump)])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["[]", "[True, True, True]"]


def test_the_vm_finds_llvmlite_as_find_spec_does():
    """The vm asks the import system's finders whether llvmlite is installed (without
    importlib.util); the answer is find_spec's, and llvmlite is not imported."""
    from importlib.util import find_spec

    code = ("import sys; from pybpf.vm.interpreter import JIT_DEFAULT; "
            "print(JIT_DEFAULT, 'llvmlite' in sys.modules, 'importlib.util' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == [str(find_spec("llvmlite") is not None), "False", "False"]


def test_building_the_command_line_loads_no_command():
    assert _loaded("from pybpf.cli import build_parser; build_parser()") == []


def test_filter_dump_loads_the_compiler_only():
    assert _loaded("from pybpf.cli import main; main(['filter', '-d', 'ip', '-y', 'EN10MB'])") == ["pybpf.filter"]


def test_the_full_command_line_parser_imports_no_pathlib_or_typing():
    """``pybpf --help`` and every sub-command's parser stay off the modules that cost
    start-up time (pathlib pulls in urllib.parse and ipaddress; typing ~2 ms; contextlib
    and dataclasses for the commands' own modules)."""
    code = ("import sys; from pybpf.cli import COMMANDS, build_parser; [build_parser(name) for name in COMMANDS]; "
            "print([m for m in ('pathlib', 'typing', 'contextlib', 'dataclasses') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# What each command's trivial invocation must not import (argparse neither: its plain
# command line is read from the command's declarations, pybpf.cli.plainargs): the ELF reader, BTF's disk
# cache, the CO-RE relocator and the assembler where a raw program needs none of them,
# the other engine, the trace compiler for a list, and the standard modules that cost a
# start-up milliseconds where one call needed them (hashlib loads OpenSSL).
_COMMAND = """
import sys
from pybpf.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
print(sorted(m for m in sys.modules if m in {watched!r} or m.startswith({prefixes!r})))
"""
ALWAYS_OFF = ("hashlib", "logging", "tempfile", "shutil", "difflib", "pybpf.object.elf", "pybpf.btf.cache",
              "pybpf.object.core", "pybpf.toolchain.compile")
_UDP_FRAME = bytes(12) + bytes.fromhex("0800" "4500001c00000000401100007f0000017f000001" "0035003500080000")
PROGRAM_FILES = {"asm": ("x.s", b"r0 = 0\nexit\n"), "raw": ("x.bin", bytes.fromhex("b700000000000000" "9500000000000000")),
                 "pcap": ("x.pcap", struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
                          + struct.pack("<IIII", 1, 0, len(_UDP_FRAME), len(_UDP_FRAME)) + _UDP_FRAME)}
SOCKET_FILTER_C = 'int f(void *ctx) __attribute__((section("socket"), used));\nint f(void *ctx) { return 0; }\n'
TRIVIAL = {
    "asm": (["asm", "{asm}", "-o", "{out}"],
            ("typing", "pathlib", "dataclasses", "pybpf.object.programs", "pybpf.object.collection", "pybpf.btf", "pybpf.engine")),
    "disasm": (["disasm", "{raw}"],
               ("typing", "pathlib", "dataclasses", "pybpf.isa.asm_c", "pybpf.object.programs", "pybpf.btf", "pybpf.engine")),
    # (the BTF reader: for programs and maps that carry BTF, or are typed by the kernel's;
    # the helper prototypes for a program that calls a helper; the disassembler for a
    # log or a refusal; the kept-state index for callbacks and may_goto)
    "verify": (["verify", "{raw}"], ("argparse", "re", "typing", "pathlib", "dataclasses", "pybpf.isa.asm_c", "pybpf.object.btf_ext",
                                      "pybpf.object.sections", "pybpf.engine", "pybpf.kernel", "pybpf.vm",
                                      "pybpf.btf", "pybpf.verifier.btf_pointers", "pybpf.verifier.protos",
                                      "pybpf.verifier.kept", "pybpf.isa.disassembler", "pybpf.object.collection",
                                      "pybpf.object.maps")),
    "replay --engine vm": (["replay", "{raw}", "--type", "socket_filter", "-r", "{pcap}", "--engine", "vm"],
                           ("argparse", "json", "typing", "socket", "pybpf.capture.summary", "pybpf.capture.writer",
                            "pybpf.btf.parse")),
    # (nor, for a program that calls no helper and has no maps, the helper registry and
    # its families, the prototypes, the map classes; nor the interpreter for JIT code)
    "run --engine vm": (["run", "{raw}", "--engine", "vm"],
                        ("argparse", "re", "dataclasses", "threading", "random", "pybpf.isa.asm_c",
                         "pybpf.object.btf_ext", "pybpf.kernel", "pybpf.engine.events", "pybpf.btf", "importlib.util", "pybpf.vm.helpers",
                         "pybpf.vm.interpreter", "pybpf.vm.maps", "pybpf.engine.map", "pybpf.verifier.protos",
                         "pybpf.verifier.btf_pointers", "pybpf.verifier.kept", "pybpf.isa.disassembler")),
    "tool --list": (["tool", "--list"], ("pybpf.trace.runtime", "pybpf.trace.codegen", "pybpf.engine", "pybpf.kernel",
                                         "pathlib", "socket", "typing", "dataclasses", "pybpf.tools.tool",
                                         "pybpf.tools.events", "pybpf.tools.execsnoop")),
    # (printing the program: the pcap-filter compiler's classes without dataclasses, its
    # annotations without typing, no JIT (ctypes), /etc files read without pathlib, the
    # command line read without argparse, ipaddress for IPv6 addresses only)
    "filter -d": (["filter", "-r", "{pcap}", "-d", "udp"],
                  ("typing", "dataclasses", "inspect", "pathlib", "threading", "ctypes", "pybpf.vm",
                   "pybpf.pcapfilter.matcher", "argparse", "gettext", "locale", "ipaddress")),
    # (filtering a file on a warm cache: the standard modules are ~20 ms of a ~50 ms run)
    "filter -w": (["filter", "-r", "{pcap}", "-w", "{out}", "udp"],
                  ("socket", "pybpf.object", "pybpf.engine", "pybpf.kernel", "pybpf.verifier", "pybpf.isa.asm_c",
                   "typing", "pathlib", "re", "enum", "functools", "contextlib", "threading", "importlib.util",
                   "argparse", "collections", "pybpf.cbpf.translate", "pybpf.vm.jit.lookups")),
    "--help": (["--help"], ("typing", "dataclasses", "pybpf.object", "pybpf.isa", "pybpf.cli.run", "pybpf.cli.filter",
                            "pybpf.cli.trace", "pybpf.cli.tool")),
}
NEEDS_ROOT = {
    # (a program without maps: no Map class, codecs or mmap, the kernel engine's check of
    # bpf() made with a bare fd)
    "run --engine kernel": (["run", "{raw}", "--engine", "kernel"],
                            ("argparse", "typing", "pathlib", "ipaddress", "threading", "dataclasses", "pybpf.isa.asm_c",
                             "pybpf.btf", "pybpf.verifier", "pybpf.vm", "pybpf.engine.map", "pybpf.engine.codec", "pybpf.kernel.maps",
                             "mmap", "pybpf.kernel.btf")),
    "replay": (["replay", "{raw}", "--type", "socket_filter", "-r", "{pcap}"],   # (on the kernel: per packet)
               ("argparse", "json", "typing", "socket", "ipaddress", "dataclasses", "pybpf.capture.summary",
                "pybpf.capture.writer", "pybpf.capture.pcapng", "pybpf.engine.map", "pybpf.engine.codec",
                "pybpf.kernel.maps", "pybpf.kernel.btf")),
    # (the C definitions' parser for a program without any, printf's formats for one that
    # prints none, signal's enums; a ring buffer map needs the Map class)
    "trace BEGIN": (["trace", "-e", "BEGIN {{ exit(); }}"], ("argparse", "dataclasses", "pybpf.object.elf",
                                                             "pybpf.trace.c_types", "pybpf.trace.printf", "signal",
                                                             "fnmatch")),
    "prog list": (["prog", "list"], ("argparse", "typing", "pathlib", "dataclasses", "pybpf.engine", "pybpf.object.maps",
                                     "pybpf.object.programs", "pybpf.kernel.programs", "pybpf.btf")),
    "map list": (["map", "list"], ("argparse", "typing", "pathlib", "dataclasses", "pybpf.engine", "pybpf.object.maps",
                                   "pybpf.kernel.maps", "pybpf.btf")),
}


def _command_loads(argv: list[str], watched: tuple[str, ...], tmp_path) -> list[str]:
    """The watched modules (and their submodules) that running ``pybpf ARGV`` imported."""
    paths = {"out": str(tmp_path / "out")}
    for key, (name, data) in PROGRAM_FILES.items():
        (tmp_path / name).write_bytes(data)
        paths[key] = str(tmp_path / name)
    for key, cflags in (("elf", ()), ("elf_no_btf", ("-g0",))):
        if f"{{{key}}}" not in argv:
            continue
        from pybpf.toolchain import CompileError, compile_c

        try:
            (tmp_path / "x.o").write_bytes(compile_c(SOCKET_FILTER_C, cflags=cflags))
        except CompileError as exc:
            pytest.skip(f"no BPF compiler: {exc}")
        paths[key] = str(tmp_path / "x.o")
    argv = [word.format_map(paths) for word in argv]
    code = _COMMAND.format(argv=argv, watched=watched, prefixes=tuple(f"{m}." for m in watched))
    # twice: the first run may compile and fill the disk caches (which takes what a warm
    # run does not: tempfile, shutil, the linker); a trivial command's start-up is a warm run's
    for _ in range(2):
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return eval(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("name", TRIVIAL)
def test_a_trivial_command_loads_only_what_it_needs(name, tmp_path):
    argv, off = TRIVIAL[name]
    assert _command_loads(argv, ALWAYS_OFF + off, tmp_path) == []


def test_loading_an_object_reads_it_without_pyelftools(tmp_path):
    """pyelftools' ELF reader imports its DWARF reader and pdb (~40 ms), which the three
    tables pybpf reads do not need; nor does an object without kconfig externs need gzip,
    nor one without CO-RE relocations the relocator, nor a program without helper calls
    the helper tables, nor one without maps the engine's map classes (with ctypes)."""
    assert _command_loads(["load", "{elf}", "--engine", "vm"],
                          ("argparse", "elftools", "pdb", "pathlib", "typing", "dataclasses", "gzip", "pybpf.toolchain.compile",
                           "pybpf.object.core", "pybpf.vm.helpers", "pybpf.verifier.protos",
                           "pybpf.verifier.btf_pointers", "pybpf.engine.map", "pybpf.vm.maps", "ctypes"),
                          tmp_path) == []


def test_loading_an_object_without_btf_reads_no_btf(tmp_path):
    """An object compiled without -g (clang's default) has no .BTF: it is read without the
    BTF reader, BTF's kinds, the .BTF.ext and BTF map readers (only BTF's error class)."""
    assert _command_loads(["load", "{elf_no_btf}", "--engine", "vm"],
                          ("pybpf.btf.parse", "pybpf.btf.types", "pybpf.btf.check", "pybpf.object.btf_ext",
                           "pybpf.object.elf.btf_maps", "pybpf.object.elf.btf_fixup"),
                          tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="the kernel commands need root (bpf())")
@pytest.mark.parametrize("name", NEEDS_ROOT)
def test_a_trivial_kernel_command_loads_only_what_it_needs(name, tmp_path):
    argv, off = NEEDS_ROOT[name]
    assert _command_loads(argv, ALWAYS_OFF + off, tmp_path) == []


def test_the_command_list_names_every_command_with_its_summary(capsys):
    """``pybpf --help`` is made from SUMMARIES, without the commands' modules: every
    command has its line, and its own parser is what runs it."""
    from pybpf.cli import COMMANDS, SUMMARIES, main

    assert list(SUMMARIES) == list(COMMANDS)
    with pytest.raises(SystemExit):
        main(["--help"])
    listing = capsys.readouterr().out
    for name, summary in SUMMARIES.items():
        assert re.search(rf"^\s+{name}\s+{re.escape(summary.split()[0])}", listing, re.M), name


@pytest.mark.parametrize("argv", [["run", "{raw}", "--engine", "vm"], ["filter", "-r", "{pcap}", "-d", "udp"],
                                  ["verify", "{raw}"],
                                  ["replay", "{raw}", "--type", "socket_filter", "-r", "{pcap}", "--engine", "vm"]])
def test_a_command_leaves_its_objects_to_the_exit_not_the_collector(argv, tmp_path):
    """The process's own command (``main()`` reading sys.argv) freezes what is left, so
    Python's exit does not pass the cyclic collector over the imports' objects (~3 ms);
    ``main(ARGV)`` called as a function leaves the collector alone."""
    paths = {}
    for key, (name, data) in PROGRAM_FILES.items():
        (tmp_path / name).write_bytes(data)
        paths[key] = str(tmp_path / name)
    argv = [word.format_map(paths) for word in argv]
    code = ("import gc, sys; from pybpf.cli import main; sys.argv = ['pybpf', *{argv!r}]; {call}; "
            "print(gc.get_freeze_count() > 0)")
    for call, frozen in (("main()", "True"), ("main(sys.argv[1:])", "False")):
        result = subprocess.run([sys.executable, "-c", code.format(argv=argv, call=call)], capture_output=True,
                                text=True, check=True)
        assert result.stdout.splitlines()[-1] == frozen, call
