"""Probe reads that follow the address they are given into user or kernel memory.

BCC programs read user pointers with ``bpf_probe_read_kernel``: trace.py's ``"%s",
args->filename`` on ``syscalls:sys_enter_openat`` copies the string with it, because
the tracepoint's format file says ``const char * filename`` — the ``__user`` of the
syscall's prototype is not in it, and trace.py picks the user read only for its
``argN@user`` spelling. The kernel refuses a kernel read of a user address (x86-64's
``copy_from_kernel_nofault`` rejects addresses below ``TASK_SIZE``), so BCC itself
prints an empty string there: its rewriter does not mark tracepoint fields as user
memory either.

The legacy ``bpf_probe_read``/``bpf_probe_read_str`` helpers decide by the address
(on architectures whose user and kernel halves do not overlap), which is what those
programs relied on. The program's own calls of ``bpf_probe_read_kernel[_str]`` become
``__bcc_probe_read_kernel[_str]``, which do the same: an address in the user half
(the top bit clear on x86-64 and arm64) is read with the user helper, any other with
the kernel one. A kernel read of a user address can only fail, so a read that
succeeded before still reads the same bytes. The reads pybpf generates itself
(BPF_CORE_READ of ``task->real_parent->tgid``, ``TP_DATA_LOC_READ``) stay kernel reads:
they are added after this rewrite.
"""

from __future__ import annotations

from pybpf.bcc.tokens import tokenize

#: the program's helper name → the reader that looks at the address first
EITHER_SPACE = {"bpf_probe_read_kernel": "__bcc_probe_read_kernel",
                "bpf_probe_read_kernel_str": "__bcc_probe_read_kernel_str"}

#: C of the readers, for the prelude (after pybpf/bpf.h declares the helpers)
READERS_C = "".join(f"""
static __always_inline long {reader}(void *dst, __u32 size, const void *src)
{{
    if ((long)src >= 0)   /* the user half of the address space */
        return {helper.replace("kernel", "user")}(dst, size, src);
    return {helper}(dst, size, src);
}}""" for helper, reader in EITHER_SPACE.items()) + "\n"


def reads_of_either_space(text: str) -> str:
    """``text`` with its calls of ``bpf_probe_read_kernel[_str]`` made to the readers that
    follow the address (identifiers only: a name inside a string or comment stays)."""
    out: list[str] = []
    pos = 0
    for tok in tokenize(text):
        if tok.kind == "id" and tok.text in EITHER_SPACE:
            out.append(text[pos:tok.start] + EITHER_SPACE[tok.text])
            pos = tok.end
    out.append(text[pos:])
    return "".join(out)
