"""The macros a BCC program takes from the uapi headers it includes.

BCC compiles against the kernel's headers, so ``#include <uapi/linux/pkt_cls.h>`` gives a
program ``TC_ACT_OK``, ``<linux/if_ether.h>`` gives ``ETH_ALEN``, ``<uapi/linux/in6.h>``
``IPPROTO_ICMPV6``. pybpf drops kernel includes (types come from vmlinux.h, built from the
kernel's BTF), and BTF has no macros. The same macros are in the Linux uapi headers the
ziglang wheel ships (:func:`pybpf.toolchain.paths.uapi_include_dirs`): for each include that
names one of those headers, its ``#define``s are read with the preprocessor's ``-dD``, and
the ones the program uses (with the macros their bodies use in turn) are put before the
program for its own preprocessing (with those of :data:`_REACHED`, the uapi headers any
kernel header includes). Only macros are taken, never declarations, so the
headers' types cannot clash with vmlinux.h's.

So that a script's next start runs no preprocessor, each include list's macros are kept
on disk (the ``bcc-macros`` cache of :mod:`pybpf.cache`): the entry is named after
the include list and the named headers' states, and holds the state of every header the
run read, checked on each read, so a header changed anywhere under them is never
answered from an old entry.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys

from pybpf.cache import DiskCache, files_digest, sha256
from pybpf.toolchain.paths import uapi_include_dirs

#: the macros of each include list, with the headers the preprocessor read for them
MACROS = DiskCache("bcc-macros", max_entries=256, max_bytes=16 << 20)

_INCLUDE = re.compile(r'^\s*#\s*include\s*<([^>]+)>', re.MULTILINE)
_DEFINE = re.compile(r'^#define\s+([A-Za-z_]\w*)(\([^)]*\))?(.*)$')
_MARKER = re.compile(r'^#\s+\d+\s+"([^"]*)"')
_IDENT = re.compile(r'[A-Za-z_]\w*')
_OWN_DEFINE = re.compile(r'^\s*#\s*define\s+([A-Za-z_]\w*)', re.MULTILINE)
#: the uapi headers every kernel header a program includes reaches (``<linux/fs.h>`` gives
#: ``S_ISREG``, ``<linux/mm.h>`` ``ENOMEM``), read for any program that includes one
_REACHED = ("linux/stat.h", "asm-generic/errno.h")


def uapi_headers(text: str) -> list[str]:
    """The uapi headers (``linux/pkt_cls.h``) that ``text``'s ``#include <...>`` lines name,
    as BCC programs spell them (``uapi/linux/X.h``, ``linux/X.h``, ``asm/X.h``), for those
    the shipped uapi headers have."""
    dirs = uapi_include_dirs()
    found: list[str] = []
    for name in _INCLUDE.findall(text):
        header = name.removeprefix("uapi/")
        if header not in found and any((d / header).is_file() for d in dirs):
            found.append(header)
    return found


@functools.lru_cache(maxsize=32)
def header_macros(headers: tuple[str, ...]) -> dict[str, str]:
    """``{name: '#define ...'}`` of every macro ``headers`` define (not the compiler's own):
    read in one run, or one header at a time if that fails, where a header the
    preprocessor cannot read alone (one needing libc's headers) adds nothing. Kept for the
    process (a script's several BPF() programs include the same headers) and on disk
    (:data:`MACROS`)."""
    command = _command()
    entry = _entry(headers, command)
    cached = _cached(entry)
    if cached is not None:
        return cached
    read: set[str] = set()
    macros = _defines(command, list(headers), read)
    if macros is None:
        macros = {}
        for header in headers:
            for name, line in (_defines(command, [header], read) or {}).items():
                macros.setdefault(name, line)
    files = sorted(read)
    record = {"files": files, "state": files_digest(files).hex(), "macros": macros}
    MACROS.write(entry, json.dumps(record).encode())
    return macros


def _command() -> list[str]:
    return [sys.executable, "-m", "ziglang", "cc", "-E", "-dD", "-x", "c", "-nostdinc", "-target",
            "x86_64-linux-none", *(f"-I{d}" for d in uapi_include_dirs()), "-"]


def _entry(headers: tuple[str, ...], command: list[str]) -> str:
    """The cache entry of ``headers``' macros: named by the include list, the command
    (which names the header directories), the states of the headers found for the list
    (:func:`pybpf.cache.files_digest`) and of this module's code, so a changed header
    the program names, or a changed rule, is another entry."""
    found = [next((d / h for d in uapi_include_dirs() if (d / h).is_file()), None) for h in headers]
    digest = sha256("\0".join([*headers, *command]).encode())
    digest.update(files_digest([__file__, *(path for path in found if path is not None)]))
    return f"{digest.hexdigest()}.json"


def _cached(entry: str) -> dict[str, str] | None:
    """The macros of ``entry``, if every header its run read is as it was then."""
    body = MACROS.read(entry)
    if body is None:
        return None
    try:
        record = json.loads(body)
        if files_digest(record["files"]).hex() == record["state"]:
            return dict(record["macros"])
    except (ValueError, KeyError, TypeError, OSError):
        pass
    return None


def _defines(command: list[str], headers: list[str], read: set[str]) -> dict[str, str] | None:
    """The macros ``headers`` define, from one preprocessor run (``None`` if it fails);
    adds the uapi headers it read to ``read``."""
    source = "".join(f"#include <{header}>\n" for header in headers)
    done = subprocess.run(command, input=source, capture_output=True, text=True, check=False)
    if done.returncode:
        return None
    directories = tuple(f"{d}/" for d in uapi_include_dirs())
    macros: dict[str, str] = {}
    where = ""
    for line in done.stdout.splitlines():
        marker = _MARKER.match(line)
        if marker:
            where = marker.group(1)
            if where.startswith(directories):
                read.add(where)
            continue
        define = _DEFINE.match(line)
        if define and where not in ("<built-in>", "<command line>", "<stdin>") and not where.endswith("stdin.c"):
            macros.setdefault(define.group(1), line)
    return macros


def macros_used(text: str, macros: dict[str, str]) -> str:
    """The ``#define`` lines of ``macros`` that ``text`` uses, directly or through the
    bodies of other macros it uses, in their headers' order. Names starting with ``__``
    (the headers' own helpers and compiler words: ``__always_inline``, ``__force``) are
    taken only to serve another macro and only when ``text`` does not use them itself:
    the program's own ``static __always_inline`` stays what pybpf's headers make it."""
    used = set(_IDENT.findall(text))
    own = set(_OWN_DEFINE.findall(text))     # the program's own #define wins
    wanted: set[str] = set()
    pending = [w for w in used if w in macros and not w.startswith("__") and w not in own]
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        wanted.add(name)
        body = _DEFINE.match(macros[name])
        words = _IDENT.findall(body.group(3) if body else "")
        pending.extend(w for w in words if w in macros and w not in wanted and not (w.startswith("__") and w in used))
    return "".join(line + "\n" for name, line in macros.items() if name in wanted)


def uapi_defines(text: str) -> str:
    """The uapi macros ``text`` uses from the headers it includes, as ``#define`` lines."""
    headers = uapi_headers(text)
    if _INCLUDE.search(text):
        headers += [header for header in _REACHED if header not in headers]
    return macros_used(text, header_macros(tuple(headers))) if headers else ""
