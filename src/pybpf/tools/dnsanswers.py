"""DNS answers as the machine receives them, for tcpconnect ``--dns`` (BCC's ``-d``, which
hooks udp_recvmsg with a kprobe and a kretprobe, and udpv6_queue_rcv_one_skb).

No kprobes here, so the ``net:netif_receive_skb`` tracepoint: every packet a device hands
to the stack (loopback's and veths' too), its IPv4 or IPv6 header at the socket buffer's
data. The program keeps UDP datagrams from port 53 and sends the first :data:`DNS_BYTES`
bytes of their payload (of the buffer's linear part) to a ring buffer map named ``dns``;
:func:`parse_answers` reads a response's question and its A and AAAA records, and
:class:`DnsNames` remembers which name each address answered, as BCC's cache does (for the
whole machine, not per process, there as here).

The tracepoint ``skb:skb_copy_datagram_iovec`` (a datagram copied to its reader) would match
BCC's hook better but misses UDP: its recvmsg copies linear buffers with
``copy_linear_skb``, which has no tracepoint. So answers are seen as they arrive, also those
no socket takes (dropped, or for another namespace: still answers for the address). Not
seen, as in BCC: answers over TCP or TLS, IPv6 datagrams behind extension headers, and
fragmented ones."""

from __future__ import annotations

import ipaddress
import struct
import time
from collections import OrderedDict

from pybpf.errors import PybpfError

#: the bytes of a DNS message kept (BCC's MAX_PKT: a classic UDP DNS message's size)
DNS_BYTES = 512
#: BCC's cache: this many addresses, each for a day
CACHE_SIZE = 10240
CACHE_SECONDS = 86400

#: the C program (after a tool's ``struct event`` header); SKBADDR_OFFSET is the field's
#: offset in the tracepoint's record (:data:`TRACEPOINT`)
SOURCE = r"""
struct dns_record { u64 ts; u32 size; u8 data[DNS_BYTES]; } __attribute__((packed));
struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 1 << 18); } dns SEC(".maps");

SEC("tracepoint/net/netif_receive_skb")
int on_packet(void *ctx)
{
    struct sk_buff *skb = *(struct sk_buff **)((char *)ctx + SKBADDR_OFFSET);
    u16 protocol = BPF_CORE_READ(skb, protocol);
    unsigned char *ip = BPF_CORE_READ(skb, data);               /* the network header, here */
    u32 linear = BPF_CORE_READ(skb, len) - BPF_CORE_READ(skb, data_len);
    u8 first = 0, next = 0;
    u32 header;
    if (protocol == bpf_htons(ETH_P_IP_)) {
        bpf_probe_read_kernel(&first, 1, ip);
        bpf_probe_read_kernel(&next, 1, ip + 9);                 /* struct iphdr's protocol */
        header = (first & 0xf) * 4;
    } else if (protocol == bpf_htons(ETH_P_IPV6_)) {
        bpf_probe_read_kernel(&next, 1, ip + 6);                 /* struct ipv6hdr's nexthdr */
        header = 40;
    } else {
        return 0;
    }
    struct udphdr udp = {};
    if (next != IPPROTO_UDP_ || bpf_probe_read_kernel(&udp, sizeof(udp), ip + header) || udp.source != bpf_htons(53))
        return 0;
    u32 size = bpf_ntohs(udp.len) - sizeof(udp);
    if (header + sizeof(udp) > linear)
        return 0;
    if (size > linear - header - sizeof(udp))
        size = linear - header - sizeof(udp);
    if (size > DNS_BYTES)
        size = DNS_BYTES;
    struct dns_record *r = bpf_ringbuf_reserve(&dns, sizeof(*r), 0);
    if (!r)
        return 0;
    r->ts = bpf_ktime_get_ns();
    r->size = size;
    if (bpf_probe_read_kernel(r->data, size, ip + header + sizeof(udp)))
        r->size = 0;
    bpf_ringbuf_submit(r, 0);
    return 0;
}
"""

TRACEPOINT = "net:netif_receive_skb"
#: the program's constants, besides SKBADDR_OFFSET
DEFINES = {"DNS_BYTES": DNS_BYTES, "ETH_P_IP_": 0x0800, "ETH_P_IPV6_": 0x86DD, "IPPROTO_UDP_": 17}

