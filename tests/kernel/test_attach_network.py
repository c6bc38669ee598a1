"""Networking attachments on the running kernel: socket filters on a loopback socket,
XDP and TCX on a veth pair between two network namespaces made for the test, and a
cgroup egress hook — each sees the traffic it should, and is gone when closed."""

from __future__ import annotations

import os
import shutil
import socket

import pytest
from kernel_programs import counter_map, counting
from netns_helpers import cgroup2_root, inside, new_cgroup, run_in, run_in_cgroup, send_udp, veth_between_namespaces

from pybpf.engine import load
from pybpf.kernel.attach import AttachError, attach, attach_socket, attach_xdp
from pybpf.object import CollectionSpec

pytestmark = [
    pytest.mark.usefixtures("no_fd_leak"),
    pytest.mark.skipif(os.geteuid() != 0, reason="attaching networking programs needs root"),
]

XDP_PASS = 2
TCX_NEXT = -1  # let the next program (or the stack) decide


def _loaded(program_type: str, retval: int):
    return load(CollectionSpec.of(counter_map(), counting("prog", program_type, retval=retval)), engine="kernel")


@pytest.mark.parametrize("accept", [True, False])
def test_socket_filter_counts_and_filters(accept):
    with _loaded("socket_filter", 0xFFFF if accept else 0) as coll, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(0.2)
        with attach(coll.programs["prog"], "socket", socket=rx):
            for _ in range(3):
                tx.sendto(b"hello", rx.getsockname())
            received = []
            try:
                for _ in range(3):
                    received.append(rx.recv(100))
            except TimeoutError:
                pass
            assert coll.maps["hits"][0] == 3
            assert received == ([b"hello"] * 3 if accept else [])
        tx.sendto(b"after", rx.getsockname())
        assert rx.recv(100) == b"after"          # detached: everything passes again
        assert coll.maps["hits"][0] == 3


def test_socket_filter_refuses_other_program_types():
    with _loaded("xdp", XDP_PASS) as coll, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        with pytest.raises(AttachError, match="SO_ATTACH_BPF refused"):
            attach_socket(coll.programs["prog"].fd, s)


needs_ip = pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2's ip to run code in a namespace")


@needs_ip
@pytest.mark.parametrize("kind, program_type, retval, target", [
    ("xdp", "xdp", XDP_PASS, "xdp:{ifname}:generic"),
    ("tcx", "sched_cls", TCX_NEXT, "tc:{ifname}:ingress"),
])
def test_packets_arriving_on_a_veth(kind, program_type, retval, target):
    with _loaded(program_type, retval) as coll, veth_between_namespaces(kind) as (ns_a, ns_b, if_a, _):
        with inside(ns_a):
            link = attach(coll.programs["prog"], target.format(ifname=if_a))
        try:
            run_in(ns_b, send_udp("10.77.0.1", 5))
            assert coll.maps["hits"][0] >= 5      # 5 datagrams (and the ARP exchange before them)
        finally:
            link.close()
        seen = coll.maps["hits"][0]
        run_in(ns_b, send_udp("10.77.0.1", 5))
        assert coll.maps["hits"][0] == seen


@needs_ip
def test_xdp_errors():
    with _loaded("xdp", XDP_PASS) as coll:
        with pytest.raises(AttachError, match="no such network interface"):
            attach_xdp(coll.programs["prog"].fd, "pybpf-nope0")
        with pytest.raises(AttachError, match="unknown XDP mode 'fast'"):
            attach_xdp(coll.programs["prog"].fd, "lo", mode="fast")


@pytest.mark.skipif(cgroup2_root() is None, reason="no cgroup v2 hierarchy is mounted")
def test_cgroup_egress_counts_what_members_send():
    with _loaded("cgroup_skb", 1) as coll, new_cgroup("egress") as cgroup:
        with attach(coll.programs["prog"], f"cgroup:{cgroup}:egress"):
            run_in_cgroup(cgroup, send_udp("127.0.0.1", 4))
            assert coll.maps["hits"][0] == 4
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", 9999))
            assert coll.maps["hits"][0] == 4      # this process is not in the cgroup
        run_in_cgroup(cgroup, send_udp("127.0.0.1", 4))
        assert coll.maps["hits"][0] == 4
    with pytest.raises(AttachError, match="unknown cgroup hook 'sideways'"):
        with _loaded("cgroup_skb", 1) as coll:
            attach(coll.programs["prog"], f"cgroup:{cgroup2_root()}:sideways")
