/* CO-RE ("compile once, run everywhere") reads for pybpf programs: every field access
 * below goes through __builtin_preserve_access_index or a __builtin_preserve_*_info, so
 * clang records it as a relocation in .BTF.ext and the loader can rewrite the offset for
 * the kernel the program runs on. Included by <pybpf/bpf.h>; pair it with <vmlinux.h>,
 * whose records already carry preserve_access_index. */
#ifndef __PYBPF_BPF_CORE_H__
#define __PYBPF_BPF_CORE_H__

/* what __builtin_preserve_field_info/_type_info/_enum_value are asked (the relocation
 * kinds of the kernel's enum bpf_core_relo_kind) */
#define __PYBPF_FIELD_BYTE_OFFSET 0
#define __PYBPF_FIELD_BYTE_SIZE 1
#define __PYBPF_FIELD_EXISTS 2
#define __PYBPF_FIELD_SIGNED 3
#define __PYBPF_FIELD_LSHIFT_U64 4
#define __PYBPF_FIELD_RSHIFT_U64 5
#define __PYBPF_TYPE_EXISTS 0
#define __PYBPF_TYPE_SIZE 1
#define __PYBPF_TYPE_MATCHES 2
#define __PYBPF_TYPE_ID_LOCAL 0
#define __PYBPF_TYPE_ID_TARGET 1
#define __PYBPF_ENUMVAL_EXISTS 0
#define __PYBPF_ENUMVAL_VALUE 1

/* facts about a field, a type, or an enumerator on the running kernel, settled by the
 * loader; a field is written as an access (s->f) or as a type and a field name
 * (struct s, f), as with libbpf */
#define ___pybpf_field1(field) field
#define ___pybpf_field2(type, field) (((typeof(type) *)0)->field)
#define ___pybpf_field(...) ___pybpf_cat(___pybpf_field, ___pybpf_count(__VA_ARGS__))(__VA_ARGS__)
#define bpf_core_field_exists(...) __builtin_preserve_field_info(___pybpf_field(__VA_ARGS__), __PYBPF_FIELD_EXISTS)
#define bpf_core_field_size(...) __builtin_preserve_field_info(___pybpf_field(__VA_ARGS__), __PYBPF_FIELD_BYTE_SIZE)
#define bpf_core_field_offset(...) \
    __builtin_preserve_field_info(___pybpf_field(__VA_ARGS__), __PYBPF_FIELD_BYTE_OFFSET)
#define bpf_core_field_signed(...) __builtin_preserve_field_info(___pybpf_field(__VA_ARGS__), __PYBPF_FIELD_SIGNED)
#define bpf_core_type_exists(type) __builtin_preserve_type_info(*(typeof(type) *)0, __PYBPF_TYPE_EXISTS)
#define bpf_core_type_size(type) __builtin_preserve_type_info(*(typeof(type) *)0, __PYBPF_TYPE_SIZE)
#define bpf_core_type_matches(type) __builtin_preserve_type_info(*(typeof(type) *)0, __PYBPF_TYPE_MATCHES)
#define bpf_core_type_id_local(type) __builtin_btf_type_id(*(typeof(type) *)0, __PYBPF_TYPE_ID_LOCAL)
#define bpf_core_type_id_kernel(type) __builtin_btf_type_id(*(typeof(type) *)0, __PYBPF_TYPE_ID_TARGET)
#define bpf_core_enum_value_exists(enum_type, value) \
    __builtin_preserve_enum_value(*(typeof(enum_type) *)value, __PYBPF_ENUMVAL_EXISTS)
#define bpf_core_enum_value(enum_type, value) \
    __builtin_preserve_enum_value(*(typeof(enum_type) *)value, __PYBPF_ENUMVAL_VALUE)

/* sz bytes at src (an address computed from kernel or user memory) into dst */
#define bpf_core_read(dst, sz, src) \
    bpf_probe_read_kernel(dst, sz, (const void *)__builtin_preserve_access_index(src))
#define bpf_core_read_user(dst, sz, src) \
    bpf_probe_read_user(dst, sz, (const void *)__builtin_preserve_access_index(src))
#define bpf_core_read_str(dst, sz, src) \
    bpf_probe_read_kernel_str(dst, sz, (const void *)__builtin_preserve_access_index(src))
#define bpf_core_read_user_str(dst, sz, src) \
    bpf_probe_read_user_str(dst, sz, (const void *)__builtin_preserve_access_index(src))

/* counting a chain of up to nine fields, and gluing the count onto a macro name */
#define ___pybpf_nth(_0, _1, _2, _3, _4, _5, _6, _7, _8, _9, N, ...) N
#define ___pybpf_count(...) ___pybpf_nth(_, ##__VA_ARGS__, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define ___pybpf_glue(a, b) a##b
#define ___pybpf_cat(a, b) ___pybpf_glue(a, b)

