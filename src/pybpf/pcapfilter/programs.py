"""Compiled pcap-filter expressions kept on disk, so that ``pybpf filter`` run again with
an expression it compiled before neither imports the compiler (:mod:`pybpf.filter`) nor
compiles (docs/filter.md has the measurements).

:func:`compile_cached` is :func:`pybpf.filter.compile_filter` with a cache in front of it. An
entry is the classic program (``struct sock_filter`` bytes) followed by a SHA-256 of
them; its file name is a SHA-256 of everything that decides the program:

- the expression's text, the link type, the snapshot length, ``optimize``, ``netmask``
  and ``linux_extensions``;
- the compiler's version: a digest of the sources of :mod:`pybpf.filter` and of the
  classic instruction modules it emits with (so an edited compiler, in an editable
  install, never reuses a program compiled by the old one).

Only expressions whose meaning cannot change between runs are kept: a host **name** is
looked up through the system resolver (``socket.getaddrinfo``), whose answer may change
at any time (DNS, /etc/hosts), and Ethernet host and network names in files
(/etc/ethers, /etc/networks, where the compiler reads them), so a compilation that
looked any name up is not saved (:func:`compile_resolving` asks the compiler's resolver).
Service and protocol names come from pybpf's own tables (:mod:`pybpf.filter.netdb`)
and are part of the compiler's version. Compilation errors are never cached.

:func:`translated` keeps the program's eBPF translation (:func:`pybpf.cbpf.to_ebpf`,
encoded) the same way, keyed by the classic program's bytes and the sources of the
translation (:mod:`pybpf.cbpf`, :mod:`pybpf.isa`), so that a repeated command does not
import the translator either (nor the instruction classes it needs).

Entries are kept by :mod:`pybpf.cache` (``filter/`` under pybpf's cache root; its
environment switch, limits and ownership checks). A damaged entry (a failed checksum) is
deleted and the expression compiled again; a directory that cannot be written only means
nothing is saved.
"""

from __future__ import annotations

import os

from pybpf.cache import DiskCache, files_digest, sha256

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pybpf.cbpf.instruction import Instruction

#: bump when the layout of entries or what their names cover changes
FORMAT = b"pybpf-cbpf-1"
PREFIX, SUFFIX = "cbpf-", ".prog"
#: the same for entries of eBPF translations (:func:`translated`)
TRANSLATION_FORMAT, TRANSLATION_PREFIX = b"pybpf-ebpf-1", "ebpf-"
#: the compiled programs and their translations
CACHE = DiskCache("filter", max_entries=1024, max_bytes=64 << 20)
_compiler_digest: bytes | None = None
_translator_digest: bytes | None = None


def compiler_digest() -> bytes:
    """A digest of the compiler's sources: every ``.py`` file of :mod:`pybpf.filter`,
    and the classic instruction modules (found without importing any of them)."""
    global _compiler_digest
    if _compiler_digest is None:
        root = os.path.dirname(os.path.dirname(__file__))
        files = sorted(entry.path for entry in os.scandir(os.path.join(root, "filter")) if entry.name.endswith(".py"))
        files += [os.path.join(root, "cbpf", "instruction.py"), os.path.join(root, "cbpf", "opcodes.py")]
        _compiler_digest = _sources_digest(FORMAT, files)
    return _compiler_digest


def _sources_digest(version: bytes, files: list[str]) -> bytes:
    """A digest of ``version`` and the contents of ``files`` (found without importing them)."""
    return sha256(version + files_digest(files)).digest()


def entry_name(expression: str, linktype: int, snaplen: int, optimize: bool, netmask: int,
               linux_extensions: bool) -> str | None:
    """The name of the entry holding the program for these arguments, or ``None`` where
    the compiler's sources cannot be read."""
    try:
        version = compiler_digest()
    except OSError:
        return None
    digest = sha256(version)
    for part in (expression.encode("utf-8", "surrogatepass"), b"%d" % linktype, b"%d" % snaplen,
                 b"%d" % bool(optimize), b"%d" % netmask, b"%d" % bool(linux_extensions)):
        digest.update(len(part).to_bytes(8, "little") + part)
    return f"{PREFIX}{digest.hexdigest()[:40]}{SUFFIX}"


