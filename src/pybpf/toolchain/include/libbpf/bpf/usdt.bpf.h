/* <bpf/usdt.bpf.h> for programs written against libbpf: USDT arguments read through
 * the API libbpf defines (bpf_usdt_arg_cnt, bpf_usdt_arg, bpf_usdt_cookie, BPF_USDT).
 *
 * Where a probe site keeps its arguments (a constant, a register, memory at a register
 * plus a displacement, or base + index * scale + displacement) is known only when the
 * program is attached: pybpf's attach (pybpf.usdt.specs) then writes one spec per site
 * into __bpf_usdt_specs and gives the site's spec id as the attach cookie, which these
 * functions read back. The spec layout is pybpf's own (it also carries the SIB form),
 * written by the same package that reads it here. */
#ifndef __PYBPF_LIBBPF_USDT_BPF_H__
#define __PYBPF_LIBBPF_USDT_BPF_H__

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#ifndef BPF_USDT_MAX_SPEC_CNT
#define BPF_USDT_MAX_SPEC_CNT 256
#endif
#ifndef BPF_USDT_MAX_ARG_CNT
#define BPF_USDT_MAX_ARG_CNT 12
#endif

enum __bpf_usdt_arg_type {
    BPF_USDT_ARG_CONST,
    BPF_USDT_ARG_REG,
    BPF_USDT_ARG_REG_DEREF,
    BPF_USDT_ARG_SIB,
};

struct __bpf_usdt_arg_spec {
    __u64 val_off;          /* the constant, or the displacement added to the address */
    __u32 arg_type;         /* enum __bpf_usdt_arg_type */
    __s16 reg_off;          /* struct pt_regs offset of the (base) register */
    __s16 idx_reg_off;      /* SIB: of the index register */
    __u8 scale_shift;       /* SIB: log2 of the scale */
    __u8 arg_signed;
    __u8 arg_bitshift;      /* 64 - 8 * size: narrows the 64 bits read to the argument */
    __u8 __pad;
};

struct __bpf_usdt_spec {
    struct __bpf_usdt_arg_spec args[BPF_USDT_MAX_ARG_CNT];
    __u64 usdt_cookie;
    __s16 arg_cnt;
};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, BPF_USDT_MAX_SPEC_CNT);
    __type(key, int);
    __type(value, struct __bpf_usdt_spec);
} __bpf_usdt_specs SEC(".maps");

static __always_inline struct __bpf_usdt_spec *__pybpf_usdt_spec(struct pt_regs *ctx)
{
    int id = (int)bpf_get_attach_cookie(ctx);

    return bpf_map_lookup_elem(&__bpf_usdt_specs, &id);
}

/* the number of arguments of the probe site that fired, or -ESRCH (-3) */
static __always_inline int bpf_usdt_arg_cnt(struct pt_regs *ctx)
{
    struct __bpf_usdt_spec *spec = __pybpf_usdt_spec(ctx);

    return spec ? spec->arg_cnt : -3;
}

/* argument `arg_num` (from 0) into *res; 0, or -ENOENT (-2) past the last argument,
 * -ESRCH (-3) without a spec, or the failed read's error */
static __always_inline int bpf_usdt_arg(struct pt_regs *ctx, __u64 arg_num, long *res)
{
    struct __bpf_usdt_spec *spec = __pybpf_usdt_spec(ctx);
    struct __bpf_usdt_arg_spec *arg;
    unsigned long val = 0, idx = 0;
    long err = 0;

    *res = 0;
    if (!spec)
        return -3;
    if (arg_num >= BPF_USDT_MAX_ARG_CNT || arg_num >= (__u64)spec->arg_cnt)
        return -2;
    arg = &spec->args[arg_num];
    switch (arg->arg_type) {
    case BPF_USDT_ARG_CONST:
        val = arg->val_off;
        break;
    case BPF_USDT_ARG_REG:
        err = bpf_probe_read_kernel(&val, sizeof(val), (void *)ctx + arg->reg_off);
        break;
    case BPF_USDT_ARG_REG_DEREF:
        err = bpf_probe_read_kernel(&val, sizeof(val), (void *)ctx + arg->reg_off);
        if (!err)
            err = bpf_probe_read_user(&val, sizeof(val), (void *)(val + arg->val_off));
        break;
    case BPF_USDT_ARG_SIB:
        err = bpf_probe_read_kernel(&val, sizeof(val), (void *)ctx + arg->reg_off);
        if (!err)
            err = bpf_probe_read_kernel(&idx, sizeof(idx), (void *)ctx + arg->idx_reg_off);
        if (!err)
            err = bpf_probe_read_user(&val, sizeof(val),
                                      (void *)(val + (idx << (arg->scale_shift & 3)) + arg->val_off));
        break;
    default:
        return -22;
    }
    if (err)
        return err;
    val <<= arg->arg_bitshift & 63;
    *res = arg->arg_signed ? (long)val >> (arg->arg_bitshift & 63) : (long)(val >> (arg->arg_bitshift & 63));
    return 0;
}

/* the cookie given when the program was attached (0 unless one was) */
static __always_inline long bpf_usdt_cookie(struct pt_regs *ctx)
{
    struct __bpf_usdt_spec *spec = __pybpf_usdt_spec(ctx);

    return spec ? spec->usdt_cookie : 0;
}

static __always_inline long ___pybpf_usdt_arg(struct pt_regs *ctx, __u64 n)
{
    long value;

    bpf_usdt_arg(ctx, n, &value);
    return value;
}

#define ___pybpf_usdt_0() ctx
#define ___pybpf_usdt_1(x) ___pybpf_usdt_0(), (void *)___pybpf_usdt_arg(ctx, 0)
#define ___pybpf_usdt_2(x, ...) ___pybpf_usdt_1(__VA_ARGS__), (void *)___pybpf_usdt_arg(ctx, 1)
#define ___pybpf_usdt_3(x, ...) ___pybpf_usdt_2(__VA_ARGS__), (void *)___pybpf_usdt_arg(ctx, 2)
#define ___pybpf_usdt_4(x, ...) ___pybpf_usdt_3(__VA_ARGS__), (void *)___pybpf_usdt_arg(ctx, 3)
#define ___pybpf_usdt_5(x, ...) ___pybpf_usdt_4(__VA_ARGS__), (void *)___pybpf_usdt_arg(ctx, 4)
#define ___pybpf_usdt_6(x, ...) ___pybpf_usdt_5(__VA_ARGS__), (void *)___pybpf_usdt_arg(ctx, 5)
#define ___pybpf_usdt_7(x, ...) ___pybpf_usdt_6(__VA_ARGS__), (void *)___pybpf_usdt_arg(ctx, 6)
#define ___pybpf_usdt_8(x, ...) ___pybpf_usdt_7(__VA_ARGS__), (void *)___pybpf_usdt_arg(ctx, 7)
#define ___pybpf_usdt_9(x, ...) ___pybpf_usdt_8(__VA_ARGS__), (void *)___pybpf_usdt_arg(ctx, 8)

/* int BPF_USDT(name, type1 a, type2 b, ...) { body }: the program, with the probe's
 * arguments converted to the declared types */
#define BPF_USDT(name, ...) ___pybpf_typed(name, struct pt_regs *, , ___pybpf_usdt_, ##__VA_ARGS__)

#endif /* __PYBPF_LIBBPF_USDT_BPF_H__ */
