/* <bpf/bpf_endian.h> for programs written against libbpf: byte order conversions between
 * the host (little-endian on every target pybpf builds for) and the network. Each folds to
 * a constant when its argument is one, so they may be used in case labels. */
#ifndef __PYBPF_LIBBPF_BPF_ENDIAN_H__
#define __PYBPF_LIBBPF_BPF_ENDIAN_H__

#ifndef bpf_htons
#define bpf_htons(x) __builtin_bswap16(x)
#define bpf_ntohs(x) __builtin_bswap16(x)
#define bpf_htonl(x) __builtin_bswap32(x)
#define bpf_ntohl(x) __builtin_bswap32(x)
#endif
#define bpf_cpu_to_be64(x) __builtin_bswap64(x)
#define bpf_be64_to_cpu(x) __builtin_bswap64(x)
/* libbpf's names for the forms meant for variables and for constants; the builtins fold
 * constants anyway, so both are the same */
#define __bpf_htons(x) bpf_htons(x)
#define __bpf_ntohs(x) bpf_ntohs(x)
#define __bpf_htonl(x) bpf_htonl(x)
#define __bpf_ntohl(x) bpf_ntohl(x)
#define __bpf_cpu_to_be64(x) bpf_cpu_to_be64(x)
#define __bpf_be64_to_cpu(x) bpf_be64_to_cpu(x)
#define __bpf_constant_htons(x) bpf_htons(x)
#define __bpf_constant_ntohs(x) bpf_ntohs(x)
#define __bpf_constant_htonl(x) bpf_htonl(x)
#define __bpf_constant_ntohl(x) bpf_ntohl(x)
#define __bpf_constant_cpu_to_be64(x) bpf_cpu_to_be64(x)
#define __bpf_constant_be64_to_cpu(x) bpf_be64_to_cpu(x)

#endif /* __PYBPF_LIBBPF_BPF_ENDIAN_H__ */
