/* pybpf's BPF program header: section and map macros, every helper of the kernel (from
 * <pybpf/bpf_helpers.h>), and the types a program needs, without kernel headers. Include
 * <vmlinux.h> (the kernel's own types) or the uapi <linux/bpf.h> first to use those types;
 * this header then leaves them alone.
 * CO-RE reads (BPF_CORE_READ and friends) come from <pybpf/bpf_core.h>, included at the end. */
#ifndef __PYBPF_BPF_H__
#define __PYBPF_BPF_H__

#ifndef __VMLINUX_H__
#ifndef __LINUX_BPF_H__
/* neither <vmlinux.h> nor the uapi <linux/bpf.h> (bundled with the compiler; libbpf-style
 * programs include it first): the few kernel types and constants a program needs */
typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;

enum pybpf_map_type {
    BPF_MAP_TYPE_HASH = 1, BPF_MAP_TYPE_ARRAY = 2, BPF_MAP_TYPE_PROG_ARRAY = 3,
    BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4, BPF_MAP_TYPE_PERCPU_HASH = 5, BPF_MAP_TYPE_PERCPU_ARRAY = 6,
    BPF_MAP_TYPE_STACK_TRACE = 7, BPF_MAP_TYPE_LRU_HASH = 9, BPF_MAP_TYPE_LRU_PERCPU_HASH = 10,
    BPF_MAP_TYPE_LPM_TRIE = 11, BPF_MAP_TYPE_ARRAY_OF_MAPS = 12, BPF_MAP_TYPE_HASH_OF_MAPS = 13,
    BPF_MAP_TYPE_QUEUE = 22, BPF_MAP_TYPE_STACK = 23, BPF_MAP_TYPE_RINGBUF = 27, BPF_MAP_TYPE_BLOOM_FILTER = 30,
};
enum pybpf_flags {
    BPF_ANY = 0, BPF_NOEXIST = 1, BPF_EXIST = 2,
    BPF_F_NO_PREALLOC = 1, BPF_F_MMAPABLE = 1 << 10,
};
#define BPF_F_CURRENT_CPU 0xffffffffULL
#define BPF_F_USER_STACK (1ULL << 8)
enum xdp_action { XDP_ABORTED = 0, XDP_DROP, XDP_PASS, XDP_TX, XDP_REDIRECT };
struct xdp_md { __u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };
struct __sk_buff {
    __u32 len, pkt_type, mark, queue_mapping, protocol, vlan_present, vlan_tci, vlan_proto, priority;
    __u32 ingress_ifindex, ifindex, tc_index, cb[5], hash, tc_classid, data, data_end, napi_id;
};
#endif /* __LINUX_BPF_H__ */

/* the kernel's short type names (vmlinux.h has them; the uapi headers do not) */
typedef __u8 u8;
typedef __s8 s8;
typedef __u16 u16;
typedef __s16 s16;
typedef __u32 u32;
typedef __s32 s32;
typedef __u64 u64;
typedef __s64 s64;
#ifndef __bool_true_false_are_defined
typedef _Bool bool;
#define true 1
#define false 0
#endif

#ifndef _ASM_X86_PTRACE_H
/* the x86-64 register frame a kprobe/uprobe/USDT program receives, with the kernel's
 * field names (the uapi <asm/ptrace.h> spells them rdi, rsi, ... and is left alone) */
struct pt_regs {
    unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};
#endif
#endif /* __VMLINUX_H__ */

#ifndef NULL
#define NULL ((void *)0)
#endif

#define SEC(name) __attribute__((section(name), used))
#define __always_inline inline __attribute__((always_inline))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
#define LICENSE(text) char _license[] SEC("license") = text

/* every helper of the kernel, by its id, with the kernel's prototype */
#include <pybpf/bpf_helpers.h>

/* bpf_printk(fmt, ...): bpf_trace_printk takes at most three arguments; with more, the
 * arguments go in an array to bpf_trace_vprintk (kernel 5.16 and later) */
