"""Compiled pcap-filter programs on disk (pybpf.pcapfilter.programs): a hit gives the
compiler's program without importing the compiler, every argument and the compiler's
version are in the key, damaged entries are rebuilt, and expressions whose meaning
depends on the system resolver (host names) are never kept."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from pybpf.filter import FilterError, compile_filter
from pybpf.pcapfilter import programs as filter_cache
from shared_data import shared_path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PYBPF_CACHE", str(tmp_path))
    return tmp_path / "filter"


def _entries(directory):
    return sorted(p.name for p in directory.glob("cbpf-*.prog")) if directory.exists() else []


CASES = [
    ("tcp port 80 and host 10.0.0.1", 1, 262144, True, 0),
    ("tcp port 80 and host 10.0.0.1", 1, 262144, False, 0),
    ("tcp port 80 and host 10.0.0.1", 1, 65535, True, 0),
    ("tcp port 80 and host 10.0.0.1", 113, 262144, True, 0),
    ("ip broadcast", 1, 262144, True, 0xFFFFFF00),
    ("ip broadcast", 1, 262144, True, 0xFFFF0000),
    ("udp port domain or tcp port http", 1, 262144, True, 0),
    ("", 1, 262144, True, 0),
]


def test_a_miss_compiles_and_saves_a_hit_gives_the_same_program(cache):
    for expression, linktype, snaplen, optimize, netmask in CASES:
        expected = compile_filter(expression, linktype, snaplen, optimize, netmask)
        assert filter_cache.compile_cached(expression, linktype, snaplen, optimize, netmask) == expected
        assert filter_cache.compile_cached(expression, linktype, snaplen, optimize, netmask) == expected
    assert len(_entries(cache)) == len(CASES)       # every argument is part of the key


def test_linux_extensions_are_part_of_the_key(cache):
    plain = filter_cache.compile_cached("vlan", 1)
    linux = filter_cache.compile_cached("vlan", 1, linux_extensions=True)
    assert plain == compile_filter("vlan", 1) and linux == compile_filter("vlan", 1, linux_extensions=True)
    assert plain != linux and len(_entries(cache)) == 2


def test_a_hit_is_read_from_the_entry(cache):
    program = filter_cache.compile_cached("tcp", 1)
    [name] = _entries(cache)
    other = compile_filter("udp", 1)
    filter_cache.save(name, other)          # what the entry holds is what a hit returns
    assert filter_cache.compile_cached("tcp", 1) == other != program


@pytest.mark.parametrize("damage", [
    lambda data: data[:-1],
    lambda data: data[:10],
    lambda data: b"",
    lambda data: data[:3] + bytes([data[3] ^ 1]) + data[4:],
    lambda data: data[:-32] + bytes(32),
])
def test_a_damaged_entry_is_compiled_again_and_replaced(cache, damage):
    expected = filter_cache.compile_cached("tcp port 22", 1)
    [name] = _entries(cache)
    path = cache / name
    good = path.read_bytes()
    path.write_bytes(damage(good))
    assert filter_cache.load(name) is None and not path.exists()
    path.write_bytes(damage(good))
    assert filter_cache.compile_cached("tcp port 22", 1) == expected
    assert path.read_bytes() == good


def test_a_new_compiler_version_misses(cache, monkeypatch):
    filter_cache.compile_cached("icmp", 1)
    monkeypatch.setattr(filter_cache, "_compiler_digest", b"another compiler")
    filter_cache.compile_cached("icmp", 1)
    assert len(_entries(cache)) == 2


def test_the_compiler_digest_covers_the_compilers_sources(monkeypatch, tmp_path):
    import shutil

    root = tmp_path / "pybpf"
    shutil.copytree(os.path.dirname(os.path.dirname(filter_cache.__file__)), root,
                    ignore=shutil.ignore_patterns("__pycache__", "btf", "object", "engine", "kernel"))
    fake = str(root / "pcapfilter" / "programs.py")

    def digest():
        monkeypatch.setattr(filter_cache, "__file__", fake)
        monkeypatch.setattr(filter_cache, "_compiler_digest", None)
        return filter_cache.compiler_digest()

    before = digest()
    assert digest() == before
    with open(root / "filter" / "netdb.py", "a") as f:
        f.write("\n# edited\n")
    assert digest() != before
    edited = digest()
    with open(root / "cbpf" / "opcodes.py", "a") as f:
        f.write("\n# edited\n")
    assert digest() != edited


def test_host_names_are_looked_up_every_time_and_not_kept(cache, monkeypatch):
    answers = {"printer.example": "192.0.2.7"}

    def getaddrinfo(host, *args, **kwargs):
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "unknown")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    first = filter_cache.compile_cached("tcp and host printer.example", 1)
    assert first == compile_filter("tcp and host 192.0.2.7", 1)
    assert _entries(cache) == []
    answers["printer.example"] = "192.0.2.8"        # the resolver's answer changed
    assert filter_cache.compile_cached("tcp and host printer.example", 1) == compile_filter("tcp and host 192.0.2.8", 1)
    assert _entries(cache) == []
    assert socket.getaddrinfo is getaddrinfo        # nothing of the standard library is patched
    program, consulted = filter_cache.compile_resolving("src printer.example or port 53", 1)
    assert consulted
    assert filter_cache.compile_resolving("port domain and ip proto \\tcp", 1)[1] is False


def test_names_from_files_are_not_kept(cache, monkeypatch, tmp_path):
    """Ethernet host names, network names and host names from a hosts file: their files
    may change between runs too."""
    resolver = pytest.importorskip("pybpf.filter.resolver")
    (tmp_path / "ethers").write_text("0:1b:2c:3:4:5 box\n")
    (tmp_path / "networks").write_text("lab 10.20\n")
    (tmp_path / "hosts").write_text("192.0.2.9 printer\n")
    monkeypatch.setattr(resolver, "ethers_path", tmp_path / "ethers")
    monkeypatch.setattr(resolver, "networks_path", tmp_path / "networks")
    monkeypatch.setattr(resolver, "resolver", resolver.HostsFile(tmp_path / "hosts"))
    for expression in ("ether host box", "net lab", "host printer", "tcp and (ether src box or port 80)"):
        expected = compile_filter(expression, 1)
        assert filter_cache.compile_resolving(expression, 1) == (expected, True)
        assert filter_cache.compile_cached(expression, 1) == expected
    assert _entries(cache) == []
    assert filter_cache.compile_resolving("ether host 0:1b:2c:3:4:5 and net 10.20.0.0/16", 1)[1] is False


def test_errors_are_not_kept(cache):
    for _ in range(2):
        with pytest.raises(FilterError):
            filter_cache.compile_cached("tcp port", 1)
    with pytest.raises(FilterError):
        filter_cache.compile_cached("host no-such-host.invalid", 1)
    assert _entries(cache) == []


def test_cache_off_or_unwritable(tmp_path, monkeypatch):
    monkeypatch.setenv("PYBPF_CACHE", "off")
    assert filter_cache.CACHE.directory() is None
    assert filter_cache.compile_cached("tcp", 1) == compile_filter("tcp", 1)
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("PYBPF_CACHE", str(blocker / "cache"))
    assert filter_cache.compile_cached("tcp", 1) == compile_filter("tcp", 1)


def test_the_cache_is_pruned(cache, monkeypatch):
    monkeypatch.setattr(filter_cache.CACHE, "max_entries", 8)
    for port in range(12):
        filter_cache.compile_cached(f"tcp port {port}", 1)
    assert 6 <= len(_entries(cache)) <= 8


_COMMAND = """
import sys
from pybpf.cli import main
status = main(["filter", "-r", sys.argv[1], "-w", sys.argv[2], sys.argv[3]])
print(status, sorted(m for m in ("pybpf.filter", "pybpf.cli.run", "pybpf.cli.prog", "llvmlite") if m in sys.modules))
"""


def test_a_repeated_filter_command_does_not_import_the_compiler(tmp_path):
    env = dict(os.environ, PYBPF_CACHE=str(tmp_path / "cache"))
    path = str(shared_path("libpcap-tests", "savefiles", "pim-packet-assortment.pcap"))
    outputs = []
    for n in range(2):
        out = str(tmp_path / f"out{n}.pcap")
        done = subprocess.run([sys.executable, "-c", _COMMAND, path, out, "ip and not udp port 53"], env=env,
                              capture_output=True, text=True, check=True)
        outputs.append((done.stdout.strip(), open(out, "rb").read()))
    assert outputs[0][0] == "0 ['llvmlite', 'pybpf.filter']"
    assert outputs[1][0] == "0 []"
    assert outputs[0][1] == outputs[1][1]


_LIGHT = """
import sys
from pybpf.cli import main
status = main(["filter", "-r", sys.argv[1], "-w", "/dev/null", sys.argv[2]])
heavy = ("argparse", "tempfile", "hashlib", "dataclasses", "pybpf.cbpf.translate", "pybpf.isa.instruction",
         "pybpf.vm.memory")
