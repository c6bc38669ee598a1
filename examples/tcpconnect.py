"""Trace outgoing TCP connections (IPv4), like BCC's tcpconnect.

    sudo python examples/tcpconnect.py [--duration SECONDS]

The stable tracepoint sock:inet_sock_set_state reports every TCP state change; a
connect() is the change to SYN_SENT. (BCC uses kprobes on tcp_v4_connect, which this
kind of kernel may not have.) Field offsets come from the tracepoint's format.
"""

from __future__ import annotations

import argparse
import ipaddress

from pybpf.btf import BTF, Kind, decode
from pybpf.engine import load
from pybpf.kernel.attach import attach
from pybpf.kernel.ringbuf import EventPoller, RingBuffer
from pybpf.object.elf import load_object
from pybpf.toolchain import compile_c
from pybpf.tracefs import Tracefs

SOURCE = r"""
#include <pybpf/bpf.h>

struct event { u32 pid; u16 sport; u16 dport; u8 saddr[4]; u8 daddr[4]; char comm[16]; };
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 16); } events SEC(".maps");
/* names struct event in the object's BTF, for Python to decode records with */
const struct event *const event_type __attribute__((used)) = 0;

#define FIELD(type, offset) (*(type *)((char *)ctx + (offset)))

SEC("tracepoint/sock/inet_sock_set_state")
int on_state(void *ctx)
{
    if (FIELD(int, NEWSTATE) != 2 /* TCP_SYN_SENT */ || FIELD(u16, PROTOCOL) != 6 || FIELD(u16, FAMILY) != 2)
        return 0;
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->pid = bpf_get_current_pid_tgid() >> 32;
    e->sport = FIELD(u16, SPORT);
    e->dport = FIELD(u16, DPORT);
    __builtin_memcpy(e->saddr, (char *)ctx + SADDR, 4);
    __builtin_memcpy(e->daddr, (char *)ctx + DADDR, 4);
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
    fmt = Tracefs().format("sock:inet_sock_set_state")
    offsets = {name.upper(): fmt.field(name).offset
               for name in ("newstate", "protocol", "family", "sport", "dport", "saddr", "daddr")}
    spec = load_object(compile_c(SOURCE, defines=offsets), name="tcpconnect")

    btf = BTF.parse(spec.programs["on_state"].btf.btf)
    event = btf.find("event", Kind.STRUCT)

    def show(record: bytes) -> None:
        e = decode(btf, event.id, record)           # fields by name, from the program's BTF
        print(f"{e.pid:<8} {e.comm:<16} {ipaddress.IPv4Address(bytes(e.saddr))!s:<16} "
              f"{ipaddress.IPv4Address(bytes(e.daddr))!s:<16} {e.dport}", flush=True)

    with load(spec, engine="kernel") as loaded, attach(loaded.programs["on_state"]), \
            RingBuffer.of(loaded.maps["events"]) as ring, EventPoller() as poller:
        poller.add_ring_buffer(ring, show)
        print(f"{'PID':<8} {'COMM':<16} {'SADDR':<16} {'DADDR':<16} DPORT", flush=True)
        poller.run(args.duration)


if __name__ == "__main__":
    main()
