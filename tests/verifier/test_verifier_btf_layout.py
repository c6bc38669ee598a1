"""Loads through BTF pointers on a small BTF of our own (no kernel needed): the
kernel's ``btf_struct_walk`` rules for nested structs, arrays, bitfields, unions,
pointer members and the ends of structs and members, and ``btf_ctx_access`` for an
fentry/fexit program whose target has a number and a struct pointer argument."""

from __future__ import annotations

import pytest

from pybpf.btf import BTF, Kind, Member, Type
from pybpf.isa.assembler import assemble
from pybpf.object import AttachType, ProgramType
from pybpf.verifier import verify

#: struct inner { int a, b; };
#: union u { struct inner *p; long x; };
#: struct outer { int i; int flags:3; struct inner in; int arr[4]; struct inner *ptr;
#:                union u u; void *opaque; };       /* 56 bytes */
#: int target(struct outer *o, long n);
TYPES = [
    Type(0, Kind.VOID),
    Type(1, Kind.INT, "int", size=4, encoding=1, bits=32),
    Type(2, Kind.INT, "long", size=8, encoding=1, bits=64),
    Type(3, Kind.STRUCT, "inner", size=8, members=(Member("a", 1, 0), Member("b", 1, 32))),
    Type(4, Kind.PTR, ref=3),
    Type(5, Kind.ARRAY, element=1, index_type=1, nelems=4),
    Type(6, Kind.UNION, "u", size=8, members=(Member("p", 4, 0), Member("x", 2, 0))),
    Type(7, Kind.STRUCT, "outer", size=56, kind_flag=True, members=(
        Member("i", 1, 0), Member("flags", 1, 32, bit_size=3), Member("in", 3, 64), Member("arr", 5, 128),
        Member("ptr", 4, 256), Member("u", 6, 320), Member("opaque", 9, 384))),
    Type(8, Kind.FUNC_PROTO, ref=1, members=(Member("o", 10), Member("n", 2))),
    Type(9, Kind.PTR, ref=0),
    Type(10, Kind.PTR, ref=7),
    Type(11, Kind.FUNC, "target", ref=8, linkage=1),
]
BTF_OF_OURS = BTF(TYPES, b"\0")
OUTER = "r2 = *(u64 *)(r1 +0)\n"          # r2 = o


def _verify(body: str, attach: AttachType = AttachType.TRACE_FENTRY):
    return verify(assemble(body + "r0 = 0\nexit"), ProgramType.TRACING, {}, attach_type=attach, attach_to="target",
                  btf=BTF_OF_OURS, log_level=1)


CASES = [
    ("int member", OUTER + "r3 = *(u32 *)(r2 +0)\n", ""),
    ("part of an int member", OUTER + "r3 = *(u16 *)(r2 +2)\n", ""),
    ("bitfield in its byte", OUTER + "r3 = *(u8 *)(r2 +4)\n", ""),
    ("member of a nested struct", OUTER + "r3 = *(u32 *)(r2 +12)\n", ""),
    ("array element", OUTER + "r3 = *(u32 *)(r2 +24)\n", ""),
    ("two array elements at once", OUTER + "r3 = *(u64 *)(r2 +24)\n", ""),
    ("past the array's end", OUTER + "r3 = *(u64 *)(r2 +28)\n",
     "access beyond the end of member arr (mend:32) in struct outer with off 28 size 8"),
    ("pointer member, then through it", OUTER + "r3 = *(u64 *)(r2 +32)\nr4 = *(u32 *)(r3 +4)\n", ""),
    ("pointer member read in part", OUTER + "r3 = *(u32 *)(r2 +36)\n",
     "cannot access ptr member ptr with moff 32 in struct outer with off 36 size 4"),
    ("through the walked pointer past its struct", OUTER + "r3 = *(u64 *)(r2 +32)\nr4 = *(u32 *)(r3 +8)\n",
     "access beyond struct inner at off 8 size 4"),
    ("pointer read in a union of two is untrusted", OUTER + "r1 = *(u64 *)(r2 +40)\ncall 1\n",
     "R1 type=untrusted_ptr_ expected=map_ptr"),
    ("pointer member of an fentry argument is plain", OUTER + "r1 = *(u64 *)(r2 +32)\ncall 1\n",
     "R1 type=ptr_ expected=map_ptr"),
    ("void * member is untrusted memory", OUTER + "r1 = *(u64 *)(r2 +48)\ncall 1\n",
     "R1 type=rdonly_untrusted_mem expected=map_ptr"),
    ("past the struct", OUTER + "r3 = *(u32 *)(r2 +56)\n", "access beyond struct outer at off 56 size 4"),
    ("write", OUTER + "r3 = 0\n*(u32 *)(r2 +0) = r3\n", "only read is supported"),
    ("number argument, narrow", "r3 = *(u32 *)(r1 +8)\n", ""),
    ("return value in fentry", "r3 = *(u64 *)(r1 +16)\n", "invalid bpf_context access off=16 size=8"),
]


@pytest.mark.parametrize(("name", "body", "message"), CASES, ids=[case[0] for case in CASES])
def test_struct_layout_rules(name, body, message):
    verdict = _verify(body)
    assert (verdict.accepted, verdict.message) == (not message, message)


def test_fexit_reads_the_return_value():
    assert _verify("r3 = *(u32 *)(r1 +16)\n", AttachType.TRACE_FEXIT).accepted
    assert _verify("r3 = *(u32 *)(r1 +16)\n", AttachType.MODIFY_RETURN).accepted
    beyond = _verify("r3 = *(u64 *)(r1 +24)\n", AttachType.TRACE_FEXIT)
    assert "func 'target' doesn't have 4-th argument" in beyond.log


def test_the_log_names_the_argument_types():
    verdict = _verify(OUTER + "r3 = *(u8 *)(r2 -1)\n")
    assert "func 'target' arg0 has btf_id 7 type STRUCT 'outer'" in verdict.log
    assert verdict.message == "R2 is ptr_outer invalid negative access: off=-1"
