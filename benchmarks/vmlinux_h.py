"""Writing vmlinux.h from the running kernel's BTF: pybpf beside bpftool.

Run: ``python benchmarks/vmlinux_h.py``. Times parsing /sys/kernel/btf/vmlinux, writing
the C header from the parsed types, and (the anchor) ``bpftool btf dump file ... format c``
doing both in C; then how long the ziglang clang takes to compile a file that includes the
header, which every program built against it pays. Compiles after the first come from
pybpf's cache, and the header itself is generated once per kernel build.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pybpf.btf import BTF, dump_c

VMLINUX = "/sys/kernel/btf/vmlinux"


def timed(action):
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def main() -> int:
    parse_s, btf = timed(lambda: BTF.load(VMLINUX))
    dump_s, header = timed(lambda: dump_c(btf))
    print(f"types: {len(btf) - 1}, header: {header.count(chr(10))} lines, {len(header) / 1e6:.1f} MB")
    print(f"pybpf   parse {parse_s:6.2f} s   write C {dump_s:6.2f} s   total {parse_s + dump_s:6.2f} s")
    bpftool = shutil.which("bpftool") or "/usr/sbin/bpftool"
    if Path(bpftool).exists():
        anchor_s, _ = timed(lambda: subprocess.run([bpftool, "btf", "dump", "file", VMLINUX, "format", "c"],
                                                   capture_output=True, check=True))
        print(f"bpftool total {anchor_s:6.2f} s   (pybpf/bpftool = {(parse_s + dump_s) / anchor_s:.0f}x)")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "vmlinux.h").write_text(header)
        (Path(tmp) / "p.c").write_text('#include "vmlinux.h"\nstruct task_struct *t;\n')
        compile_s, _ = timed(lambda: subprocess.run(
            [sys.executable, "-m", "ziglang", "cc", "-target", "bpfel-freestanding-none", "-O2", "-g", "-c",
             str(Path(tmp) / "p.c"), "-o", str(Path(tmp) / "p.o")], check=True))
    print(f"clang compiling a file that includes it: {compile_s:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
