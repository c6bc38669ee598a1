"""Bounds-checked field access for the summary decoders: running off the captured bytes
raises :class:`Truncated`, which the decoders turn into tcpdump's ``[|proto]`` marker
instead of an IndexError or a wrong value."""

from __future__ import annotations

import ipaddress
import socket
import struct


class Truncated(Exception):
    """The captured bytes end before the field a decoder needs."""


def unpack(fmt: str, data: bytes, offset: int = 0) -> tuple:
    """``struct.unpack_from`` in network byte order, raising :class:`Truncated`."""
    size = struct.calcsize("!" + fmt)
    if offset < 0 or offset + size > len(data):
        raise Truncated
    return struct.unpack_from("!" + fmt, data, offset)


def mac(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


def ip4(raw: bytes) -> str:
    return str(ipaddress.IPv4Address(raw))


def ip6(raw: bytes) -> str:
    return str(ipaddress.IPv6Address(raw))


def port(number: int, proto: str, numeric: bool) -> str:
    """A port number, or its service name (as /etc/services says) unless numeric."""
    if not numeric:
        try:
            return socket.getservbyport(number, proto)
        except (OSError, OverflowError):
            pass
    return str(number)
