"""The header every translated BCC program starts with: the kernel's types (vmlinux.h
from its BTF), pybpf's helpers, BCC's helper macros, the syscall tracepoint records the
kprobe-on-syscall entry points read, and a ``struct tracepoint__cat__event`` for each
tracepoint the program names, laid out from its tracefs format file.
"""

from __future__ import annotations

from pybpf.bcc.address_space import READERS_C
from pybpf.bcc.packet_headers import PACKET_C
from pybpf.bcc.tokens import BccSyntaxError
from pybpf.errors import PybpfError
from pybpf.tracefs import Field, Tracefs, TracefsError

PRELUDE = r"""
#include <vmlinux.h>
#include <pybpf/bpf.h>
/* 0 in every function; the inlined body of a probe function takes it as a parameter:
   1 when it runs on a sys_enter record, 2 on a sys_exit record (see pybpf.bcc.translate) */
enum { __bcc_sys = 0 };
struct bcc_syscall_enter { unsigned long long __common; long long id; unsigned long args[6]; };
struct bcc_syscall_exit { unsigned long long __common; long long id; long ret; };
#undef PT_REGS_PARM1
#undef PT_REGS_PARM2
#undef PT_REGS_PARM3
#undef PT_REGS_PARM4
#undef PT_REGS_PARM5
#undef PT_REGS_PARM6
#undef PT_REGS_RC
#define __BCC_ARG(x, n, reg) (__bcc_sys == 1 ? ((struct bcc_syscall_enter *)(x))->args[n] : (x)->reg)
#define PT_REGS_PARM1(x) __BCC_ARG(x, 0, di)
#define PT_REGS_PARM2(x) __BCC_ARG(x, 1, si)
#define PT_REGS_PARM3(x) __BCC_ARG(x, 2, dx)
#define PT_REGS_PARM4(x) (__bcc_sys == 1 ? ((struct bcc_syscall_enter *)(x))->args[3] : (x)->cx)
#define PT_REGS_PARM5(x) __BCC_ARG(x, 4, r8)
#define PT_REGS_PARM6(x) __BCC_ARG(x, 5, r9)
#define PT_REGS_RC(x) (__bcc_sys == 2 ? ((struct bcc_syscall_exit *)(x))->ret : (x)->ax)
#define PT_REGS_FP(x) ((x)->bp)
#define PT_REGS_PARM4_SYSCALL(x) PT_REGS_PARM4(x)
#define __user
#define __kernel
#define __force
#define __rcu
#define __percpu
/* constants BCC programs take from uapi headers */
#define O_RDONLY 00
#define O_WRONLY 01
#define O_RDWR 02
#define O_CREAT 0100
#define O_EXCL 0200
#define O_NOCTTY 0400
#define O_TRUNC 01000
#define O_APPEND 02000
#define O_NONBLOCK 04000
#define O_DIRECTORY 0200000
#define O_CLOEXEC 02000000
#define __O_TMPFILE 020000000
#define O_TMPFILE (__O_TMPFILE | O_DIRECTORY)
/* __data_loc fields of TRACEPOINT_PROBE's args, as BCC's helpers read them */
#define TP_DATA_LOC_READ_CONST(dst, field, length) \
    bpf_probe_read_kernel((void *)(dst), (length), (char *)args + (args->data_loc_##field & 0xFFFF))
#define TP_DATA_LOC_READ(dst, field) \
    bpf_probe_read_kernel((void *)(dst), (args->data_loc_##field >> 16), \
                          (char *)args + (args->data_loc_##field & 0xFFFF))
#define TP_DATA_LOC_READ_STR(dst, field, length) \
    bpf_probe_read_kernel_str((void *)(dst), (length), (char *)args + (args->data_loc_##field & 0xFFFF))
#define TASK_RUNNING 0
/* the x86-64 direct map's start without KASLR (profile.py tells kernel from user addresses with it) */
#define PAGE_OFFSET 0xffff888000000000ULL
#define NAME_MAX 255
#define PATH_MAX 4096
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif
/* byte order, as the kernel's headers give BCC programs */
#define ntohs(x) bpf_ntohs(x)
#define htons(x) bpf_htons(x)
#define ntohl(x) bpf_ntohl(x)
#define htonl(x) bpf_htonl(x)
#define be16_to_cpu(x) bpf_ntohs(x)
#define be32_to_cpu(x) bpf_ntohl(x)
#define be64_to_cpu(x) __builtin_bswap64(x)
#define FMODE_CREATED ((fmode_t)(1 << 20))
#define DISK_NAME_LEN 32
#define REQ_OP_BITS 8
#define REQ_OP_MASK ((1 << REQ_OP_BITS) - 1)
#define SCM_RIGHTS 1
#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_IPV6 0x86DD
#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif
#ifndef min
#define min(x, y) ({ typeof(x) __bcc_x = (x); typeof(y) __bcc_y = (y); __bcc_x < __bcc_y ? __bcc_x : __bcc_y; })
#endif
#ifndef max
#define max(x, y) ({ typeof(x) __bcc_x = (x); typeof(y) __bcc_y = (y); __bcc_x > __bcc_y ? __bcc_x : __bcc_y; })
#endif
/* BCC's packet loads for socket filters (the legacy LD_ABS instructions) */
unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void *skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void *skb, unsigned long long off) asm("llvm.bpf.load.word");
#define lock_xadd(ptr, val) ((void)__sync_fetch_and_add(ptr, val))
static __always_inline unsigned int bpf_log2(unsigned int v)
{
    unsigned int r, shift;
    r = (v > 0xFFFF) << 4; v >>= r;
    shift = (v > 0xFF) << 3; v >>= shift; r |= shift;
    shift = (v > 0xF) << 2; v >>= shift; r |= shift;
    shift = (v > 0x3) << 1; v >>= shift; r |= shift;
    r |= (v >> 1);
    return r;
}
static __always_inline unsigned int bpf_log2l(unsigned long v)
{
    unsigned int hi = v >> 32;
    if (hi)
        return bpf_log2(hi) + 32 + 1;
    else
        return bpf_log2(v) + 1;
}
LICENSE("GPL");
""" + READERS_C + PACKET_C