/* "->a->b->c": the type of the last field in a chain */
#define ___pybpf_arrows1(a) ->a
#define ___pybpf_arrows2(a, ...) ->a ___pybpf_arrows1(__VA_ARGS__)
#define ___pybpf_arrows3(a, ...) ->a ___pybpf_arrows2(__VA_ARGS__)
#define ___pybpf_arrows4(a, ...) ->a ___pybpf_arrows3(__VA_ARGS__)
#define ___pybpf_arrows5(a, ...) ->a ___pybpf_arrows4(__VA_ARGS__)
#define ___pybpf_arrows6(a, ...) ->a ___pybpf_arrows5(__VA_ARGS__)
#define ___pybpf_arrows7(a, ...) ->a ___pybpf_arrows6(__VA_ARGS__)
#define ___pybpf_arrows8(a, ...) ->a ___pybpf_arrows7(__VA_ARGS__)
#define ___pybpf_arrows9(a, ...) ->a ___pybpf_arrows8(__VA_ARGS__)
/* without qualifiers, since the result variable is written: a const field reads fine */
#if defined(__clang_major__) && __clang_major__ >= 19
#define ___pybpf_unqual(x) __typeof_unqual__(x)
#else
#define ___pybpf_unqual(x) typeof(x)
#endif
#define ___pybpf_last_type(src, ...) \
    ___pybpf_unqual((src) ___pybpf_cat(___pybpf_arrows, ___pybpf_count(__VA_ARGS__))(__VA_ARGS__))

/* one read per pointer in the chain: each level reads the next pointer into its own
 * variable (named by level, so an inner level never shadows the one it reads from); the
 * levels are spelled out because a macro cannot expand inside its own expansion */
#define ___pybpf_read(fn, dst, src, a) fn((void *)(dst), sizeof(*(dst)), &((src)->a))
#define ___pybpf_next(n, src, a) ((typeof((src)->a))___pybpf_p##n)
#define ___pybpf_chain1(fn, last, dst, src, a) ___pybpf_read(last, dst, src, a)
#define ___pybpf_chain2(fn, last, dst, src, a, ...) ({ const void *___pybpf_p2 = 0; ___pybpf_read(fn, &___pybpf_p2, src, a); \
    ___pybpf_chain1(fn, last, dst, ___pybpf_next(2, src, a), __VA_ARGS__); })
#define ___pybpf_chain3(fn, last, dst, src, a, ...) ({ const void *___pybpf_p3 = 0; ___pybpf_read(fn, &___pybpf_p3, src, a); \
    ___pybpf_chain2(fn, last, dst, ___pybpf_next(3, src, a), __VA_ARGS__); })
#define ___pybpf_chain4(fn, last, dst, src, a, ...) ({ const void *___pybpf_p4 = 0; ___pybpf_read(fn, &___pybpf_p4, src, a); \
    ___pybpf_chain3(fn, last, dst, ___pybpf_next(4, src, a), __VA_ARGS__); })
#define ___pybpf_chain5(fn, last, dst, src, a, ...) ({ const void *___pybpf_p5 = 0; ___pybpf_read(fn, &___pybpf_p5, src, a); \
    ___pybpf_chain4(fn, last, dst, ___pybpf_next(5, src, a), __VA_ARGS__); })
#define ___pybpf_chain6(fn, last, dst, src, a, ...) ({ const void *___pybpf_p6 = 0; ___pybpf_read(fn, &___pybpf_p6, src, a); \
    ___pybpf_chain5(fn, last, dst, ___pybpf_next(6, src, a), __VA_ARGS__); })
#define ___pybpf_chain7(fn, last, dst, src, a, ...) ({ const void *___pybpf_p7 = 0; ___pybpf_read(fn, &___pybpf_p7, src, a); \
    ___pybpf_chain6(fn, last, dst, ___pybpf_next(7, src, a), __VA_ARGS__); })
#define ___pybpf_chain8(fn, last, dst, src, a, ...) ({ const void *___pybpf_p8 = 0; ___pybpf_read(fn, &___pybpf_p8, src, a); \
    ___pybpf_chain7(fn, last, dst, ___pybpf_next(8, src, a), __VA_ARGS__); })
#define ___pybpf_chain9(fn, last, dst, src, a, ...) ({ const void *___pybpf_p9 = 0; ___pybpf_read(fn, &___pybpf_p9, src, a); \
    ___pybpf_chain8(fn, last, dst, ___pybpf_next(9, src, a), __VA_ARGS__); })
#define ___pybpf_chain(fn, last, dst, src, ...) \
    ___pybpf_cat(___pybpf_chain, ___pybpf_count(__VA_ARGS__))(fn, last, dst, src, __VA_ARGS__)

/* BPF_CORE_READ(task, real_parent, tgid) is task->real_parent->tgid, read from kernel
 * memory one pointer at a time; the _INTO forms store into *dst and return the last
 * read's result (0 or a negative errno); the _USER forms read user memory; the _STR_INTO
 * forms read a NUL-terminated string as the last step (returning its length or an errno).
 * The BPF_PROBE_READ forms are the same reads without CO-RE relocations (the offsets the
 * program was compiled with). */
