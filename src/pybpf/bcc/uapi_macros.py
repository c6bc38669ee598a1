"""The macros a BCC program takes from the uapi headers it includes.

BCC compiles against the kernel's headers, so ``#include <uapi/linux/pkt_cls.h>`` gives a
program ``TC_ACT_OK``, ``<linux/if_ether.h>`` gives ``ETH_ALEN``, ``<uapi/linux/in6.h>``
``IPPROTO_ICMPV6``. pybpf drops kernel includes (types come from vmlinux.h, built from the
kernel's BTF), and BTF has no macros. The same macros are in the Linux uapi headers the
ziglang wheel ships (:func:`pybpf.toolchain.paths.uapi_include_dirs`): for each include that
names one of those headers, its ``#define``s are read with the preprocessor's ``-dD``, and
the ones the program uses (with the macros their bodies use in turn) are put before the
program for its own preprocessing. Only macros are taken, never declarations, so the
headers' types cannot clash with vmlinux.h's.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys

from pybpf.toolchain.paths import uapi_include_dirs

_INCLUDE = re.compile(r'^\s*#\s*include\s*<([^>]+)>', re.MULTILINE)
_DEFINE = re.compile(r'^#define\s+([A-Za-z_]\w*)(\([^)]*\))?(.*)$')
_MARKER = re.compile(r'^#\s+\d+\s+"([^"]*)"')
_IDENT = re.compile(r'[A-Za-z_]\w*')


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
    process: a script's several BPF() programs include the same headers."""
    macros = _defines(list(headers))
    if macros is None:
        macros = {}
        for header in headers:
            for name, line in (_defines([header]) or {}).items():
                macros.setdefault(name, line)
    return macros


def _defines(headers: list[str]) -> dict[str, str] | None:
    command = [sys.executable, "-m", "ziglang", "cc", "-E", "-dD", "-x", "c", "-nostdinc",
               "-target", "x86_64-linux-none", *(f"-I{d}" for d in uapi_include_dirs()), "-"]
    source = "".join(f"#include <{header}>\n" for header in headers)
    done = subprocess.run(command, input=source, capture_output=True, text=True, check=False)
    if done.returncode:
        return None
    macros: dict[str, str] = {}
    where = ""
    for line in done.stdout.splitlines():
        marker = _MARKER.match(line)
        if marker:
            where = marker.group(1)
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
    wanted: set[str] = set()
    pending = [w for w in used if w in macros and not w.startswith("__")]
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
    return macros_used(text, header_macros(tuple(headers))) if headers else ""
