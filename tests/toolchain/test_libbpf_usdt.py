"""libbpf's USDT API (<bpf/usdt.bpf.h>: BPF_USDT, bpf_usdt_arg, bpf_usdt_arg_cnt,
bpf_usdt_cookie) on pybpf: attaching fills each site's argument spec, and the program
reads the arguments a <sys/sdt.h> probe passed, in the operand forms gcc chose at -O0
and -O2."""

from __future__ import annotations

import os
import struct
import subprocess

import pytest

import pybpf
from pybpf.usdt import parse_arguments
from pybpf.usdt.specs import MAX_ARGS, SPEC_SIZE, encode_spec
from sdt_probes import FIRINGS, build, needs_sdt

BPF_C = r"""
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include <bpf/usdt.bpf.h>

struct seen { long count, x, y, z, k, u, cookie, past_end; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, int); __type(value, struct seen); } seen SEC(".maps");

SEC("usdt")
int BPF_USDT(on_sample, int x, short y, long z, int k, unsigned char u)
{
    int slot = x / 10;
    struct seen *s = bpf_map_lookup_elem(&seen, &slot);
    long ignored;
    if (!s)
        return 0;
    s->count = bpf_usdt_arg_cnt(ctx);
    s->x = x; s->y = y; s->z = z; s->k = k; s->u = u;
    s->cookie = bpf_usdt_cookie(ctx);
    s->past_end = bpf_usdt_arg(ctx, 5, &ignored);
    return 0;
}
char LICENSE[] SEC("license") = "GPL";
"""


def test_specs_are_packed_as_the_header_lays_them_out():
    spec = encode_spec(parse_arguments("-4@%edi 8@-16(%rbp) 4@$5 8@8(%rax,%rbx,4)"), cookie=9)
    assert len(spec) == SPEC_SIZE == MAX_ARGS * 24 + 16
    val_off, kind, reg, index, shift, signed, bitshift = struct.unpack_from("<QIhhBBBx", spec, 24 * 3)
    assert (val_off, kind, reg, index, shift, signed, bitshift) == (8, 3, 80, 40, 2, 0, 0)
    assert struct.unpack_from("<QIhhBBBx", spec, 0)[1:] == (1, 112, 0, 0, 1, 32)
    assert struct.unpack_from("<Qh", spec, 24 * MAX_ARGS) == (9, 4)


@pytest.mark.skipif(os.geteuid() != 0, reason="usdt probes need root")
@needs_sdt
@pytest.mark.parametrize("optimisation", ["-O0", "-O2"])
def test_bpf_usdt_reads_every_argument(tmp_path, optimisation):
    binary = build(tmp_path, "libbpfusdt", optimisation, pause_us=0)
    with pybpf.load(pybpf.read(BPF_C), engine="kernel") as collection:
        with collection.programs["on_sample"].attach(f"usdt:{binary}:libbpfusdt:sample", cookie=77):
            subprocess.run([str(binary)], check=True)
        rows = [collection.maps["seen"][i] for i in range(4)]
    got = [(r.count, r.x, r.y, r.z, r.k, r.u, r.cookie, r.past_end) for r in rows]
    assert got == [(5, *firing, 77, -2) for firing in FIRINGS]
