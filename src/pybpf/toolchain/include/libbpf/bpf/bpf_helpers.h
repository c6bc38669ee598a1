/* <bpf/bpf_helpers.h> for programs written against libbpf: the names libbpf's header gives a
 * BPF program, on pybpf's own header (<pybpf/bpf.h>: SEC, the map macros, every helper,
 * bpf_printk). As with libbpf, include <linux/bpf.h> or <vmlinux.h> before it. */
#ifndef __PYBPF_LIBBPF_BPF_HELPERS_H__
#define __PYBPF_LIBBPF_BPF_HELPERS_H__

#include <pybpf/bpf.h>

#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif
#ifndef __weak
#define __weak __attribute__((weak))
#endif
#define __hidden __attribute__((visibility("hidden")))
/* externs the loader resolves: kernel symbols and kernel configuration values */
#ifndef __ksym
#define __ksym __attribute__((section(".ksyms")))
#endif
#define __kconfig __attribute__((section(".kconfig")))
#define __kptr __attribute__((btf_type_tag("kptr")))
#define __kptr_untrusted __attribute__((btf_type_tag("kptr_untrusted")))
#define __percpu_kptr __attribute__((btf_type_tag("percpu_kptr")))

/* __uint(pinning, LIBBPF_PIN_BY_NAME) in a map definition pins the map in bpffs by name */
enum libbpf_pin_type { LIBBPF_PIN_NONE, LIBBPF_PIN_BY_NAME };

/* a __kconfig extern of this type reads a y/m/n option as 1/2/0 */
enum libbpf_tristate { TRI_NO = 0, TRI_YES = 1, TRI_MODULE = 2 };
/* whether a __weak __ksym extern exists in the running kernel (the loader sets a missing
 * one's address to 0) */
#define bpf_ksym_exists(sym) (!!(sym))

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif
#ifndef barrier
#define barrier() asm volatile("" ::: "memory")
#endif
/* hides a variable's value from the optimizer, so a bounds check on it is kept */
#define barrier_var(var) asm volatile("" : "+r"(var))
#define __bpf_unreachable() __builtin_trap()

#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif
#ifndef container_of
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))
#endif

/* the version code a kernel's LINUX_VERSION_CODE has (patch levels above 255 saturate) */
#define KERNEL_VERSION(a, b, c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))

/* a map entry holding a constant: the value is the enum's, so BTF records it */
#define ___pybpf_join(a, b) a##b
#define ___pybpf_uniq(a, b) ___pybpf_join(a, b)
#define __ulong(name, val) enum { ___pybpf_uniq(__pybpf_ulong_, __COUNTER__) = val } name

/* a tail call whose slot is a constant: libbpf emits it with inline assembly so the JIT
 * can patch a direct jump; the call itself is the same helper */
#define bpf_tail_call_static(ctx, map, slot) ((void)bpf_tail_call((ctx), (map), (slot)))

#endif /* __PYBPF_LIBBPF_BPF_HELPERS_H__ */
