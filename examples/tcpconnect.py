"""Trace outgoing TCP connections (IPv4), like BCC's tcpconnect.

    sudo python examples/tcpconnect.py [--duration SECONDS]

The stable tracepoint sock:inet_sock_set_state reports every TCP state change; a
connect() is the change to SYN_SENT. (BCC uses kprobes on tcp_v4_connect, which this
kind of kernel may not have.) The record's layout comes from the kernel's BTF (CO-RE).
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from typing import Any

import pybpf

SOURCE = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>

struct event { u32 pid; u16 sport; u16 dport; u8 saddr[4]; u8 daddr[4]; char comm[16]; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 16); } events SEC(".maps");
/* names struct event in the object's BTF, for Python to decode records with */
const struct event *const event_type __attribute__((used)) = 0;

/* the record's layout comes from the kernel's BTF; CO-RE relocates each field's offset */
SEC("tracepoint/sock/inet_sock_set_state")
int on_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
    if (ctx->newstate != 2 /* TCP_SYN_SENT */ || ctx->protocol != 6 || ctx->family != 2)
        return 0;
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->sport = ctx->sport;
    e->dport = ctx->dport;
    __builtin_memcpy(e->saddr, ctx->saddr, 4);
    __builtin_memcpy(e->daddr, ctx->daddr, 4);
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    bpf_ringbuf_submit(e, 0);
    return 0;
}
LICENSE("GPL");
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    args = parser.parse_args()
    with pybpf.load(pybpf.read(SOURCE, name="tcpconnect"), engine="kernel") as coll, \
            coll.programs["on_state"].attach(), \
            pybpf.Events(coll.maps["events"], decode=coll.decoder("struct event")) as events:
        print(f"{'PID':<8} {'COMM':<16} {'SADDR':<16} {'DADDR':<16} DPORT", flush=True)
        events.run(lambda event: show(event.value), args.duration)


def show(e: Any) -> None:
    """One connection, its fields read by name (decoded through the program's BTF)."""
    print(f"{e.pid:<8} {e.comm:<16} {ipaddress.IPv4Address(bytes(e.saddr))!s:<16} "
          f"{ipaddress.IPv4Address(bytes(e.daddr))!s:<16} {e.dport}", flush=True)


if __name__ == "__main__":
    sys.exit(pybpf.run_interruptible(main))  # SIGTERM cleans up as Ctrl-C does
