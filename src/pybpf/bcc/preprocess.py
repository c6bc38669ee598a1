"""The program's own preprocessor directives, applied before translation: BCC tools
choose their tables and probes with ``#ifdef``/``#if LINUX_VERSION_CODE`` and
``#define`` their constants, so the dialect is rewritten on what the preprocessor
leaves. Kernel ``#include <...>`` lines are dropped first (kernel types come from
vmlinux.h, added after translation; the uapi macros the program uses are defined before
it: :mod:`pybpf.bcc.uapi_macros`, and those of the kernel's own headers:
:mod:`pybpf.bcc.kernel_macros`); line markers are kept so errors point at the
program's own lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence

from pybpf.bcc.kernel_macros import kernel_defines
from pybpf.bcc.tokens import BccSyntaxError, tokenize
from pybpf.bcc.uapi_macros import uapi_defines


def kernel_version_code() -> int:
    """LINUX_VERSION_CODE of the running kernel (``6.18.0`` → 0x61200)."""
    parts = (os.uname().release.split("-")[0].split(".") + ["0", "0"])[:3]
    major, minor, patch = (int("".join(c for c in p if c.isdigit()) or 0) for p in parts)
    return (major << 16) + (minor << 8) + min(patch, 255)


def preprocess(text: str, cflags: Sequence[str] = ()) -> str:
    """``text`` with its conditionals decided and its macros expanded."""
    uapi = uapi_defines(text) + kernel_defines(text)
    out, pos = [uapi + "#line 1\n"] if uapi else [], 0
    for tok in tokenize(text):
        if tok.kind == "pp" and tok.text.replace(" ", "").startswith("#include<"):
            out.append(text[pos:tok.start] + "\n" * tok.text.count("\n"))
            pos = tok.end
    out.append(text[pos:])
    defines = [f"-DLINUX_VERSION_CODE={kernel_version_code()}",
               "-DKERNEL_VERSION(a,b,c)=(((a)<<16)+((b)<<8)+((c)>255?255:(c)))", "-D__BPF_TRACING__",
               "-D__TARGET_ARCH_x86", "-D__x86_64__", "-D__KERNEL__",
               # kernel header constants tools test in #if (netqtop: IFNAMSIZ != 16)
               "-DIFNAMSIZ=16", "-DTASK_COMM_LEN=16"]
    wanted = [f for f in cflags if f.startswith(("-D", "-U", "-I"))]
    command = [sys.executable, "-m", "ziglang", "cc", "-E", "-x", "c", "-target", "bpfel-freestanding-none",
               *defines, *wanted, "-"]
    done = subprocess.run(command, input="".join(out), capture_output=True, text=True, check=False)
    if done.returncode:
        first = next((line for line in done.stderr.splitlines() if "error" in line), done.stderr.strip())
        raise BccSyntaxError(f"preprocessing the BPF program: {_STDIN_NAME.sub('bcc-program', first)}")
    return _STDIN_MARKER.sub(r'\1"bcc-program"', done.stdout)


_STDIN_NAME = re.compile(r"<stdin>|[^\s:]*stdin\.c")
_STDIN_MARKER = re.compile(r'^(# \d+ )"(?:<stdin>|[^"]*stdin\.c)"', re.MULTILINE)