_RECORD = struct.Struct(f"<QI{DNS_BYTES}s")
_HEADER = struct.Struct("!HHHHHH")
_ANSWER = struct.Struct("!HHIH")
_A, _AAAA = 1, 28


class DnsError(PybpfError):
    """A DNS message that is cut short or malformed (where, and why)."""


def _name(message: bytes, at: int) -> tuple[str, int]:
    """The name at ``at`` (labels, or a compression pointer to more) and the offset after
    it where it is written."""
    labels: list[str] = []
    end = None
    seen = set()
    while True:
        if at >= len(message):
            raise DnsError(f"name at byte {at}: past the message's end ({len(message)} bytes)")
        length = message[at]
        if length & 0xC0 == 0xC0:
            if at + 1 >= len(message):
                raise DnsError(f"compression pointer at byte {at}: cut short")
            end = at + 2 if end is None else end
            at = (length & 0x3F) << 8 | message[at + 1]
            if at in seen:
                raise DnsError(f"compression pointer to byte {at}: a loop")
            seen.add(at)
            continue
        if length & 0xC0:
            raise DnsError(f"label at byte {at}: unknown label type {length >> 6:#x}")
        if length == 0:
            return ".".join(labels), at + 1 if end is None else end
        if at + 1 + length > len(message):
            raise DnsError(f"label at byte {at}: {length} bytes past the message's end")
        labels.append(message[at + 1:at + 1 + length].decode("ascii", errors="replace"))
        at += 1 + length


def parse_answers(message: bytes) -> tuple[str, list[str]]:
    """A DNS response's question name and the addresses of its A and AAAA records (in
    order); ``("", [])`` for a query, or a response with no single question (as BCC, which
    takes only those). Raises :class:`DnsError` for a message cut short or malformed."""
    if len(message) < _HEADER.size:
        raise DnsError(f"{len(message)} bytes: shorter than a DNS header")
    _, flags, questions, answers, _, _ = _HEADER.unpack_from(message)
    if not flags & 0x8000 or questions != 1:
        return "", []
    question, at = _name(message, _HEADER.size)
    at += 4                                                     # qtype, qclass
    addresses = []
    for index in range(answers):
        _, at = _name(message, at)
        if at + _ANSWER.size > len(message):
            raise DnsError(f"answer {index} at byte {at}: cut short")
        kind, _, _, length = _ANSWER.unpack_from(message, at)
        at += _ANSWER.size
        data = message[at:at + length]
        if len(data) < length:
            raise DnsError(f"answer {index}: {length} bytes of data past the message's end")
        if kind == _A and length == 4:
            addresses.append(str(ipaddress.IPv4Address(data)))
        elif kind == _AAAA and length == 16:
            addresses.append(str(ipaddress.IPv6Address(data)))
        at += length
    return question, addresses


class DnsNames:
    """Which name each address last answered, and when (CLOCK_MONOTONIC ns): the
    :data:`CACHE_SIZE` addresses answered last, for :data:`CACHE_SECONDS` each."""

    def __init__(self) -> None:
        self._names: OrderedDict[str, tuple[str, int]] = OrderedDict()

    def add_record(self, record: bytes) -> None:
        """A record of the ``dns`` ring buffer; messages that are no answer, or that are
        malformed, are passed over (they come from the network)."""
        ts, size, data = _RECORD.unpack_from(record)
        try:
            question, addresses = parse_answers(data[:size])
        except DnsError:
            return
        for address in addresses:
            self._names.pop(address, None)
            self._names[address] = (question, ts)
            if len(self._names) > CACHE_SIZE:
                self._names.popitem(last=False)

    def lookup(self, address: str, at: int | None = None) -> tuple[str, int] | None:
        """``(name, answered ts)`` for ``address`` as seen at ``at`` (ns, default now),
        or None."""
        found = self._names.get(address)
        now = time.monotonic_ns() if at is None else at
        if found is None or now - found[1] > CACHE_SECONDS * 1_000_000_000:
            return None
        return found
