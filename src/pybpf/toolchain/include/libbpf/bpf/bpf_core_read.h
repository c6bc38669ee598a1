/* <bpf/bpf_core_read.h> for programs written against libbpf: CO-RE reads and relocations
 * (BPF_CORE_READ, bpf_core_field_exists, ...), which <pybpf/bpf_core.h> provides. */
#ifndef __PYBPF_LIBBPF_BPF_CORE_READ_H__
#define __PYBPF_LIBBPF_BPF_CORE_READ_H__
#include <bpf/bpf_helpers.h>
#endif
