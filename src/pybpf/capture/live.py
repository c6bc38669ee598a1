"""Live capture on Linux: an AF_PACKET raw socket with a classic BPF program attached in
the kernel (SO_ATTACH_FILTER), so packets the filter rejects are dropped before they are
copied to user space.

The socket is opened listening to no protocol, the filter is attached, and only then is
it bound to the interface with ETH_P_ALL: no unfiltered packet can be queued in between.
Changing the filter later follows libpcap: attach a reject-all program, drain what was
queued under the old filter, then attach the new one. Timestamps are the kernel's receive
times (SO_TIMESTAMPNS ancillary data), in nanoseconds.
"""

from __future__ import annotations

import ctypes
import errno as errno_codes
import fcntl
import select
import socket
import struct
import time
from collections.abc import Iterator, Sequence

from pybpf.capture.packet import CaptureError, LinkType, Packet
from pybpf.cbpf import CbpfError, Instruction, encode, opcodes, validate

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC = 1, 1
PACKET_OUTGOING = 4
SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = 35
SIOCGIFHWADDR = 0x8927
ARPHRD_ETHER, ARPHRD_LOOPBACK, ARPHRD_NONE = 1, 772, 0xFFFE
#: hardware types whose SOCK_RAW frames are in a link type this module can name
_HARDWARE_LINKTYPES = {ARPHRD_ETHER: LinkType.EN10MB, ARPHRD_LOOPBACK: LinkType.EN10MB,
                       ARPHRD_NONE: LinkType.RAW}
_REJECT_ALL = [Instruction(opcodes.RET | opcodes.K, 0, 0, 0)]
_TIMESPEC = struct.Struct("@qq")


class SockFprog(ctypes.Structure):
    """``struct sock_fprog``: the instruction count and a pointer to the instructions."""

    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _hardware_type(sock: socket.socket, interface: str) -> int:
    request = struct.pack("16sH14s", interface.encode(), 0, b"")
    try:
        reply = fcntl.ioctl(sock.fileno(), SIOCGIFHWADDR, request)
    except OSError as exc:
        raise CaptureError(f"{interface}: cannot read the hardware type: {exc.strerror}") from None
    return struct.unpack_from("H", reply, 16)[0]


