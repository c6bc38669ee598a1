"""pybpf.verifier on the features of this kernel beyond plain loads and stores: socket
references, 32-bit bounds, narrow spills, may_goto, callbacks iterated, ring-buffer
dynptrs. Each case carries the kernel's verdict, errno and message (as BPF_PROG_LOAD
gave them on this machine); where the kernel is available it is asked again."""

from __future__ import annotations

import errno

import pytest
from generator import Generated
from oracle import Kernel, vm_verdict

from pybpf.isa import assemble

#: map[fd:1] is a 48-byte array, map[fd:2] a ring buffer (tests/verifier/generator.py)
_LOOKUP = "*(u32 *)(r10 -4) = 0\nr1 = map[fd:1]\nr2 = r10\nr2 += -4\ncall bpf_map_lookup_elem\n"
_SOCKET = ("*(u64 *)(r10 -8) = 0\n*(u64 *)(r10 -16) = 0\nr2 = r10\nr2 += -16\nr3 = 12\nr4 = 0\nr5 = 0\n"
           "call bpf_sk_lookup_tcp\n")
_DYNPTR = "r1 = map[fd:2]\nr2 = 8\nr3 = 0\nr4 = r10\nr4 += -16\ncall bpf_ringbuf_reserve_dynptr\n"
_SUBMIT = "r1 = r10\nr1 += -16\nr2 = 0\ncall bpf_ringbuf_submit_dynptr\n"
_LEAK = "BPF_EXIT instruction in main prog would lead to reference leak"

CASES = [
    # sockets: looked up, NULL-checked, read, released
    ("sched_cls", _SOCKET + "if r0 == 0 goto +3\nr6 = *(u32 *)(r0 +4)\nr1 = r0\ncall bpf_sk_release\nr0 = 0\nexit",
     None),
    ("xdp", _SOCKET + "r0 = 0\nexit", (errno.EINVAL, _LEAK)),
    ("sched_cls", _SOCKET + "if r0 == 0 goto +3\n*(u32 *)(r0 +4) = 1\nr1 = r0\ncall bpf_sk_release\nr0 = 0\nexit",
     (errno.EACCES, "R0 cannot write into sock")),
    ("sched_cls", _SOCKET + "if r0 == 0 goto +3\nr6 = *(u8 *)(r0 +1)\nr1 = r0\ncall bpf_sk_release\nr0 = 0\nexit",
     (errno.EACCES, "R0 invalid sock access off=1 size=1")),
    ("sched_cls", _SOCKET + "r1 = r0\ncall bpf_sk_release\nr0 = 0\nexit",
     (errno.EACCES, "R1 type=sock_or_null expected=sock_common, sock, tcp_sock, xdp_sock, ptr_, trusted_ptr_")),
    ("kprobe", _SOCKET + "r0 = 0\nexit", (errno.EINVAL, "program of this type cannot use helper bpf_sk_lookup_tcp#84")),
    # a 64-bit value bounded by a 32-bit comparison, zero-extended, used as an index
    ("socket_filter", _LOOKUP + "if r0 == 0 goto +6\nr7 = *(u64 *)(r0 +0)\nif w7 >= 48 goto +4\nw7 = w7\nr1 = r0\n"
     "r1 += r7\nr7 = *(u8 *)(r1 +0)\nr0 = 0\nexit", None),
    ("socket_filter", _LOOKUP + "if r0 == 0 goto +6\nr7 = *(u64 *)(r0 +0)\nif w7 > 48 goto +4\nw7 = w7\nr1 = r0\n"
     "r1 += r7\nr7 = *(u8 *)(r1 +0)\nr0 = 0\nexit", (errno.EACCES, "R1 max value is outside of the allowed memory range")),
    ("socket_filter", _LOOKUP + "if r0 == 0 goto +7\nr7 = *(u64 *)(r0 +0)\nif w7 >= 48 goto +5\nr7 <<= 32\n"
     "r7 >>= 32\nr1 = r0\nr1 += r7\nr7 = *(u8 *)(r1 +0)\nr0 = 0\nexit", None),
    # a bounded scalar spilled in 4 bytes and filled back keeps its bounds
    ("socket_filter", "call bpf_get_prandom_u32\nr0 &= 47\n*(u32 *)(r10 -24) = r0\n" + _LOOKUP.replace("-4", "-40")
     + "if r0 == 0 goto +3\nr8 = *(u32 *)(r10 -24)\nr0 += r8\nr7 = *(u8 *)(r0 +0)\nr0 = 0\nexit", None),
    # 32-bit arithmetic on packet pointers: a privileged subtraction gives a meaningless
    # scalar (xdp-tutorial's `unsigned int offset = data_end - data`), anything else is refused
    ("xdp", "r2 = *(u32 *)(r1 +4)\nr1 = *(u32 *)(r1 +0)\nw3 = w2\nw3 -= w1\nr0 = 2\nexit", None),
    ("xdp", "r2 = *(u32 *)(r1 +4)\nr1 = *(u32 *)(r1 +0)\nw2 -= 1\nr0 = 2\nexit", None),
    ("xdp", "r2 = *(u32 *)(r1 +4)\nr1 = *(u32 *)(r1 +0)\nw3 = 1\nw3 -= w1\nr0 = 2\nexit", None),
    ("xdp", "r1 = *(u32 *)(r1 +0)\nw1 += 1\nr0 = 2\nexit", (errno.EACCES, "R1 32-bit pointer arithmetic prohibited")),
    # may_goto ends a loop whose counter is widened
    ("socket_filter", "r7 = 0\nmay_goto +3\nr7 += 1\ncall bpf_get_prandom_u32\ngoto -4\nr0 = 0\nexit", None),
    # ring-buffer dynptrs
    ("kprobe", _DYNPTR + "r1 = r10\nr1 += -16\nr2 = 0\nr3 = 8\ncall bpf_dynptr_data\nif r0 == 0 goto +1\n"
     "*(u64 *)(r0 +0) = 1\n" + _SUBMIT + "r0 = 0\nexit", None),
    ("kprobe", _DYNPTR + "r0 = 0\nexit", (errno.EINVAL, _LEAK)),
    ("kprobe", _DYNPTR + "*(u64 *)(r10 -16) = 0\n" + _SUBMIT + "r0 = 0\nexit",
     (errno.EINVAL, "cannot overwrite referenced dynptr")),
    ("kprobe", _SUBMIT + "r0 = 0\nexit", (errno.EINVAL, "arg 1 is an unacquired reference")),
    ("kprobe", _DYNPTR + "r7 = *(u64 *)(r10 -16)\n" + _SUBMIT + "r0 = 0\nexit",
     (errno.EACCES, "invalid read from stack off -16+0 size 8")),
    ("kprobe", _DYNPTR + "r1 = r10\nr1 += -16\nr2 = 0\nr3 = 8\ncall bpf_dynptr_data\nr6 = r0\n" + _SUBMIT
     + "if r6 == 0 goto +1\n*(u64 *)(r6 +0) = 1\nr0 = 0\nexit", (errno.EACCES, "R6 invalid mem access 'scalar'")),
]


