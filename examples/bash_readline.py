"""Print the command lines typed into any bash, as they are entered, like BCC's
bash_readline.

    sudo python examples/bash_readline.py [--duration SECONDS] [--bash /usr/bin/bash]

A uretprobe on bash's readline() reads the returned string from the bash process's
memory (bpf_probe_read_user_str) into a ring buffer record.
"""

from __future__ import annotations

import argparse
import struct
import time

from pybpf.engine import load
from pybpf.kernel.attach import attach
from pybpf.kernel.ringbuf import EventPoller, RingBuffer
from pybpf.object.elf import load_object
from pybpf.toolchain import compile_c

SOURCE = r"""
#include <pybpf/bpf.h>

struct line { u32 pid; char text[252]; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 16); } lines SEC(".maps");

SEC("uretprobe")
int on_readline(struct pt_regs *regs)
{
    if (!PT_REGS_RC(regs))
        return 0;
    struct line *l = bpf_ringbuf_reserve(&lines, sizeof(*l), 0);
    if (!l)
        return 0;
    l->pid = bpf_get_current_pid_tgid() >> 32;
    bpf_probe_read_user_str(l->text, sizeof(l->text), (void *)PT_REGS_RC(regs));
    bpf_ringbuf_submit(l, 0);
    return 0;
}
LICENSE("GPL");
"""
LINE = struct.Struct("<I252s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    parser.add_argument("--bash", default="/usr/bin/bash", help="the bash binary to probe")
    args = parser.parse_args()
    spec = load_object(compile_c(SOURCE), name="bash_readline")

    def show(record: bytes) -> None:
        pid, text = LINE.unpack_from(record)
        command = text.split(b"\0", 1)[0].decode(errors="replace")
        print(f"{time.strftime('%H:%M:%S')}  {pid:<8} {command}", flush=True)

    with load(spec, engine="kernel") as loaded, \
            attach(loaded.programs["on_readline"], f"uretprobe:{args.bash}:readline"), \
            RingBuffer.of(loaded.maps["lines"]) as ring, EventPoller() as poller:
        poller.add_ring_buffer(ring, show)
        print(f"{'TIME':<9} {'PID':<8} COMMAND", flush=True)
        poller.run(args.duration)


if __name__ == "__main__":
    main()
