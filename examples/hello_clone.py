"""Hello world of tracing: print a line every time a process calls clone().

    sudo python examples/hello_clone.py [--duration SECONDS]

A tracepoint program on syscalls:sys_enter_clone calls bpf_printk; Python reads the
kernel's trace_pipe and prints our lines (BCC's hello_world.py, rebuilt on pybpf).
"""

from __future__ import annotations

import argparse
import sys
import time

import pybpf

SOURCE = r"""
#include <pybpf/bpf.h>

SEC("tracepoint/syscalls/sys_enter_clone")
int hello(void *ctx)
{
    bpf_printk("Hello, clone! from pid %d", (u32)(bpf_get_current_pid_tgid() >> 32));
    return 0;
}
LICENSE("GPL");
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args()
    deadline = None if args.duration is None else time.monotonic() + args.duration
    with pybpf.TracePipe() as pipe, pybpf.load(pybpf.read(SOURCE, name="hello_clone"), engine="kernel") as coll, \
            coll.programs["hello"].attach():
        print("Tracing clone()... Ctrl-C to end.", flush=True)
        try:
            while deadline is None or time.monotonic() < deadline:
                for line in pipe.read(timeout=0.2):
                    if "Hello, clone!" in line.message:
                        print(f"{line.comm:<16} {line.message}", flush=True)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    sys.exit(pybpf.run_interruptible(main))  # SIGTERM cleans up as Ctrl-C does