def _program(kind: str, text: str, func_info: bool = False) -> Generated:
    return Generated(kind, text, assemble(text), func_info)


@pytest.mark.parametrize("kind, text, refusal", CASES)
def test_verdict_errno_and_message(kind, text, refusal):
    ours = vm_verdict(_program(kind, text))
    if refusal is None:
        assert ours.accepted, ours.message
    else:
        assert (ours.accepted, ours.errno, ours.message) == (False, *refusal)


_CALLBACK = "r1 = {loops}\nr2 = func[cb]\n{ctx}r4 = 0\ncall {helper}\nr0 = 0\nexit\ncb:\n{body}exit"


CALLBACK_CASES = [
    ({"loops": 4, "ctx": "r3 = 0\n", "helper": "bpf_loop", "body": "r0 = 1\n"}, None),
    # a callback that runs no time is not verified at all
    ({"loops": 0, "ctx": "r3 = 0\n", "helper": "bpf_loop", "body": "r0 = 2\n"}, None),
    ({"loops": 4, "ctx": "r3 = 0\n", "helper": "bpf_loop", "body": "r0 = 2\n"},
     (errno.EINVAL, "At callback return the register R0 has smin=2 smax=2 should have been in [0, 1]")),
    # the callback reads its context argument: NULL here
    ({"loops": 4, "ctx": "r3 = 0\n", "helper": "bpf_loop", "body": "r0 = *(u64 *)(r2 +0)\nr0 = 0\n"},
     (errno.EACCES, "R2 invalid mem access 'scalar'")),
    ({"loops": "map[fd:2]", "ctx": "r3 = 0\n", "helper": "bpf_for_each_map_elem", "body": "r0 = 0\n"},
     (524, "callback function not allowed for map")),
]


@pytest.mark.parametrize("fields, refusal", CALLBACK_CASES)
def test_callbacks(fields, refusal):
    ours = vm_verdict(_program("xdp", _CALLBACK.format(**fields), func_info=True))
    assert (ours.accepted, ours.errno, ours.message) == ((True, 0, "") if refusal is None else (False, *refusal))


def test_the_kernel_agrees():
    """The cases above, judged by BPF_PROG_LOAD."""
    from pybpf.kernel.engine import available

    why = available()
    if why is not None:
        pytest.skip(f"the kernel's verifier is not available: {why}")
    kernel = Kernel()
    differ = []
    try:
        programs = [_program(kind, text) for kind, text, _ in CASES]
        programs += [_program("xdp", _CALLBACK.format(**fields), True) for fields, _ in CALLBACK_CASES]
        for program in programs:
            theirs, ours = kernel.verdict(program), vm_verdict(program)
            if theirs != ours:
                differ.append((program.text, theirs, ours))
    finally:
        kernel.close()
    assert not differ


def test_may_goto_assembles_disassembles_and_the_vm_names_it():
    from pybpf.isa import opcodes as o
    from pybpf.isa.disassembler import format_instruction
    from pybpf.vm.errors import VMError
    from pybpf.vm.program import CheckedProgram

    code = assemble("l:\nmay_goto out\ngoto l\nout:\nr0 = 0\nexit")
    assert (code[0].opcode, code[0].off) == (o.JMP | o.JCOND, 1)
    assert format_instruction(code[0]) == "may_goto +1"
    with pytest.raises(VMError, match="may_goto"):
        CheckedProgram(code)
