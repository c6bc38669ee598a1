"""Classic programs checked as the kernel checks them, translated to eBPF with the same
results (interpreter and JIT batch) on every program tcpdump compiles for libpcap's apply
tests, and a classic filter attached to a real socket with SO_ATTACH_FILTER."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import socket
import struct
import subprocess

import pytest

from pybpf.capture import read_packets
from pybpf.cbpf import CbpfError, encode, parse_dump, run
from pybpf.cbpf import opcodes as c
from pybpf.cbpf.instruction import Instruction as I
from pybpf.cbpf.translate import to_ebpf, validate
from pybpf.vm import run as vm_run
from pybpf.vm.jit import compile_program
from shared_data import shared_path


@pytest.mark.parametrize("program, why", [
    ([], "1 to 4096 instructions"),
    ([I(c.LD | c.IMM, 0, 0, 1)], "must end with a return"),
    ([I(c.JMP | c.JA, 0, 0, 5), I(c.RET | c.K, 0, 0, 0)], "jumps past the end"),
    ([I(c.ALU | c.DIV | c.K, 0, 0, 0), I(c.RET | c.A, 0, 0, 0)], "division by the constant 0"),
    ([I(c.ST, 0, 0, 16), I(c.RET | c.A, 0, 0, 0)], "M\\[16\\] does not exist"),
    ([I(c.LD | c.MEM, 0, 0, 3), I(c.RET | c.A, 0, 0, 0)], "reads M\\[3\\] before any path writes it"),
])
def test_validate_refusals(program, why):
    with pytest.raises(CbpfError, match=why):
        validate(program)


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump to compile the expressions")
def test_translation_gives_the_same_results():
    compared = 0
    for line in shared_path("libpcap-tests", "apply.jsonl").read_text().splitlines():
        case = json.loads(line)
        if case["skip"] or case["netmask"] is not None or not case["optimize"]:
            continue
        capture = shared_path("libpcap-tests", "savefiles", case["savefile"])
        compiled = subprocess.run(["tcpdump", "-r", str(capture), "-ddd", case["expr"]], capture_output=True, text=True)
        if compiled.returncode:
            continue
        program = parse_dump(compiled.stdout)
        packets = [p.data for p in read_packets(capture)]
        classic = [run(program, data) for data in packets]
        translated = to_ebpf(program)
        assert compile_program(translated).run_many(packets, max_instructions=1 << 30) == classic, case["label"]
        assert [vm_run(translated, d, jit=False, max_instructions=1 << 30) for d in packets] == classic
        compared += 1
    assert compared > 100


def test_ancillary_loads_are_refused():
    with pytest.raises(CbpfError, match="ancillary"):
        to_ebpf([I(c.LD | c.H | c.ABS, 0, 0, (c.SKF_AD_OFF + 44) & 0xFFFFFFFF), I(c.RET | c.A, 0, 0, 0)])


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


@pytest.mark.parametrize("accept", [True, False])
def test_kernel_socket_filter_agrees(accept):
    # a UDP socket's filter sees the datagram from its UDP header: 8 bytes + the payload;
    # accept when ld #pktlen is 15 (or, for the other case, 16) and the length field agrees
    expected_length = 15 if accept else 16
    program = [I(c.LD | c.W | c.LEN, 0, 0, 0), I(c.JMP | c.JEQ | c.K, 0, 3, expected_length),
               I(c.LD | c.H | c.ABS, 0, 0, 4), I(c.JMP | c.JEQ | c.K, 0, 1, expected_length),
               I(c.RET | c.K, 0, 0, 0xFFFF), I(c.RET | c.K, 0, 0, 0)]
    validate(program)
    code = ctypes.create_string_buffer(encode(program))
    fprog = _SockFprog(len(program), ctypes.addressof(code))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(0.3)
        rx.setsockopt(socket.SOL_SOCKET, 26, bytes(fprog))  # SO_ATTACH_FILTER
        tx.sendto(b"payload", rx.getsockname())
        try:
            arrived = rx.recv(100) == b"payload"
        except TimeoutError:
            arrived = False
    datagram = bytes([0x30, 0x39, 0x27, 0x0F, 0, 15, 0, 0]) + b"payload"   # ports, length 15, checksum
    assert arrived == bool(run(program, datagram)) == accept


@pytest.mark.skipif(os.geteuid() != 0, reason="loading a socket filter into the kernel needs root")
def test_translated_filters_run_in_the_kernel_as_socket_filters():
    """pcap-filter expressions compiled for raw IP, translated for the kernel, loaded as
    BPF_PROG_TYPE_SOCKET_FILTER and test-run (the kernel shows a socket filter the packet
    from its network header): the classic interpreter's answers, packet by packet."""
    from pybpf.engine import load
    from pybpf.filter import compile_filter
    from pybpf.object import CollectionSpec, ProgramSpec

    def ipv4(proto: int, payload: bytes, dst: int = 0x0A000002) -> bytes:
        return struct.pack(">BBHHHBBHII", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0, 0x0A000001, dst) + payload

    tcp = struct.pack(">HHIIBBHHH", 1234, 80, 1, 0, 0x50, 0x02, 512, 0, 0)
    udp = struct.pack(">HHHH", 5353, 53, 12, 0) + b"abcd"
    packets = [ipv4(6, tcp), ipv4(17, udp), ipv4(1, b"\x08\x00" + bytes(6)), ipv4(6, tcp, 0x0A000003),
               ipv4(6, tcp[:10]), bytes([0x60]) + bytes(39) + tcp, ipv4(17, udp) + bytes(1200)]
    expressions = ["tcp port 80", "udp or icmp", "host 10.0.0.2 and tcp[tcpflags] & tcp-syn != 0", "len > 1000",
                   "ip[2:2] / 4 > 10", "not ip6", "icmp[icmptype] == icmp-echo"]
    for expression in expressions:
        program = compile_filter(expression, linktype="RAW", snaplen=96)
        spec = CollectionSpec.of(ProgramSpec("f", "socket_filter", to_ebpf(program, socket_filter=True)))
        with load(spec, engine="kernel") as coll:
            for packet in packets:
                assert coll.programs["f"].test_run(bytes(14) + packet).retval == run(program, packet), expression
