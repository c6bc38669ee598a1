"""BCC's packet-cursor dialect: packet headers as structs over packet offsets.

BCC networking programs (examples/networking/http_filter, tc_neighbor_sharing) walk a
packet with a cursor that starts at 0 (``u8 *cursor = 0``), take each header with
``struct ip_t *ip = cursor_advance(cursor, sizeof(*ip))`` and read ``ip->nextp`` or
write ``ip->ttl = 64``. The structs (``ethernet_t``, ``ip_t``, ``tcp_t``... from BCC's
``bcc/proto.h``, or the program's own) are marked ``BPF_PACKET_HEADER``: packed, their
bitfields laid out in network order. The pointer is an offset into the packet, never
dereferenced: BCC's rewriter turns each member read into ``bpf_dext_pkt(skb, (u64)ip +
byte, bit, bits)`` — a ``load_byte/half/word`` (the legacy packet loads, which return
the big-endian bytes as a number) shifted and masked to the member's bits — and each
assignment into ``bpf_dins_pkt(skb, ..., value)``, which stores the bytes back with
``bpf_skb_store_bytes``. ``skb`` is the enclosing function's first parameter.

The member's place is its bit offset in the packed struct: members follow each other
bit by bit (a bitfield right after the previous one, any other member at the next byte),
and within the bytes loaded the first bit is the most significant, so ``ver:4`` then
``hlen:4`` are the high and low nibbles of the IPv4 header's first byte, as on the wire.
"""

from __future__ import annotations

from pybpf.bcc.tokens import BccSyntaxError, Token, matching, split_arguments, tokenize, where

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

#: the headers of BCC's bcc/proto.h (field names as BCC's; layouts of the protocols)
PROTO_HEADERS = {
    "ethernet_t": "unsigned long long dst:48; unsigned long long src:48; unsigned int type:16;",
    "dot1q_t": "unsigned short pri:3; unsigned short cfi:1; unsigned short vlanid:12; unsigned short type;",
    "arp_t": "unsigned short htype; unsigned short ptype; unsigned char hlen; unsigned char plen; "
             "unsigned short oper; unsigned long long sha:48; unsigned long long spa:32; "
             "unsigned long long tha:48; unsigned int tpa;",
    "ip_t": "unsigned char ver:4; unsigned char hlen:4; unsigned char tos; unsigned short tlen; "
            "unsigned short identification; unsigned short ffo_unused:1; unsigned short df:1; "
            "unsigned short mf:1; unsigned short foffset:13; unsigned char ttl; unsigned char nextp; "
            "unsigned short hchecksum; unsigned int src; unsigned int dst;",
    "icmp_t": "unsigned char type; unsigned char code; unsigned short checksum;",
    "ip6_t": "unsigned int ver:4; unsigned int priority:8; unsigned int flow_label:20; "
             "unsigned short payload_len; unsigned char next_header; unsigned char hop_limit; "
             "unsigned long long src_hi; unsigned long long src_lo; unsigned long long dst_hi; "
             "unsigned long long dst_lo;",
    "ip6_opt_t": "unsigned char next_header; unsigned char ext_len; unsigned char pad[6];",
    "icmp6_t": "unsigned char type; unsigned char code; unsigned short checksum;",
    "udp_t": "unsigned short sport; unsigned short dport; unsigned short length; unsigned short crc;",
    "tcp_t": "unsigned short src_port; unsigned short dst_port; unsigned int seq_num; unsigned int ack_num; "
             "unsigned char offset:4; unsigned char reserved:4; unsigned char flag_cwr:1; "
             "unsigned char flag_ece:1; unsigned char flag_urg:1; unsigned char flag_ack:1; "
             "unsigned char flag_psh:1; unsigned char flag_rst:1; unsigned char flag_syn:1; "
             "unsigned char flag_fin:1; unsigned short rcv_wnd; unsigned short cksum; unsigned short urg_ptr;",
    "vxlan_t": "unsigned int rsv1:4; unsigned int iflag:1; unsigned int rsv2:3; unsigned int rsv3:24; "
               "unsigned int key:24; unsigned int rsv4:8;",
    "vxlan_gbp_t": "unsigned int gflag:1; unsigned int rsv1:3; unsigned int iflag:1; unsigned int rsv2:3; "
                   "unsigned int rsv3:1; unsigned int dflag:1; unsigned int rsv4:1; unsigned int aflag:1; "
                   "unsigned int rsv5:3; unsigned int tag:16; unsigned int key:24; unsigned int rsv6:8;",
}