def _read_entry(name: str) -> bytes | None:
    """The body of entry ``name`` when it holds whole 8-byte instructions (checked by the
    cache layer), else ``None``."""
    body = CACHE.read(name)
    if body is None or not body or len(body) % 8:
        return None
    return body


def load(name: str) -> list[Instruction] | None:
    """The program in entry ``name``; ``None`` if there is none or it is damaged (then it
    is deleted)."""
    body = _read_entry(name)
    if body is None:
        return None
    from pybpf.cbpf.instruction import decode

    return decode(body)


def save(name: str, program: list[Instruction]) -> bool:
    """Store ``program`` as entry ``name``; whether that worked."""
    from pybpf.cbpf.instruction import encode

    return CACHE.write(name, encode(program)) is not None


def translator_digest() -> bytes:
    """A digest of the eBPF translation's sources: every ``.py`` file of :mod:`pybpf.cbpf`
    and :mod:`pybpf.isa` (found without importing them)."""
    global _translator_digest
    if _translator_digest is None:
        root = os.path.dirname(os.path.dirname(__file__))
        files = sorted(entry.path for folder in ("cbpf", "isa") for entry in os.scandir(os.path.join(root, folder))
                       if entry.name.endswith(".py"))
        _translator_digest = _sources_digest(TRANSLATION_FORMAT, files)
    return _translator_digest


def translated(program: list[Instruction]) -> bytes:
    """The encoded eBPF translation of a classic program (``encode(to_ebpf(program))``),
    from the disk cache when it was translated before; raises what :func:`to_ebpf` raises
    (:class:`~pybpf.cbpf.CbpfError` for Linux's ancillary loads), which is never kept."""
    from pybpf.cbpf.instruction import encode as encode_classic

    name = None
    try:
        digest = sha256(translator_digest())
    except OSError:
        digest = None
    if digest is not None:
        digest.update(encode_classic(program))
        name = f"{TRANSLATION_PREFIX}{digest.hexdigest()[:40]}{SUFFIX}"
        body = _read_entry(name)
        if body is not None:
            return body
    from pybpf.cbpf.translate import to_ebpf
    from pybpf.isa.encoding import encode

    body = encode(to_ebpf(program))
    if name is not None:
        CACHE.write(name, body)
    return body


def compile_resolving(expression: str, linktype: int, snaplen: int = 262144, optimize: bool = True,
                      netmask: int = 0, linux_extensions: bool = False) -> tuple[list[Instruction], bool]:
    """:func:`pybpf.filter.compile_filter`, and whether compiling looked a name up outside
    pybpf's own tables (the compiler's name look-ups count themselves:
    :data:`pybpf.filter.resolver.lookups`). Another thread's look-up during the
    compilation counts too, which only means a program is not kept."""
    from pybpf.filter import compile_filter, resolver

    before = resolver.lookups
    program = compile_filter(expression, linktype, snaplen, optimize, netmask, linux_extensions=linux_extensions)
    return program, resolver.lookups != before


def compile_cached(expression: str, linktype: int, snaplen: int = 262144, optimize: bool = True,
                   netmask: int = 0, linux_extensions: bool = False) -> list[Instruction]:
    """:func:`pybpf.filter.compile_filter`'s program, from the disk cache when this expression
    was compiled before with the same arguments and compiler (see the module's
    documentation); raises :class:`~pybpf.filter.FilterError` as it does."""
    name = entry_name(expression, linktype, snaplen, optimize, netmask, linux_extensions)
    if name is not None:
        program = load(name)
        if program is not None:
            return program
    program, consulted = compile_resolving(expression, linktype, snaplen, optimize, netmask, linux_extensions)
    if name is not None and not consulted:
        save(name, program)
    return program
