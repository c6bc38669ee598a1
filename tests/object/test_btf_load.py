"""An object's BTF made acceptable to the kernel (DATASEC sizes, variable offsets,
extern linkages), loaded with its programs (func_info, line_info) and its maps
(key/value type ids), and verifier rejections that quote the C line on both engines."""

from __future__ import annotations

import pytest

from pybpf.btf import BTF, Kind
from pybpf.engine import VerifierError, load
from pybpf.object.elf import load_object, read_object
from pybpf.object.elf.btf_fixup import fix_btf

SOURCE = r"""
#include <pybpf/bpf.h>
struct value { __u64 packets; __u64 last_len; };
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, struct value);
} stats SEC(".maps");
__u64 seen = 5;
volatile const __u32 bonus = 7;
static __attribute__((noinline)) int account(__u32 len)
{
    __u32 key = 1;
    struct value *v = bpf_map_lookup_elem(&stats, &key);
    if (!v) {
        struct value fresh = { 1, len };
        bpf_map_update_elem(&stats, &key, &fresh, BPF_ANY);
        return 1;
    }
    v->packets += 1;
    v->last_len = len;
    return 2;
}
SEC("socket") int count(struct __sk_buff *skb)
{
    seen += 1;
    bpf_printk("len %d", skb->len);
    return account(skb->len) + bonus;
}
LICENSE("GPL");
"""

BROKEN = r"""
#include <pybpf/bpf.h>
SEC("socket") int broken(struct __sk_buff *skb)
{
    __u32 len = skb->len;
    __u32 beyond = ((__u32 *)skb)[60];   /* past the end of __sk_buff */
    return len + beyond;
}
LICENSE("GPL");
"""


@pytest.fixture(scope="module")
def obj(build):
    return build(SOURCE)


def test_datasec_sizes_and_offsets_come_from_the_elf_layout(obj):
    elf = read_object(obj)
    raw = BTF.parse(elf.section(".BTF").data)
    assert {raw.find(name, Kind.DATASEC).size for name in (".data", ".rodata", ".maps", "license")} == {0}
    fixed = BTF.parse(fix_btf(elf, elf.section(".BTF").data))
    symbols = {s.name: s for s in elf.symbols}
    for name in (".data", ".rodata", ".maps", "license"):
        datasec = fixed.find(name, Kind.DATASEC)
        assert datasec.size == elf.section(name).size
        offsets = [v.offset for v in datasec.members]
        assert offsets == sorted(offsets)
        for variable in datasec.members:
            assert variable.offset == symbols[fixed[variable.type].name].value


def test_program_and_maps_carry_btf_into_the_kernel(obj, kernel):
    from pybpf.kernel.info import map_info, prog_info

    spec = load_object(obj, name="btfload")
    assert spec.maps["stats"].btf_key_type_id and spec.maps["stats"].btf_value_type_id
    with load(spec, engine="kernel") as coll:
        info = prog_info(coll.programs["count"].fd)
        assert info.btf_id and info.nr_func_info == 2 and info.nr_line_info > 5
        stats = map_info(coll.maps["stats"].fd)
        assert stats.btf_id == info.btf_id
        assert (stats.btf_key_type_id, stats.btf_value_type_id) == (
            spec.maps["stats"].btf_key_type_id, spec.maps["stats"].btf_value_type_id)
        data = map_info(coll.maps["btfload.data"].fd)
        assert data.btf_id == info.btf_id and data.btf_value_type_id == spec.maps["btfload.data"].btf_value_type_id
        assert coll.programs["count"].test_run(bytes(64)).retval == 8


@pytest.mark.parametrize("engine", ["vm", "kernel"])
def test_same_results_on_both_engines(obj, engine, request):
    if engine == "kernel":
        request.getfixturevalue("kernel")
    with load(load_object(obj, name="btfload"), engine=engine) as coll:
        program = coll.programs["count"]
        assert [program.test_run(bytes(64)).retval for _ in range(2)] == [8, 9]
        # the value's BTF type (struct value) decodes it into named fields
        assert coll.maps["stats"][1] == {"packets": 2, "last_len": 50}
        assert coll.maps["stats"][1].packets == 2


@pytest.mark.parametrize("engine", ["vm", "kernel"])
def test_verifier_rejection_quotes_the_c_line(build, engine, request):
    if engine == "kernel":
        request.getfixturevalue("kernel")
    spec = load_object(build(BROKEN), name="broken")
    with pytest.raises(VerifierError) as caught:
        load(spec, engine=engine)
    error = caught.value
    message = str(error)
    assert "__u32 beyond = ((__u32 *)skb)[60];" in message
    assert error.failing_slot == 1 and "source:" in error.source and ":6:" in error.source
    assert "off=240" in message
