/* pybpf's BPF program header: section and map macros, every helper of the kernel (from
 * <pybpf/bpf_helpers.h>), and the types a program needs, without kernel headers. Include
 * <vmlinux.h> first to use the kernel's own types; this header then leaves them alone.
 * CO-RE reads (BPF_CORE_READ and friends) come from <pybpf/bpf_core.h>, included at the end. */
#ifndef __PYBPF_BPF_H__
#define __PYBPF_BPF_H__

#ifndef __VMLINUX_H__
typedef unsigned char __u8;
typedef signed char __s8;
typedef unsigned short __u16;
typedef short __s16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;
typedef __u8 u8;
typedef __s8 s8;
typedef __u16 u16;
typedef __s16 s16;
typedef __u32 u32;
typedef __s32 s32;
typedef __u64 u64;
typedef __s64 s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef _Bool bool;
#define true 1
#define false 0

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

/* the x86-64 register frame a kprobe/uprobe/USDT program receives */
struct pt_regs {
    unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};
struct xdp_md { __u32 data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };
struct __sk_buff {
    __u32 len, pkt_type, mark, queue_mapping, protocol, vlan_present, vlan_tci, vlan_proto, priority;
    __u32 ingress_ifindex, ifindex, tc_index, cb[5], hash, tc_classid, data, data_end, napi_id;
};
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

#define bpf_printk(fmt, ...) ({ static const char ____fmt[] = fmt; \
    bpf_trace_printk(____fmt, sizeof(____fmt), ##__VA_ARGS__); })

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
