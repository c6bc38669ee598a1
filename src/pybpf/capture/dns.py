"""DNS messages summarized as tcpdump prints them: ``4660+ A? example.com. (29)`` for a
query, ``4660 2/0/0 CNAME example.com., A 1.2.3.4 (74)`` for a response."""

from __future__ import annotations

from pybpf.capture._fields import Truncated, ip4, ip6, unpack

TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA", 33: "SRV",
         41: "OPT", 43: "DS", 46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 64: "SVCB", 65: "HTTPS", 255: "ANY"}
RCODES = {1: " FormErr", 2: " ServFail", 3: " NXDomain", 4: " NotImp", 5: " Refused", 6: " YXDomain",
          7: " YXRRSet", 8: " NXRRSet", 9: " NotAuth", 10: " NotZone"}
OPCODES = {0: "", 1: " inv_q", 2: " stat", 4: " notify", 5: " update"}
_MAX_POINTERS = 64      # a compression loop must not hang the summary


def type_name(rtype: int) -> str:
    return TYPES.get(rtype, f"Type{rtype}")


def name(message: bytes, offset: int) -> tuple[str, int]:
    """The (possibly compressed) domain name at ``offset`` and the offset after it."""
    labels: list[str] = []
    end = None
    for _ in range(_MAX_POINTERS):
        (length,) = unpack("B", message, offset)
        if length & 0xC0 == 0xC0:
            (pointer,) = unpack("H", message, offset)
            end = offset + 2 if end is None else end
            offset = pointer & 0x3FFF
            continue
        if length == 0:
            return ".".join(labels) + "." if labels else ".", offset + 1 if end is None else end
        label = message[offset + 1:offset + 1 + length]
        if len(label) < length:
            raise Truncated
        labels.append(label.decode("ascii", "backslashreplace"))
        offset += 1 + length
    raise Truncated


def _record(message: bytes, offset: int) -> tuple[str, int]:
    """One resource record as tcpdump prints it in a response, and the offset after it."""
    _owner, offset = name(message, offset)
    rtype, _rclass, _ttl, rdlength = unpack("HHIH", message, offset)
    rdata_at, end = offset + 10, offset + 10 + rdlength
    if end > len(message):
        raise Truncated
    text = type_name(rtype)
    if rtype == 1 and rdlength == 4:
        text += " " + ip4(message[rdata_at:end])
    elif rtype == 28 and rdlength == 16:
        text += " " + ip6(message[rdata_at:end])
    elif rtype in (2, 5, 12):
        text += " " + name(message, rdata_at)[0]
    elif rtype == 15:
        (preference,) = unpack("H", message, rdata_at)
        text += f" {name(message, rdata_at + 2)[0]} {preference}"
    return text, end


def summarize_dns(message: bytes, length: int) -> str:
    """The summary of a DNS message of ``length`` bytes (``message`` may be shorter,
    if the capture cut it)."""
    try:
        ident, flags, qd, an, ns, ar = unpack("HHHHHH", message)
    except Truncated:
        return "[|domain]"
    opcode, rcode = flags >> 11 & 0xF, flags & 0xF
    out = [str(ident), OPCODES.get(opcode, f" op{opcode}")]
    try:
        if flags & 0x8000:                      # response
            out += [RCODES.get(rcode, f" Resp{rcode}" if rcode else ""), "*" if flags & 0x0400 else "",
                    "" if flags & 0x0080 else "-", "|" if flags & 0x0200 else "", "$" if flags & 0x0020 else ""]
            if qd != 1:
                out.append(f" [{qd}q]")
            out.append(f" {an}/{ns}/{ar}")
            offset = 12
            for _ in range(qd):
                offset = name(message, offset)[1] + 4
            answers = []
            for _ in range(an):
                text, offset = _record(message, offset)
                answers.append(text)
            if answers:
                out.append(" " + ", ".join(answers))
        else:                                   # query
            out += ["+" if flags & 0x0100 else "", "$" if flags & 0x0020 else "", "%" if flags & 0x0010 else ""]
            if qd != 1:
                out.append(f" [{qd}q]")
            out += [f" [{count}{tag}]" for count, tag in ((an, "a"), (ns, "n"), (ar, "au")) if count]
            offset = 12
            for _ in range(qd):
                qname, offset = name(message, offset)
                qtype, _qclass = unpack("HH", message, offset)
                offset += 4
                out.append(f" {type_name(qtype)}? {qname}")
    except Truncated:
        out.append(" [|domain]")
    return "".join(out) + f" ({length})"
