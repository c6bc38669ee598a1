"""Attaching networking programs: sockets (SO_ATTACH_BPF), XDP on an interface, tc
ingress/egress through TCX, and cgroup v2 hooks.

XDP, TCX and cgroup attachments are BPF links (BPF_LINK_CREATE), so they detach when
the link closes and can be pinned. A socket filter belongs to the socket; the
:class:`SocketAttachment` removes it (SO_DETACH_BPF) when closed.
"""

from __future__ import annotations

import errno
import os
import socket
import struct

from pybpf.engine.link import Link
from pybpf.errors import BPFError
from pybpf.kernel.attach.tracing import AttachError
from pybpf.kernel.link import BpfLink, create_link
from pybpf.object import AttachType

SO_ATTACH_BPF = 50
SO_DETACH_BPF = 27  # the same value as SO_DETACH_FILTER

#: XDP attach modes (XDP_FLAGS_*): generic runs in the stack on any device, native in the
#: driver, offload on the NIC
XDP_MODES = {"auto": 0, "generic": 1 << 1, "skb": 1 << 1, "native": 1 << 2, "drv": 1 << 2, "offload": 1 << 3, "hw": 1 << 3}

#: cgroup hooks by the names libbpf section names and bpftool use
CGROUP_HOOKS = {
    "ingress": AttachType.CGROUP_INET_INGRESS,
    "egress": AttachType.CGROUP_INET_EGRESS,
    "sock_create": AttachType.CGROUP_INET_SOCK_CREATE,
    "sock_release": AttachType.CGROUP_INET_SOCK_RELEASE,
    "sock_ops": AttachType.CGROUP_SOCK_OPS,
    "device": AttachType.CGROUP_DEVICE,
    "bind4": AttachType.CGROUP_INET4_BIND,
    "bind6": AttachType.CGROUP_INET6_BIND,
    "connect4": AttachType.CGROUP_INET4_CONNECT,
    "connect6": AttachType.CGROUP_INET6_CONNECT,
    "post_bind4": AttachType.CGROUP_INET4_POST_BIND,
    "post_bind6": AttachType.CGROUP_INET6_POST_BIND,
    "sendmsg4": AttachType.CGROUP_UDP4_SENDMSG,
    "sendmsg6": AttachType.CGROUP_UDP6_SENDMSG,
    "recvmsg4": AttachType.CGROUP_UDP4_RECVMSG,
    "recvmsg6": AttachType.CGROUP_UDP6_RECVMSG,
    "sysctl": AttachType.CGROUP_SYSCTL,
    "getsockopt": AttachType.CGROUP_GETSOCKOPT,
    "setsockopt": AttachType.CGROUP_SETSOCKOPT,
    "getpeername4": AttachType.CGROUP_INET4_GETPEERNAME,
    "getpeername6": AttachType.CGROUP_INET6_GETPEERNAME,
    "getsockname4": AttachType.CGROUP_INET4_GETSOCKNAME,
    "getsockname6": AttachType.CGROUP_INET6_GETSOCKNAME,
}


class SocketAttachment(Link):
    """A program attached to one socket; :meth:`close` detaches it (the socket stays)."""

    def __init__(self, sock: socket.socket, prog_fd: int) -> None:
        super().__init__(f"socket filter on socket fd {sock.fileno()}")
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_BPF, struct.pack("i", prog_fd))
        except OSError as exc:
            self._closed = True             # nothing to detach
            raise AttachError(f"socket fd {sock.fileno()}", exc.errno or errno.EINVAL,
                              f"SO_ATTACH_BPF refused: {exc.strerror} (the program must be a socket_filter)") from None
        self.socket = sock

    def _close(self) -> None:
        """Detach the program from the socket (a closed socket needs nothing)."""
        if self.socket.fileno() >= 0:
            try:
                self.socket.setsockopt(socket.SOL_SOCKET, SO_DETACH_BPF, 0)
            except OSError as exc:
                if exc.errno != errno.ENOENT:  # nothing attached any more
                    raise


def attach_socket(prog_fd: int, sock: socket.socket) -> SocketAttachment:
    """Filter what ``sock`` receives through a socket_filter program."""
    return SocketAttachment(sock, prog_fd)


def interface_index(interface: str | int) -> int:
    """The ifindex of an interface name (or an index, checked to exist)."""
    if isinstance(interface, int):
        try:
            socket.if_indextoname(interface)
        except OSError:
            raise AttachError(f"interface {interface}", errno.ENODEV, "no interface has this index") from None
        return interface
    try:
        return socket.if_nametoindex(interface)
    except OSError:
        raise AttachError(f"interface {interface!r}", errno.ENODEV,
                          "no such network interface in this network namespace") from None


def attach_xdp(prog_fd: int, interface: str | int, mode: str = "auto") -> BpfLink:
    """Run an XDP program on packets arriving at ``interface`` (``mode``: auto, generic,
    native or offload)."""
    if mode not in XDP_MODES:
        raise AttachError(f"xdp on {interface}", errno.EINVAL,
                          f"unknown XDP mode {mode!r} (choose {', '.join(sorted(set(XDP_MODES)))})")
    index = interface_index(interface)
    try:
        return create_link(prog_fd, index, AttachType.XDP, flags=XDP_MODES[mode])
    except BPFError as exc:
        if exc.errno == errno.EBUSY:
            raise AttachError(f"xdp on {interface}", exc.errno,
                              "another XDP program is attached to this interface (detach it first)") from None
        if exc.errno == errno.EOPNOTSUPP and mode in ("native", "drv", "offload", "hw"):
            raise AttachError(f"xdp on {interface}", exc.errno,
                              f"the driver does not support {mode} XDP; use mode='generic'") from None
        raise


def attach_tc(prog_fd: int, interface: str | int, direction: str = "ingress") -> BpfLink:
    """Run a sched_cls program on ``interface``'s ``ingress`` or ``egress`` (TCX links)."""
    types = {"ingress": AttachType.TCX_INGRESS, "egress": AttachType.TCX_EGRESS}
    if direction not in types:
        raise AttachError(f"tc on {interface}", errno.EINVAL, f"direction must be ingress or egress, not {direction!r}")
    return create_link(prog_fd, interface_index(interface), types[direction])


def attach_cgroup(prog_fd: int, cgroup: str, hook: str | AttachType) -> BpfLink:
    """Run a cgroup program for every process in the cgroup v2 directory ``cgroup``
    (``hook``: ingress, egress, sock_create, connect4, ... or an AttachType)."""
    if isinstance(hook, str):
        if hook not in CGROUP_HOOKS:
            raise AttachError(f"cgroup {cgroup}", errno.EINVAL,
                              f"unknown cgroup hook {hook!r} (known: {', '.join(CGROUP_HOOKS)})")
        hook = CGROUP_HOOKS[hook]
    try:
        fd = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise AttachError(f"cgroup {cgroup}", exc.errno or errno.ENOENT,
                          f"cannot open the cgroup directory: {exc.strerror}") from None
    try:
        return create_link(prog_fd, fd, hook)
    finally:
        os.close(fd)
