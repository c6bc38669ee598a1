"""Trace the modules Python programs import, through CPython's USDT probe
python:import__find__load__start.

    sudo python examples/usdt.py [--duration SECONDS] [--python /usr/bin/python3.11]

The probe's argument (the module name) is wherever the binary's .note.stapsdt says
(a register, memory or a constant); pybpf reads the note, generates ``usdt_arg()`` for
it (pybpf.usdt.c_reader), compiles that into the program, and attaches a uprobe at every probe site with the probe's semaphore raised by
the kernel (CPython only fires its probes while the semaphore is set).
"""

from __future__ import annotations

import argparse
import struct
import sys

import pybpf

SOURCE = r"""
#include <pybpf/bpf.h>

struct import { u32 pid; char module[124]; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 20); } imports SEC(".maps");

READER
SEC("usdt")
int on_import(struct pt_regs *regs)
{
    struct import *i = bpf_ringbuf_reserve(&imports, sizeof(*i), 0);
    if (!i)
        return 0;
    long module = 0;
    i->pid = bpf_get_current_pid_tgid() >> 32;
    i->module[0] = 0;
    if (usdt_arg(regs, 0, &module) == 0)
        bpf_probe_read_user_str(i->module, sizeof(i->module), (void *)module);
    bpf_ringbuf_submit(i, 0);
    return 0;
}
LICENSE("GPL");
"""
IMPORT = struct.Struct("<I124s")


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--python", default="/usr/bin/python3.11", help="the CPython binary to trace")
    args = parser.parse_args()
    probe = pybpf.usdt.find_probe(args.python, "import__find__load__start", "python")[0]
    spec = pybpf.read(SOURCE.replace("READER", pybpf.usdt.c_reader(probe)), name="usdt")

    def show(event: pybpf.Event) -> None:
        pid, module = IMPORT.unpack_from(event.data)
        print(f"{pid:<8} {_text(module)}", flush=True)

    with pybpf.load(spec, engine="kernel") as coll, \
            coll.programs["on_import"].attach(f"usdt:{args.python}:python:import__find__load__start"), \
            pybpf.Events(coll.maps["imports"]) as events:
        print(f"{'PID':<8} MODULE", flush=True)
        events.run(show, args.duration)


if __name__ == "__main__":
    sys.exit(pybpf.run_interruptible(main))  # SIGTERM cleans up as Ctrl-C does
