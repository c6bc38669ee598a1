"""What every capture source and sink shares: the :class:`Packet` record, the link-type
numbers (LINKTYPE_* of tcpdump.org, which pcap and pcapng files store) and the one error
type, so that readers, writers, summaries and live capture agree on a single vocabulary.

:class:`LinkType` is an ``IntEnum`` made from :data:`LINKTYPES` when it is first used:
``pybpf filter -r FILE -w OUT`` names the file's link type (:func:`linktype_name`) but
needs no enum, and enum (with functools) is a few milliseconds of its start-up.
"""

from __future__ import annotations

from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any, NamedTuple
else:                   # the same class, without typing (pybpf._namedtuple)
    from pybpf._namedtuple import NamedTuple


class CaptureError(PybpfError):
    """A capture file or socket that is not what it claims: the message names the file
    (or interface), the byte offset where that applies, and the problem."""


class Packet(NamedTuple):
    """One captured packet.

    ``data`` is what was captured (at most the snapshot length); ``wirelen`` is how long
    the packet was on the wire. ``linktype`` is per packet because a pcapng file may
    describe several interfaces of different link types; ``interface`` is the pcapng
    interface index (0 for pcap files and live captures).
    """

    timestamp_ns: int
    data: bytes
    wirelen: int
    linktype: int
    interface: int = 0


#: the link types this package decodes, by name (numbers as stored in pcap/pcapng files):
#: the members of :class:`LinkType`
LINKTYPES = {"NULL": 0, "EN10MB": 1, "RAW": 101, "LOOP": 108, "LINUX_SLL": 113, "IPV4": 228, "IPV6": 229,
             "LINUX_SLL2": 276}
_NAMES = {number: name for name, number in LINKTYPES.items()}


def linktype_name(linktype: int) -> str:
    """``EN10MB`` for 1, ``LINKTYPE_42`` for a number this package has no name for."""
    name = _NAMES.get(linktype)
    return f"LINKTYPE_{linktype}" if name is None else name


def __getattr__(name: str) -> Any:
    """``LinkType``: the ``IntEnum`` of :data:`LINKTYPES`, made on first use."""
    if name != "LinkType":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from enum import IntEnum

    link_type = IntEnum("LinkType", LINKTYPES, module=__name__)   # type: ignore[misc]
    link_type.__doc__ = "The link types this package decodes (numbers as stored in pcap/pcapng files)."
    globals()["LinkType"] = link_type
    return link_type