#define ___pybpf_last_read(src, a, ...) ___pybpf_last_type(src, a, ##__VA_ARGS__) ___pybpf_r
#define ___pybpf_value(into, src, a, ...) ({ \
    ___pybpf_last_read(src, a, ##__VA_ARGS__); \
    into(&___pybpf_r, src, a, ##__VA_ARGS__); \
    ___pybpf_r; })
#define BPF_CORE_READ_INTO(dst, src, a, ...) ___pybpf_chain(bpf_core_read, bpf_core_read, dst, src, a, ##__VA_ARGS__)
#define BPF_CORE_READ_USER_INTO(dst, src, a, ...) \
    ___pybpf_chain(bpf_core_read_user, bpf_core_read_user, dst, src, a, ##__VA_ARGS__)
#define BPF_CORE_READ_STR_INTO(dst, src, a, ...) \
    ___pybpf_chain(bpf_core_read, bpf_core_read_str, dst, src, a, ##__VA_ARGS__)
#define BPF_CORE_READ_USER_STR_INTO(dst, src, a, ...) \
    ___pybpf_chain(bpf_core_read_user, bpf_core_read_user_str, dst, src, a, ##__VA_ARGS__)
#define BPF_CORE_READ(src, a, ...) ___pybpf_value(BPF_CORE_READ_INTO, src, a, ##__VA_ARGS__)
#define BPF_CORE_READ_USER(src, a, ...) ___pybpf_value(BPF_CORE_READ_USER_INTO, src, a, ##__VA_ARGS__)

#define BPF_PROBE_READ_INTO(dst, src, a, ...) \
    ___pybpf_chain(bpf_probe_read_kernel, bpf_probe_read_kernel, dst, src, a, ##__VA_ARGS__)
#define BPF_PROBE_READ_USER_INTO(dst, src, a, ...) \
    ___pybpf_chain(bpf_probe_read_user, bpf_probe_read_user, dst, src, a, ##__VA_ARGS__)
#define BPF_PROBE_READ_STR_INTO(dst, src, a, ...) \
    ___pybpf_chain(bpf_probe_read_kernel, bpf_probe_read_kernel_str, dst, src, a, ##__VA_ARGS__)
#define BPF_PROBE_READ_USER_STR_INTO(dst, src, a, ...) \
    ___pybpf_chain(bpf_probe_read_user, bpf_probe_read_user_str, dst, src, a, ##__VA_ARGS__)
#define BPF_PROBE_READ(src, a, ...) ___pybpf_value(BPF_PROBE_READ_INTO, src, a, ##__VA_ARGS__)
#define BPF_PROBE_READ_USER(src, a, ...) ___pybpf_value(BPF_PROBE_READ_USER_INTO, src, a, ##__VA_ARGS__)

/* a bitfield's value on the running kernel: the bytes holding it read into a u64, shifted
 * left to drop the bits above it and right (arithmetically when it is signed) to drop those
 * below — shifts the loader computes. The _PROBED form reads kernel memory with a helper
 * (tracing programs); the other reads directly (a BTF-typed pointer, a context) */
#define ___pybpf_bitfield_shift(s, field, val) ({ \
    val <<= __builtin_preserve_field_info((s)->field, __PYBPF_FIELD_LSHIFT_U64); \
    if (__builtin_preserve_field_info((s)->field, __PYBPF_FIELD_SIGNED)) \
        val = (unsigned long long)((long long)val >> __builtin_preserve_field_info((s)->field, __PYBPF_FIELD_RSHIFT_U64)); \
    else \
        val = val >> __builtin_preserve_field_info((s)->field, __PYBPF_FIELD_RSHIFT_U64); \
    val; })
#define BPF_CORE_READ_BITFIELD_PROBED(s, field) ({ \
    unsigned long long ___pybpf_bits = 0; \
    bpf_probe_read_kernel(&___pybpf_bits, __builtin_preserve_field_info((s)->field, __PYBPF_FIELD_BYTE_SIZE), \
        (const void *)(s) + __builtin_preserve_field_info((s)->field, __PYBPF_FIELD_BYTE_OFFSET)); \
    ___pybpf_bitfield_shift(s, field, ___pybpf_bits); })
#define BPF_CORE_READ_BITFIELD(s, field) ({ \
    const void *___pybpf_at = (const void *)(s) + __builtin_preserve_field_info((s)->field, __PYBPF_FIELD_BYTE_OFFSET); \
    unsigned long long ___pybpf_bits; \
    switch (__builtin_preserve_field_info((s)->field, __PYBPF_FIELD_BYTE_SIZE)) { \
    case 1: ___pybpf_bits = *(const unsigned char *)___pybpf_at; break; \
    case 2: ___pybpf_bits = *(const unsigned short *)___pybpf_at; break; \
    case 4: ___pybpf_bits = *(const unsigned int *)___pybpf_at; break; \
    case 8: ___pybpf_bits = *(const unsigned long long *)___pybpf_at; break; \
    default: ___pybpf_bits = 0; \
    } \
    ___pybpf_bitfield_shift(s, field, ___pybpf_bits); })

#endif /* __PYBPF_BPF_CORE_H__ */