#define ___pybpf_printk_short(fmt, ...) bpf_trace_printk(fmt, sizeof(fmt), ##__VA_ARGS__)
#define ___pybpf_fill1(a, i, x) a[i] = (unsigned long long)(x)
#define ___pybpf_fill2(a, i, x, ...) a[i] = (unsigned long long)(x); ___pybpf_fill1(a, i + 1, __VA_ARGS__)
#define ___pybpf_fill3(a, i, x, ...) a[i] = (unsigned long long)(x); ___pybpf_fill2(a, i + 1, __VA_ARGS__)
#define ___pybpf_fill4(a, i, x, ...) a[i] = (unsigned long long)(x); ___pybpf_fill3(a, i + 1, __VA_ARGS__)
#define ___pybpf_fill5(a, i, x, ...) a[i] = (unsigned long long)(x); ___pybpf_fill4(a, i + 1, __VA_ARGS__)
#define ___pybpf_fill6(a, i, x, ...) a[i] = (unsigned long long)(x); ___pybpf_fill5(a, i + 1, __VA_ARGS__)
#define ___pybpf_fill7(a, i, x, ...) a[i] = (unsigned long long)(x); ___pybpf_fill6(a, i + 1, __VA_ARGS__)
#define ___pybpf_fill8(a, i, x, ...) a[i] = (unsigned long long)(x); ___pybpf_fill7(a, i + 1, __VA_ARGS__)
#define ___pybpf_fill9(a, i, x, ...) a[i] = (unsigned long long)(x); ___pybpf_fill8(a, i + 1, __VA_ARGS__)
#define ___pybpf_printk_long(fmt, ...) ({ unsigned long long ___pybpf_args[___pybpf_count(__VA_ARGS__)]; \
    ___pybpf_cat(___pybpf_fill, ___pybpf_count(__VA_ARGS__))(___pybpf_args, 0, __VA_ARGS__); \
    bpf_trace_vprintk(fmt, sizeof(fmt), ___pybpf_args, sizeof(___pybpf_args)); })
#define ___pybpf_printk0 ___pybpf_printk_short
#define ___pybpf_printk1 ___pybpf_printk_short
#define ___pybpf_printk2 ___pybpf_printk_short
#define ___pybpf_printk3 ___pybpf_printk_short
#define ___pybpf_printk4 ___pybpf_printk_long
#define ___pybpf_printk5 ___pybpf_printk_long
#define ___pybpf_printk6 ___pybpf_printk_long
#define ___pybpf_printk7 ___pybpf_printk_long
#define ___pybpf_printk8 ___pybpf_printk_long
#define ___pybpf_printk9 ___pybpf_printk_long
#define bpf_printk(fmt, ...) ({ static const char ____fmt[] = fmt; \
    ___pybpf_cat(___pybpf_printk, ___pybpf_count(__VA_ARGS__))(____fmt, ##__VA_ARGS__); })

/* function arguments of a kprobe/uprobe (x86-64 calling convention) */
#define PT_REGS_PARM1(x) ((x)->di)
#define PT_REGS_PARM2(x) ((x)->si)
#define PT_REGS_PARM3(x) ((x)->dx)
#define PT_REGS_PARM4(x) ((x)->cx)
#define PT_REGS_PARM5(x) ((x)->r8)
#define PT_REGS_PARM6(x) ((x)->r9)
#define PT_REGS_RC(x) ((x)->ax)
#define PT_REGS_IP(x) ((x)->ip)
#define PT_REGS_SP(x) ((x)->sp)

/* tracepoint records (struct trace_event_raw_* in vmlinux.h): a __data_loc field (a string
 * or dynamic array) is a u32 holding length << 16 | offset from the record's start */
#define TP_DATA_LOC(ctx, field) ((void *)((char *)(ctx) + ((ctx)->__data_loc_##field & 0xffff)))
#define TP_DATA_LOC_LEN(ctx, field) ((ctx)->__data_loc_##field >> 16)

#define bpf_htons(x) __builtin_bswap16(x)
#define bpf_ntohs(x) __builtin_bswap16(x)
#define bpf_htonl(x) __builtin_bswap32(x)
#define bpf_ntohl(x) __builtin_bswap32(x)

#include <pybpf/bpf_core.h>

#endif /* __PYBPF_BPF_H__ */
