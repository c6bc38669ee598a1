/* <bpf/bpf_tracing.h> for programs written against libbpf (x86-64): the PT_REGS_* accessors
 * (from <pybpf/bpf.h>) and their CO-RE and syscall forms, and the macros that give a
 * program typed arguments — BPF_PROG (tp_btf, raw_tp, fentry: the context is an array of
 * u64), BPF_KPROBE/BPF_UPROBE and their return forms (the context is struct pt_regs), and
 * BPF_KSYSCALL (a kprobe on a syscall wrapper, whose first argument is the caller's
 * registers). Up to nine arguments (six from registers for the probe forms). */
#ifndef __PYBPF_LIBBPF_BPF_TRACING_H__
#define __PYBPF_LIBBPF_BPF_TRACING_H__

#include <bpf/bpf_helpers.h>

#define PT_REGS_FP(x) ((x)->bp)
#define PT_REGS_PARM1_CORE(x) BPF_CORE_READ((struct pt_regs *)(x), di)
#define PT_REGS_PARM2_CORE(x) BPF_CORE_READ((struct pt_regs *)(x), si)
#define PT_REGS_PARM3_CORE(x) BPF_CORE_READ((struct pt_regs *)(x), dx)
#define PT_REGS_PARM4_CORE(x) BPF_CORE_READ((struct pt_regs *)(x), cx)
#define PT_REGS_PARM5_CORE(x) BPF_CORE_READ((struct pt_regs *)(x), r8)
#define PT_REGS_PARM6_CORE(x) BPF_CORE_READ((struct pt_regs *)(x), r9)
#define PT_REGS_RC_CORE(x) BPF_CORE_READ((struct pt_regs *)(x), ax)
#define PT_REGS_IP_CORE(x) BPF_CORE_READ((struct pt_regs *)(x), ip)
#define PT_REGS_SP_CORE(x) BPF_CORE_READ((struct pt_regs *)(x), sp)
#define PT_REGS_FP_CORE(x) BPF_CORE_READ((struct pt_regs *)(x), bp)
/* a syscall's arguments in the registers its caller passed (the fourth is in r10, not
 * rcx, which the syscall instruction overwrites) */
#define PT_REGS_PARM1_SYSCALL(x) PT_REGS_PARM1(x)
#define PT_REGS_PARM2_SYSCALL(x) PT_REGS_PARM2(x)
#define PT_REGS_PARM3_SYSCALL(x) PT_REGS_PARM3(x)
#define PT_REGS_PARM4_SYSCALL(x) ((x)->r10)
#define PT_REGS_PARM5_SYSCALL(x) PT_REGS_PARM5(x)
#define PT_REGS_PARM6_SYSCALL(x) PT_REGS_PARM6(x)
#define PT_REGS_PARM1_CORE_SYSCALL(x) PT_REGS_PARM1_CORE(x)
#define PT_REGS_PARM2_CORE_SYSCALL(x) PT_REGS_PARM2_CORE(x)
#define PT_REGS_PARM3_CORE_SYSCALL(x) PT_REGS_PARM3_CORE(x)
#define PT_REGS_PARM4_CORE_SYSCALL(x) BPF_CORE_READ((struct pt_regs *)(x), r10)
#define PT_REGS_PARM5_CORE_SYSCALL(x) PT_REGS_PARM5_CORE(x)
#define PT_REGS_PARM6_CORE_SYSCALL(x) PT_REGS_PARM6_CORE(x)

/* the argument lists the wrappers below pass on: the context, then each argument as a
 * void * that the typed parameter it lands in converts from (the int-conversion warning
 * this gives for integer parameters is silenced around the call) */