class LiveCapture:
    """Packets arriving on one interface, filtered in the kernel by a classic BPF program.

    ``filter_program`` is a sequence of :class:`pybpf.cbpf.Instruction` written for this
    interface's ``linktype`` (EN10MB for Ethernet and for ``lo``, whose frames carry
    Ethernet-format headers on Linux). Needs CAP_NET_RAW. Close it (or use ``with``) to
    release the socket.
    """

    def __init__(self, interface: str, filter_program: Sequence[Instruction] | None = None,
                 snaplen: int = 262144, promisc: bool = False):
        if snaplen <= 0:
            raise CaptureError(f"{interface}: snapshot length {snaplen} must be positive")
        self.interface, self.snaplen = interface, snaplen
        self._buffer = bytearray(snaplen)
        try:
            self.ifindex = socket.if_nametoindex(interface)
        except OSError:
            raise CaptureError(f"{interface}: no such interface") from None
        try:
            # protocol 0: the socket receives nothing until bound with ETH_P_ALL below
            self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except PermissionError:
            raise CaptureError(f"{interface}: opening a packet socket needs root or CAP_NET_RAW") from None
        except OSError as exc:
            raise CaptureError(f"{interface}: cannot open a packet socket: {exc.strerror}") from None
        try:
            hardware = _hardware_type(self._sock, interface)
            self.is_loopback = hardware == ARPHRD_LOOPBACK
            if hardware not in _HARDWARE_LINKTYPES:
                raise CaptureError(f"{interface}: hardware type {hardware} is not supported (Ethernet, "
                                   f"loopback and raw-IP interfaces are)")
            self.linktype = int(_HARDWARE_LINKTYPES[hardware])
            self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            self.filter_program: list[Instruction] | None = None
            if filter_program is not None:
                self.set_filter(filter_program)
            self._sock.bind((interface, ETH_P_ALL))
            if promisc:
                mreq = struct.pack("iHH8s", self.ifindex, PACKET_MR_PROMISC, 0, b"")
                self._sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
        except OSError as exc:
            self._sock.close()
            raise CaptureError(f"{interface}: cannot set up capture: {exc.strerror}") from None
        except BaseException:
            self._sock.close()
            raise

    def _attach(self, program: Sequence[Instruction]) -> None:
        code = encode(program)
        buffer = ctypes.create_string_buffer(code, len(code))
        fprog = SockFprog(len(program), ctypes.addressof(buffer))
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(fprog))
        except OSError as exc:
            raise CaptureError(f"{self.interface}: the kernel refused the filter "
                               f"({errno_codes.errorcode.get(exc.errno or 0, exc.errno)}: {exc.strerror})") from None

    def _drain(self) -> int:
        """Discard whatever is queued; how many packets that was."""
        drained = 0
        while True:
            try:
                self._sock.recv(1, socket.MSG_DONTWAIT | socket.MSG_TRUNC)
            except (BlockingIOError, InterruptedError):
                return drained
            drained += 1

    def set_filter(self, program: Sequence[Instruction]) -> None:
        """Attach a classic BPF program in the kernel, replacing any earlier one; packets
        queued under the earlier filter are discarded (libpcap's reject-all-and-drain)."""
        program = list(program)
        try:
            validate(program)
        except CbpfError as exc:
            raise CaptureError(f"{self.interface}: invalid filter: {exc}") from None
        self._attach(_REJECT_ALL)
        self._drain()
        self._attach(program)
        self.filter_program = program

    def fileno(self) -> int:
        """The socket's descriptor, for select/poll loops."""
        return self._sock.fileno()

    def next_packet(self, timeout: float | None = None) -> Packet | None:
        """The next packet, or ``None`` if ``timeout`` seconds pass first (``None``:
        wait for ever). On loopback each packet would be seen twice (going out and coming
        in); like libpcap, the outgoing copy is skipped."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._sock], [], [], remaining)
            if not ready:
                return None
            try:
                # MSG_TRUNC makes the kernel return the packet's full length even when
                # only snaplen bytes fit the buffer: that is the wire length
                wirelen, ancillary, _flags, address = self._sock.recvmsg_into(
                    [self._buffer], socket.CMSG_SPACE(_TIMESPEC.size), socket.MSG_TRUNC)
            except InterruptedError:
                continue
            except OSError as exc:
                raise CaptureError(f"{self.interface}: receive failed: {exc.strerror}") from None
            if self.is_loopback and address[2] == PACKET_OUTGOING:
                continue
            data = bytes(self._buffer[:min(wirelen, self.snaplen)])
            return Packet(self._timestamp(ancillary), data, wirelen, self.linktype)

    @staticmethod
    def _timestamp(ancillary: list[tuple[int, int, bytes]]) -> int:
        for level, kind, value in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= _TIMESPEC.size:
                seconds, nanoseconds = _TIMESPEC.unpack_from(value)
                return seconds * 1_000_000_000 + nanoseconds
        return time.time_ns()

    def packets(self, count: int | None = None, timeout: float | None = None) -> Iterator[Packet]:
        """Up to ``count`` packets (all, if ``None``), stopping when ``timeout`` seconds
        have passed since the call (never, if ``None``)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = 0
        while count is None or seen < count:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            packet = self.next_packet(remaining)
            if packet is None:
                return
            seen += 1
            yield packet

    def __iter__(self) -> Iterator[Packet]:
        return self.packets()

    def close(self) -> None:
        """Close the socket (detaching the filter with it)."""
        self._sock.close()

    def __enter__(self) -> LiveCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
