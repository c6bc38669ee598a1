"""One-byte station addresses (ARCnet, BACnet MS/TP) in filters: ``link host $0e``,
``link src $8c``, ``broadcast``.

Such an address is written ``$`` and one or two hex digits (the AID token); it names a
station on the one link only, so it takes no protocol qualifier but ``link`` and no
type but ``host``. Broadcasts go to station 0 on ARCnet and to 255 on MS/TP; ARCnet has
no multicast, so libpcap's ``multicast`` there means its broadcast.
"""

from __future__ import annotations

from pybpf.cbpf import opcodes as c
from pybpf.filter import ir

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from pybpf.filter.codegen import Generator
    from pybpf.filter.syntax import Primitive, Special

BROADCAST = {"ARCNET": 0x00, "ARCNET_LINUX": 0x00, "BACNET_MS_TP": 0xFF}
#: link types where ``multicast`` is the broadcast address
MULTICAST_IS_BROADCAST = {"ARCNET", "ARCNET_LINUX"}


def host(gen: Generator, node: Primitive) -> ir.Fragment:
    q = node.qualifiers
    kind = q.type_name or "host"
    if kind != "host":
        raise gen.error(f"'{kind}' is not a valid qualifier for '$XX' (a one-byte station address)", q.type)
    if gen.proto_name(q) not in (None, "link"):
        raise gen.error(f"'link' is the only valid proto qualifier for 'host $XX', not '{q.proto_name}'", q.proto)
    if gen.link.address_size != 1:
        raise gen.error(f"'link host $XX' not supported on link type {gen.link.name} "
                        "(it has no one-byte station addresses)", node.value)
    destination, source = gen.link.macs

    def make(which: str) -> ir.Fragment:
        return gen.cmp(gen.off_linkhdr + (source if which == "src" else destination), c.B, node.value.value)
    return gen.address_test(q, make)


def cast(gen: Generator, node: Special) -> ir.Fragment:
    """``broadcast``/``multicast`` on a link with one-byte addresses."""
    word = node.keyword.text
    if word == "multicast" and gen.link.name not in MULTICAST_IS_BROADCAST:
        raise gen.error(f"'multicast' not supported on link type {gen.link.name}", node.keyword)
    return gen.cmp(gen.off_linkhdr + gen.link.macs[0], c.B, BROADCAST[gen.link.name])
