# BCC's hello world, as BCC users write it: a kprobe on clone by name, printed from trace_pipe.
from bcc import BPF

BPF(text='int kprobe__sys_clone(void *ctx) { bpf_trace_printk("Hello, World!\\n"); return 0; }').trace_print()
