"""bcc.utils: the helpers BCC's tools import (printb, ArgString, CPU lists)."""

from __future__ import annotations

import sys
from typing import Any

from pybpf.engine import possible_cpus


def _cpu_list(path: str) -> list[int]:
    cpus: list[int] = []
    with open(path) as f:
        for part in f.read().strip().split(","):
            low, _, high = part.partition("-")
            cpus.extend(range(int(low), int(high or low) + 1))
    return cpus


def get_online_cpus() -> list[int]:
    return _cpu_list("/sys/devices/system/cpu/online")


def get_possible_cpus() -> list[int]:
    return list(range(possible_cpus()))


def printb(s: bytes, file: Any = sys.stdout, nl: int = 1) -> None:
    """Print bytes as they are (no str() round trip), with a newline unless ``nl=0``."""
    buffer = getattr(file, "buffer", None)
    if buffer is None:
        file.write(s.decode(errors="replace") + ("\n" if nl else ""))
    else:
        file.flush()
        buffer.write(s + (b"\n" if nl else b""))
        buffer.flush()


class ArgString:
    """An argparse type keeping a command-line argument as bytes."""

    def __init__(self, s: str) -> None:
        self.s = s.encode(errors="surrogateescape")

    def __bytes__(self) -> bytes:
        return self.s

    def __str__(self) -> str:
        return self.s.decode(errors="surrogateescape")


def detect_language(candidates: list[str], pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/maps") as f:
            maps = f.read()
    except OSError:
        return None
    return next((c for c in candidates if f"lib{c}" in maps or f"/{c}" in maps), None)


def _assert_is_bytes(arg: Any) -> Any:
    return arg.encode() if isinstance(arg, str) else arg


class StrcmpRewrite:
    """BCC's rewrite of ``STRCMP("literal", expr)`` in trace.py/argdist.py predicates: each
    becomes a call of a generated ``streq_N(ignored, str)`` that probe-reads as many bytes
    as the literal has (plus its NUL unless ``bin_cmp``) and compares them."""

    @staticmethod
    def rewrite_expr(expr: str, bin_cmp: bool, is_user: bool, probe_user_list: Any, streq_functions: str,
                     probeid: int) -> dict[str, Any]:
        import re

        # the literal with its quotes (compared with its NUL) or, for bin_cmp, its bytes only
        literal = r'STRCMP\("([^"]+)",(.+?)\)' if bin_cmp else r'STRCMP\(("[^"]+"),(.+?)\)'
        for match in re.finditer(literal, expr):
            needle = match.group(1)
            read = "bpf_probe_read_user" if is_user or match.group(2).strip() in probe_user_list \
                else "bpf_probe_read"
            name = f"streq_{probeid}"
            streq_functions += (
                f"\nstatic inline bool {name}(char const *ignored, uintptr_t str) {{\n"
                f"    char needle[] = {needle};\n"
                "    char haystack[sizeof(needle)];\n"
                f"    {read}(&haystack, sizeof(haystack), (void *)str);\n"
                "    for (int i = 0; i < sizeof(needle) - 1; ++i)\n"
                "        if (needle[i] != haystack[i])\n"
                "            return false;\n"
                "    return true;\n}\n")
            probeid += 1
            expr = expr.replace("STRCMP", name, 1)
        return {"expr": expr, "streq_functions": streq_functions, "probeid": probeid}