print(status, sorted(m for m in heavy if m in sys.modules))
"""


def test_a_repeated_filter_command_imports_neither_argparse_nor_the_translator(tmp_path):
    """With warm caches, ``pybpf filter -r FILE -w /dev/null EXPR`` reads its arguments
    without argparse, takes the eBPF translation from the cache, and imports no module
    it does not use (tempfile: no temporary file for a device; hashlib: OpenSSL)."""
    env = dict(os.environ, PYBPF_CACHE=str(tmp_path / "cache"))
    path = str(shared_path("libpcap-tests", "savefiles", "pim-packet-assortment.pcap"))
    runs = [subprocess.run([sys.executable, "-c", _LIGHT, path, "ip and not udp port 53"], env=env,
                           capture_output=True, text=True, check=True).stdout.strip() for _ in range(2)]
    assert runs[1] == "0 []", runs


def test_translations_are_cached(cache):
    from pybpf.cbpf.translate import to_ebpf
    from pybpf.isa.encoding import encode

    program = compile_filter("tcp port 80 and host 10.0.0.1", 1)
    expected = encode(to_ebpf(program))
    assert filter_cache.translated(program) == expected                 # a miss, saved
    entries = sorted(cache.glob("ebpf-*.prog"))
    assert len(entries) == 1
    assert filter_cache.translated(program) == expected                 # a hit
    entries[0].write_bytes(entries[0].read_bytes()[:-1] + b"\0")          # damaged: translated again
    assert filter_cache.translated(program) == expected
    assert filter_cache.translated(compile_filter("udp", 1)) == encode(to_ebpf(compile_filter("udp", 1)))
    assert len(list(cache.glob("ebpf-*.prog"))) == 2


def test_a_translation_that_fails_is_not_cached(cache):
    from pybpf.cbpf import opcodes
    from pybpf.cbpf.instruction import CbpfError, Instruction

    ancillary = [Instruction(opcodes.LD | opcodes.W | opcodes.ABS, 0, 0, (opcodes.SKF_AD_OFF & 0xFFFF_FFFF) + 4),
                 Instruction(opcodes.RET | opcodes.A, 0, 0, 0)]            # Linux's protocol load
    with pytest.raises(CbpfError):
        filter_cache.translated(ancillary)
    assert not list(cache.glob("ebpf-*.prog"))


def test_the_translation_cache_is_off_with_every_cache(monkeypatch):
    from pybpf.cbpf.translate import to_ebpf
    from pybpf.isa.encoding import encode

    monkeypatch.setenv("PYBPF_CACHE", "off")
    program = compile_filter("icmp", 1)
    assert filter_cache.translated(program) == encode(to_ebpf(program))


def test_the_runtimes_addresses_are_the_vm_memorys():
    from pybpf.vm import memory
    from pybpf.vm.jit import runtime

    assert (runtime.INPUT_BASE, runtime.STACK_TOP) == (memory.INPUT_BASE, memory.STACK_TOP)