#: C for the prelude: the marker, the cursor, and the packet loads and stores
PACKET_C = r"""
#define BPF_PACKET_HEADER __attribute__((packed))
#define cursor_advance(_cursor, _len) ({ void *__bcc_at = (_cursor); (_cursor) += (_len); __bcc_at; })
#define __BCC_MASK(n) ((n) < 64 ? (1ULL << (n)) - 1 : ~0ULL)
/* the big-endian value of the 1, 2, 4 or 8 bytes at packet offset off */
static __always_inline unsigned long long __bcc_pkt_load(void *skb, unsigned long long off, unsigned int width)
{
    if (width == 8) return load_byte(skb, off);
    if (width == 16) return load_half(skb, off);
    if (width == 32) return load_word(skb, off);
    return (load_word(skb, off) << 32) | load_word(skb, off + 4);
}
static __always_inline unsigned int __bcc_pkt_width(unsigned long long bofs, unsigned long long bsz)
{
    return bofs + bsz <= 8 ? 8 : bofs + bsz <= 16 ? 16 : bofs + bsz <= 32 ? 32 : 64;
}
/* bits [bofs, bofs + bsz) of the bytes at off, the first bit the most significant */
static __always_inline unsigned long long bpf_dext_pkt(void *skb, unsigned long long off, unsigned long long bofs,
                                                       unsigned long long bsz)
{
    unsigned int width = __bcc_pkt_width(bofs, bsz);
    return (__bcc_pkt_load(skb, off, width) >> (width - bofs - bsz)) & __BCC_MASK(bsz);
}
static __always_inline void bpf_dins_pkt(void *skb, unsigned long long off, unsigned long long bofs,
                                         unsigned long long bsz, unsigned long long val)
{
    unsigned int width = __bcc_pkt_width(bofs, bsz), shift = width - bofs - bsz;
    unsigned long long v = width == bsz ? 0 : __bcc_pkt_load(skb, off, width);
    v = (v & ~(__BCC_MASK(bsz) << shift)) | ((val & __BCC_MASK(bsz)) << shift);
    unsigned char bytes[8];
    for (unsigned int i = 0; i < width / 8; i++)
        bytes[i] = v >> (width - 8 - 8 * i);
    bpf_skb_store_bytes(skb, off, bytes, width / 8, 0);
}
"""

_WIDTHS = {"char": 8, "short": 16, "int": 32, "long": 64, "u8": 8, "u16": 16, "u32": 32, "u64": 64,
           "__u8": 8, "__u16": 16, "__u32": 32, "__u64": 64, "s8": 8, "s16": 16, "s32": 32, "s64": 64,
           "uint8_t": 8, "uint16_t": 16, "uint32_t": 32, "uint64_t": 64, "__be16": 16, "__be32": 32,
           "__be64": 64, "u_int8_t": 8, "u_int16_t": 16, "u_int32_t": 32}


@dataclass(frozen=True)
class Member:
    """A member of a packet header: its first byte, first bit there, and bits."""

    byte: int
    bit: int
    bits: int