#define ___pybpf_args(kind, ...) ___pybpf_cat(kind, ___pybpf_count(__VA_ARGS__))(__VA_ARGS__)
#define ___pybpf_u64_0() ctx
#define ___pybpf_u64_1(x) ___pybpf_u64_0(), (void *)ctx[0]
#define ___pybpf_u64_2(x, ...) ___pybpf_u64_1(__VA_ARGS__), (void *)ctx[1]
#define ___pybpf_u64_3(x, ...) ___pybpf_u64_2(__VA_ARGS__), (void *)ctx[2]
#define ___pybpf_u64_4(x, ...) ___pybpf_u64_3(__VA_ARGS__), (void *)ctx[3]
#define ___pybpf_u64_5(x, ...) ___pybpf_u64_4(__VA_ARGS__), (void *)ctx[4]
#define ___pybpf_u64_6(x, ...) ___pybpf_u64_5(__VA_ARGS__), (void *)ctx[5]
#define ___pybpf_u64_7(x, ...) ___pybpf_u64_6(__VA_ARGS__), (void *)ctx[6]
#define ___pybpf_u64_8(x, ...) ___pybpf_u64_7(__VA_ARGS__), (void *)ctx[7]
#define ___pybpf_u64_9(x, ...) ___pybpf_u64_8(__VA_ARGS__), (void *)ctx[8]
#define ___pybpf_regs_0() ctx
#define ___pybpf_regs_1(x) ___pybpf_regs_0(), (void *)PT_REGS_PARM1(ctx)
#define ___pybpf_regs_2(x, ...) ___pybpf_regs_1(__VA_ARGS__), (void *)PT_REGS_PARM2(ctx)
#define ___pybpf_regs_3(x, ...) ___pybpf_regs_2(__VA_ARGS__), (void *)PT_REGS_PARM3(ctx)
#define ___pybpf_regs_4(x, ...) ___pybpf_regs_3(__VA_ARGS__), (void *)PT_REGS_PARM4(ctx)
#define ___pybpf_regs_5(x, ...) ___pybpf_regs_4(__VA_ARGS__), (void *)PT_REGS_PARM5(ctx)
#define ___pybpf_regs_6(x, ...) ___pybpf_regs_5(__VA_ARGS__), (void *)PT_REGS_PARM6(ctx)
#define ___pybpf_ret_0() ctx
#define ___pybpf_ret_1(x) ___pybpf_ret_0(), (void *)PT_REGS_RC(ctx)
#define ___pybpf_sys_0() ctx
#define ___pybpf_sys_1(x) ___pybpf_sys_0(), (void *)PT_REGS_PARM1_CORE_SYSCALL(regs)
#define ___pybpf_sys_2(x, ...) ___pybpf_sys_1(__VA_ARGS__), (void *)PT_REGS_PARM2_CORE_SYSCALL(regs)
#define ___pybpf_sys_3(x, ...) ___pybpf_sys_2(__VA_ARGS__), (void *)PT_REGS_PARM3_CORE_SYSCALL(regs)
#define ___pybpf_sys_4(x, ...) ___pybpf_sys_3(__VA_ARGS__), (void *)PT_REGS_PARM4_CORE_SYSCALL(regs)
#define ___pybpf_sys_5(x, ...) ___pybpf_sys_4(__VA_ARGS__), (void *)PT_REGS_PARM5_CORE_SYSCALL(regs)
#define ___pybpf_sys_6(x, ...) ___pybpf_sys_5(__VA_ARGS__), (void *)PT_REGS_PARM6_CORE_SYSCALL(regs)

/* name(context) is the program; ____name(context, typed arguments) is the body written
 * after the macro, called with the arguments unpacked by `kind` */
#define ___pybpf_typed(name, ctx_type, setup, kind, ...) \
    name(ctx_type ctx); \
    static __always_inline typeof(name(0)) ____##name(ctx_type ctx, ##__VA_ARGS__); \
    typeof(name(0)) name(ctx_type ctx) \
    { \
        setup \
        _Pragma("GCC diagnostic push") \
        _Pragma("GCC diagnostic ignored \"-Wint-conversion\"") \
        return ____##name(___pybpf_args(kind, ##__VA_ARGS__)); \
        _Pragma("GCC diagnostic pop") \
    } \
    static __always_inline typeof(name(0)) ____##name(ctx_type ctx, ##__VA_ARGS__)

#define BPF_PROG(name, ...) ___pybpf_typed(name, unsigned long long *, , ___pybpf_u64_, ##__VA_ARGS__)
#define BPF_KPROBE(name, ...) ___pybpf_typed(name, struct pt_regs *, , ___pybpf_regs_, ##__VA_ARGS__)
#define BPF_KRETPROBE(name, ...) ___pybpf_typed(name, struct pt_regs *, , ___pybpf_ret_, ##__VA_ARGS__)
#define BPF_UPROBE(name, ...) BPF_KPROBE(name, ##__VA_ARGS__)
#define BPF_URETPROBE(name, ...) BPF_KRETPROBE(name, ##__VA_ARGS__)
#define BPF_KSYSCALL(name, ...) ___pybpf_typed(name, struct pt_regs *, \
    struct pt_regs *regs = (struct pt_regs *)PT_REGS_PARM1(ctx);, ___pybpf_sys_, ##__VA_ARGS__)

#endif /* __PYBPF_LIBBPF_BPF_TRACING_H__ */