def kernel_constants(source: str) -> str:
    """``#define``s BCC programs take from the running kernel's headers whose values its
    BTF holds — ``DNAME_INLINE_LEN`` (the bytes of a dentry's inline name) — for those
    ``source`` uses (finding a type by name indexes the kernel's BTF: ~1 s, paid only then)."""
    from pybpf.btf import Kind
    from pybpf.kernel.btf_targets import vmlinux

    if "DNAME_INLINE_LEN" not in source:
        return ""
    try:
        btf = vmlinux()
    except PybpfError:
        return ""
    defines = []
    dentry = btf.find("dentry", Kind.STRUCT)
    inline = next((m for m in dentry.members if m.name in ("d_shortname", "d_iname")), None) if dentry else None
    if inline is not None:
        kind = btf[inline.type]
        size = kind.nelems if kind.kind == Kind.ARRAY else kind.size
        defines.append(f"#define DNAME_INLINE_LEN {size}\n")
    return "".join(defines)


#: the kernel's ``static inline`` helpers BCC programs call (they are in no BTF), written over
#: the BTF's struct fields; read with bpf_probe_read_kernel, so that the pointer may be to
#: kernel memory or to the program's own copy of the struct (netqtop passes ``&skb``)
_KERNEL_INLINES = {
    "skb_rx_queue_recorded": "static __always_inline bool skb_rx_queue_recorded(const struct sk_buff *skb)\n"
                             "{ __u16 q = 0; bpf_probe_read_kernel(&q, sizeof(q), &skb->queue_mapping); "
                             "return q != 0; }\n",
    "skb_get_rx_queue": "static __always_inline __u16 skb_get_rx_queue(const struct sk_buff *skb)\n"
                        "{ __u16 q = 0; bpf_probe_read_kernel(&q, sizeof(q), &skb->queue_mapping); "
                        "return q - 1; }\n",
}


def kernel_inlines(source: str) -> str:
    """The kernel inline helpers (:data:`_KERNEL_INLINES`) that ``source`` calls and does
    not define itself."""
    import re

    return "".join(body for name, body in _KERNEL_INLINES.items()
                   if re.search(rf"\b{name}\s*\(", source)
                   and not re.search(rf"\b{name}\s*\([^;{{)]*\)\s*\{{", source))


_C_WORDS = {"char", "short", "int", "long", "unsigned", "signed", "const", "void", "bool", "_Bool", "u8", "u16",
            "u32", "u64", "s8", "s16", "s32", "s64", "__u8", "__u16", "__u32", "__u64", "__s8", "__s16", "__s32",
            "__s64", "pid_t", "uid_t", "gid_t", "size_t", "loff_t", "umode_t", "dev_t", "*", "__user"}


def tracepoint_struct(category: str, event: str, tracefs: Tracefs | None = None) -> str:
    """``struct tracepoint__category__event`` with the record's fields at their offsets."""
    try:
        fmt = (tracefs or Tracefs()).format(f"{category}:{event}")
    except TracefsError as exc:
        raise BccSyntaxError(f"tracepoint {category}:{event}: {exc}") from None
    lines, offset = [], 0
    for f in sorted(fmt.fields, key=lambda f: f.offset):
        if f.offset < offset:
            continue
        if f.offset > offset:
            lines.append(f"    char __pad_{offset}[{f.offset - offset}];")
        lines.append(f"    {_declaration(f)};")
        offset = f.offset + f.size
    body = "\n".join(lines)
    return f"struct tracepoint__{category}__{event} {{\n{body}\n}};\n"


def _declaration(f: Field) -> str:
    if f.dynamic:
        return f"int data_loc_{f.name}"  # BCC's name for a dynamic field's locator
    words = f.type.replace("*", " * ").split()
    if words and set(words) <= _C_WORDS:
        ctype = " ".join(w for w in words if w != "__user")
    elif "*" in words:
        ctype = "const void *"
    else:
        ctype = f"{'' if f.signed else 'unsigned '}{_INT.get(f.element_size, 'char')}"
        if f.element_size not in _INT:
            return f"char {f.name}[{f.size}]"
    if f.array_len:
        return f"{ctype} {f.name}[{f.array_len}]"
    return f"{ctype} {f.name}"


_INT = {1: "char", 2: "short", 4: "int", 8: "long long"}
