"""Objects from Debian's clang-14 (``clang-14 -target bpf -O2 -g -c``) load like those
from the ziglang clang: the same programs give the same test-run results on the vm
engine, in the kernel, and from either compiler (BTF maps, subprograms, global data,
CO-RE relocations, XDP packet access)."""

from __future__ import annotations

import struct

import pytest
from test_btf_load import SOURCE as MAPS_AND_SUBPROGRAMS
from test_core import LOCAL as CO_RE
from test_core import TARGET, btf_of

from pybpf.engine import load
from pybpf.object.elf import load_object

XDP = r"""
#include <pybpf/bpf.h>
struct eth { __u8 dst[6], src[6]; __u16 proto; };
SEC("xdp") int swap_macs(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct eth *eth = data;
    if ((void *)(eth + 1) > end)
        return XDP_DROP;
    __u8 tmp[6];
    __builtin_memcpy(tmp, eth->dst, 6);
    __builtin_memcpy(eth->dst, eth->src, 6);
    __builtin_memcpy(eth->src, tmp, 6);
    return eth->proto == bpf_htons(0x0800) ? XDP_TX : XDP_PASS;
}
LICENSE("GPL");
"""

#: clang-14 predates bpf_core_type_matches() (clang 15): the same program without it
CO_RE_14 = CO_RE.replace("out[13] = __builtin_preserve_type_info(*(struct hdr *)0, 2);", "")
PACKET = bytes(range(12)) + b"\x08\x00" + bytes(range(50, 82))


def _results(spec, engine: str) -> list:
    """What each program returns (and leaves in its maps) on the same inputs."""
    out = []
    with load(spec, engine=engine) as coll:
        for name in sorted(coll.programs):
            program = coll.programs[name]
            runs = [program.test_run(PACKET) for _ in range(2)]
            out.append((name, [r.retval for r in runs], runs[-1].data_out[:len(PACKET)]))
        for name in sorted(coll.maps):
            table = coll.maps[name]
            if name.endswith((".bss", ".data")) or name == "stats":
                out.append((name, sorted((bytes(k) if isinstance(k, bytes) else k, bytes(v) if isinstance(v, bytes)
                                          else v) for k, v in table.items())))
    return out


@pytest.mark.parametrize("source", [MAPS_AND_SUBPROGRAMS, CO_RE_14, XDP], ids=["maps", "co-re", "xdp"])
def test_clang14_objects_run_the_same_everywhere(build, build14, kernel, source):
    core_btf = btf_of(build(TARGET))
    results = {}
    for compiler, compile_ in (("zig", build), ("clang-14", build14)):
        spec = load_object(compile_(source), name="c14", core_btf=core_btf)
        for engine in ("vm", "kernel"):
            results[compiler, engine] = _results(spec, engine)
    first = results["zig", "vm"]
    assert first and all(r == first for r in results.values()), results


def test_clang14_object_has_btf_ext_and_co_re(build14, build):
    spec = load_object(build14(CO_RE_14), name="c14", core_btf=btf_of(build(TARGET)))
    program = spec.programs["read_hdr"]
    assert program.btf is not None and program.btf.func_info and program.btf.line_info
    assert len(program.core) > 20
    source = program.btf.source_line(0)
    assert source is not None and source.file.endswith(".c") and source.line > 0
    assert struct.unpack_from("<II", program.btf.func_info)[0] == 0
