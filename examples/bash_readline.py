"""Print the command lines typed into any bash, as they are entered, like BCC's
bash_readline.

    sudo python examples/bash_readline.py [--duration SECONDS] [--bash /usr/bin/bash]

A uretprobe on bash's readline() reads the returned string from the bash process's
memory (bpf_probe_read_user_str) into a ring buffer record.
"""

from __future__ import annotations

import argparse
import struct
import sys
import time

import pybpf

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
    spec = pybpf.read(SOURCE, name="bash_readline")

    def show(event: pybpf.Event) -> None:
        pid, text = LINE.unpack_from(event.data)
        command = text.split(b"\0", 1)[0].decode(errors="replace")
        print(f"{time.strftime('%H:%M:%S')}  {pid:<8} {command}", flush=True)

    with pybpf.load(spec, engine="kernel") as coll, \
            coll.programs["on_readline"].attach(f"uretprobe:{args.bash}:readline"), \
            pybpf.Events(coll.maps["lines"]) as events:
        print(f"{'TIME':<9} {'PID':<8} COMMAND", flush=True)
        events.run(show, args.duration)


if __name__ == "__main__":
    sys.exit(pybpf.run_interruptible(main))  # SIGTERM cleans up as Ctrl-C does