def layout(struct: str, body: str) -> dict[str, Member]:
    """The members of packet header ``struct`` declared by ``body`` (``type name[:bits];``
    ...), placed as a packed struct: a bitfield right after the previous member's last
    bit, any other member at the next byte."""
    members: dict[str, Member] = {}
    at = 0
    for declaration in (d.strip() for d in body.split(";")):
        if not declaration:
            continue
        words = declaration.replace("*", " * ").split()
        base = [w for w in words if w in _WIDTHS]
        width = 64 if words.count("long") >= 2 else _WIDTHS[base[-1]] if base else 32 if "unsigned" in words \
            or "signed" in words else 0
        for declarator in " ".join(w for w in words if w not in _WIDTHS and w not in _QUALIFIERS).split(","):
            name, _, bits_text = declarator.partition(":")
            name = name.strip()
            count = 1
            if "[" in name:
                name, _, size = name.partition("[")
                count = int(size.rstrip("] "), 0)
                name = name.strip()
            if not width or "*" in declarator or not name.isidentifier():
                raise BccSyntaxError(f"packet header struct {struct}: cannot lay out member {declaration!r}")
            if bits_text.strip():
                bits = int(bits_text.strip(), 0)
            else:
                at = (at + 7) // 8 * 8
                bits = width * count
            members[name] = Member(at // 8, at % 8, bits)
            at += bits
    return members


_QUALIFIERS = {"unsigned", "signed", "const", "volatile"}


def packet_structs(text: str) -> dict[str, dict[str, Member]]:
    """Packet header structs: proto.h's that ``text`` names and does not define itself,
    and those ``text`` defines with ``BPF_PACKET_HEADER`` (name → member layout)."""
    tokens = tokenize(text)
    found: dict[str, dict[str, Member]] = {}
    defined: set[str] = set()
    for i, tok in enumerate(tokens[:-2]):
        if tok.text != "struct" or tokens[i + 1].kind != "id" or tokens[i + 2].text != "{":
            continue
        name = tokens[i + 1].text
        defined.add(name)
        close = matching(tokens, i + 2, text)
        after = []
        for t in tokens[close + 1:]:
            if t.text == ";":
                break
            after.append(t.text)
        if "BPF_PACKET_HEADER" in after or ("deprecated" in after and '"packet"' in after):
            found[name] = layout(name, text[tokens[i + 2].end:tokens[close].start])
    used = {tokens[i + 1].text for i, t in enumerate(tokens[:-1]) if t.text == "struct"}
    for name in (used & PROTO_HEADERS.keys()) - defined:
        found[name] = layout(name, PROTO_HEADERS[name])
    return found


def proto_definitions(structs: dict[str, dict[str, Member]], text: str) -> str:
    """C definitions of the proto.h headers among ``structs`` that ``text`` does not
    define, for the program's text."""
    defined = {tokens[i + 1].text for tokens in [tokenize(text)] for i, t in enumerate(tokens[:-2])
               if t.text == "struct" and tokens[i + 2].text == "{"}
    return "".join(f"struct {name} {{ {PROTO_HEADERS[name]} }} BPF_PACKET_HEADER;\n"
                   for name in sorted(structs) if name in PROTO_HEADERS and name not in defined)


def rewrite_packet_accesses(text: str) -> str:
    """``text`` with proto.h's headers it uses defined, and every member read or write
    through a pointer to a packet header rewritten into a packet load or store."""
    structs = packet_structs(text)
    if not structs:
        return text
    definitions = proto_definitions(structs, text)
    if definitions:   # the program's lines keep their numbers
        text = definitions + '# 1 "bcc-program"\n' + text
    tokens = tokenize(text)
    out: list[str] = []
    pos = 0
    for lo, hi, skb in _functions(tokens, text):
        variables = {tokens[j + 3].text: structs[tokens[j + 1].text] for j in range(lo, hi - 3)
                     if tokens[j].text == "struct" and tokens[j + 1].text in structs
                     and tokens[j + 2].text == "*" and tokens[j + 3].kind == "id"}
        if not variables:
            continue
        out.append(text[pos:tokens[lo].start])
        out.append(_rewrite(text, tokens, lo, hi, variables, skb))
        pos = tokens[hi - 1].end
    out.append(text[pos:])
    return "".join(out)


def _functions(tokens: list[Token], text: str) -> list[tuple[int, int, str]]:
    """(first token, last token + 1, first parameter's name) of each function definition."""
    found = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.text in ("{", "(", "["):
            close = matching(tokens, i, text)
            if tok.text == "(" and i and tokens[i - 1].kind == "id" and close + 1 < len(tokens) \
                    and tokens[close + 1].text == "{":
                params = split_arguments(tokens, i, close)
                first = [t.text for t in tokens[params[0][0]:params[0][1]] if t.kind == "id"] if params else []
                body_close = matching(tokens, close + 1, text)
                found.append((i, body_close + 1, first[-1] if first and first != ["void"] else ""))
                i = body_close + 1
                continue
            i = close + 1
            continue
        i += 1
    return found


_ASSIGNMENTS = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="}


def _rewrite(text: str, tokens: list[Token], lo: int, hi: int, variables: dict[str, dict[str, Member]],
             skb: str) -> str:
    """The text of tokens ``lo``..``hi`` with packet member accesses rewritten."""
    out: list[str] = []
    pos = tokens[lo].start
    i = lo
    while i < hi:
        tok = tokens[i]
        members = variables.get(tok.text) if tok.kind == "id" else None
        if members is None or i + 2 >= hi or tokens[i + 1].text != "->" or (i and tokens[i - 1].text in (".", "->")):
            i += 1
            continue
        field = tokens[i + 2].text
        member = members.get(field)
        place = where(text, tok.start)
        if member is None:
            raise BccSyntaxError(f"{place}: packet header {tok.text} has no member {field!r}")
        if not skb:
            raise BccSyntaxError(f"{place}: {tok.text}->{field}: a packet header is read through the function's "
                                 "first parameter (the packet), and this function has none")
        after = tokens[i + 3].text if i + 3 < hi else ""
        before = tokens[i - 1].text if i else ""
        if after in ("++", "--", "[", ".") or before in ("&", "++", "--"):
            raise BccSyntaxError(f"{place}: {tok.text}->{field}: a packet header member can only be read or "
                                 "assigned (it is a place in the packet, not memory)")
        where_args = f"{skb}, (u64){tok.text} + {member.byte}, {member.bit}, {member.bits}"
        read = f"bpf_dext_pkt({where_args})"
        out.append(text[pos:tok.start])
        if after in _ASSIGNMENTS:
            end = _expression_end(tokens, i + 4, hi)
            value = _rewrite(text, tokens, i + 4, end, variables, skb) if end > i + 4 else ""
            if after != "=":
                value = f"{read} {after[:-1]} ({value})"
            out.append(f"bpf_dins_pkt({where_args}, {value})")
            pos = tokens[end - 1].end
            i = end
        else:
            out.append(read)
            pos = tokens[i + 2].end
            i += 3
    out.append(text[pos:tokens[hi - 1].end] if pos < tokens[hi - 1].end else "")
    return "".join(out)


def _expression_end(tokens: list[Token], start: int, hi: int) -> int:
    """Index after the last token of the assigned value starting at ``start``: up to a
    ``;``, ``,`` or unmatched closing bracket at its own depth."""
    depth = 0
    for j in range(start, hi):
        t = tokens[j].text
        if t in ("(", "[", "{"):
            depth += 1
        elif t in (")", "]", "}"):
            if depth == 0:
                return j
            depth -= 1
        elif t in (";", ",") and depth == 0:
            return j
    return hi
