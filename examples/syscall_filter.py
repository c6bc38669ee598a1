"""Filter a system call on its arguments in the kernel: report openat() calls whose path
starts with a prefix (default /etc/), like BCC's opensnoop with a path filter.

    sudo python examples/syscall_filter.py [--prefix /etc/] [--duration SECONDS]

The program on syscalls:sys_enter_openat reads the path from the calling process's
memory and compares it with the prefix before anything leaves the kernel, so unrelated
opens cost no trip to Python.
"""

from __future__ import annotations

import argparse
import struct
import sys

import pybpf

SOURCE = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>

struct open_event { u32 pid; char comm[16]; char path[236]; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 18); } opens SEC(".maps");
static const char prefix[] = PREFIX;

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(struct trace_event_raw_sys_enter *ctx)
{
    char path[sizeof(((struct open_event *)0)->path)];
    const char *user_path = (const char *)ctx->args[1];   /* openat(dfd, filename, ...) */
    if (bpf_probe_read_user_str(path, sizeof(path), user_path) < (long)sizeof(prefix))
        return 0;
    for (int i = 0; i < (int)sizeof(prefix) - 1; i++)
        if (path[i] != prefix[i])
            return 0;
    struct open_event *e = bpf_ringbuf_reserve(&opens, sizeof(*e), 0);
    if (!e)
        return 0;
    e->pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    __builtin_memcpy(e->path, path, sizeof(path));
    bpf_ringbuf_submit(e, 0);
    return 0;
}
LICENSE("GPL");
"""
EVENT = struct.Struct("<I16s236s")


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode(errors="replace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default="/etc/", help="report paths that start with this")
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args()
    if not args.prefix or len(args.prefix) > 200 or any(ch in args.prefix for ch in '"\\\n'):
        raise SystemExit("syscall_filter: --prefix must be 1-200 characters without quotes, backslashes or newlines")
    spec = pybpf.read(SOURCE, name="syscall_filter", defines={"PREFIX": f'"{args.prefix}"'})

    def show(event: pybpf.Event) -> None:
        pid, comm, path = EVENT.unpack_from(event.data)
        print(f"{pid:<8} {_text(comm):<16} {_text(path)}", flush=True)

    with pybpf.load(spec, engine="kernel") as coll, coll.programs["on_openat"].attach(), \
            pybpf.Events(coll.maps["opens"]) as events:
        print(f"{'PID':<8} {'COMM':<16} PATH", flush=True)
        events.run(show, args.duration)


if __name__ == "__main__":
    sys.exit(pybpf.run_interruptible(main))  # SIGTERM cleans up as Ctrl-C does
