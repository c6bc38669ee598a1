"""<pybpf/bpf_helpers.h>: a typed declaration for every helper of enum bpf_func_id, at the
id pybpf.isa.helpers gives it; programs calling a sample of them with correctly typed
arguments compile without a warning, with and without <vmlinux.h>, to calls of those ids."""

from __future__ import annotations

import io
import os
import re

import pytest
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile

from pybpf.isa import decode, opcodes
from pybpf.isa.helpers import HELPER_IDS, HELPER_NAMES
from pybpf.toolchain import compile_object, include_dir

VMLINUX = "/sys/kernel/btf/vmlinux"
HEADER = include_dir() / "pybpf" / "bpf_helpers.h"
DECLARATION = re.compile(r"^static (?P<ret>[^(]+?) ?\(\* const bpf_(?P<name>\w+)\)\((?P<args>[^)]*)\) "
                         r"= \(void \*\) (?P<id>\d+);$", re.M)

# Maps by type number (the names of the newer ones exist only in vmlinux.h): 1 hash,
# 2 array, 14 devmap, 27 ringbuf, 29 task storage, 31 user ringbuf, 32 cgroup storage.
PROGRAM = r"""
#include <pybpf/bpf.h>

struct { __uint(type, 1); __uint(max_entries, 8); __type(key, u32); __type(value, u64); } counts SEC(".maps");
struct { __uint(type, 14); __uint(max_entries, 4); __type(key, u32); __type(value, u32); } ports SEC(".maps");
struct { __uint(type, 27); __uint(max_entries, 4096); } events SEC(".maps");
struct { __uint(type, 29); __uint(map_flags, 1); __type(key, int); __type(value, u64); } per_task SEC(".maps");
struct { __uint(type, 31); __uint(max_entries, 4096); } requests SEC(".maps");
struct { __uint(type, 32); __uint(map_flags, 1); __type(key, int); __type(value, u64); } per_cgroup SEC(".maps");

static long count_one(u64 index, void *ctx)
{
    *(u64 *)ctx += index;
    return 0;
}

static long take_request(struct bpf_dynptr *request, void *ctx)
{
    u32 word = 0;
    bpf_dynptr_read(&word, sizeof(word), request, 0, 0);
    *(u32 *)ctx += word;
    return 0;
}

SEC("tc") int classify(struct __sk_buff *skb)
{
    __be32 old[1] = { 1 }, new[1] = { 2 };
    char bytes[4] = { 1, 2, 3, 4 };
    struct bpf_sock_tuple *tuple = (void *)(long)skb->data;
    struct bpf_sock *sk;
    s64 diff = bpf_csum_diff(old, sizeof(old), new, sizeof(new), 0);

    if (bpf_skb_store_bytes(skb, 14, bytes, sizeof(bytes), 0) < 0)
        return 2;
    bpf_l3_csum_replace(skb, 24, 0, diff, 0);
    bpf_skb_vlan_push(skb, bpf_htons(0x8100), 7);
    bpf_skb_change_tail(skb, skb->len + 4, 0);
    sk = bpf_sk_lookup_tcp(skb, tuple, 12, (u64)-1, 0);
    if (sk) {
        struct bpf_tcp_sock *tcp = bpf_tcp_sock(sk);
        if (tcp)
            skb->mark = (u32)bpf_get_socket_cookie(skb);
        bpf_sk_release(sk);
    }
    return bpf_redirect(bpf_get_hash_recalc(skb) & 3, 0);
}

SEC("xdp") int forward(struct xdp_md *ctx)
{
    u32 mtu = 0, head = 0;
    if (bpf_xdp_adjust_meta(ctx, -4) || bpf_check_mtu(ctx, 0, &mtu, 0, 0))
        return 1;
    bpf_xdp_load_bytes(ctx, 0, &head, sizeof(head));
    if (bpf_xdp_get_buff_len(ctx) > mtu)
        return 1;
    return bpf_redirect_map(&ports, head & 3, 0);
}

SEC("fentry/do_nanosleep") int watch(void *ctx)
{
    struct task_struct *task = bpf_get_current_task_btf();
    u64 *seen = bpf_task_storage_get(&per_task, task, NULL, 1);
    u64 sum = 0, arg = 0, key = bpf_get_func_ip(ctx);
    char text[32], stack[64];
    u64 args[2] = { 1, 2 };
    u32 requested = 0;

    if (seen)
        *seen += 1;
    bpf_get_func_arg(ctx, 0, &arg);
    bpf_loop(4, count_one, &sum, 0);
    bpf_user_ringbuf_drain(&requests, take_request, &requested, 0);
    bpf_snprintf(text, sizeof(text), "%d %d", args, sizeof(args));
    if (bpf_strncmp(text, sizeof(text), "1 2") == 0)
        bpf_get_task_stack(task, stack, sizeof(stack), 0);
    bpf_map_update_elem(&counts, &key, &sum, BPF_ANY);
    bpf_ringbuf_output(&events, &requested, sizeof(requested), 0);
    return (int)bpf_ktime_get_tai_ns();
}

SEC("fentry/vfs_truncate") int truncate(u64 *ctx)
{
    const struct path *path = (const void *)(long)ctx[0];
    char name[64];
    return bpf_d_path(path, name, sizeof(name)) < 0;
}

SEC("kprobe/vfs_read") int override(struct pt_regs *ctx)
{
    return bpf_override_return(ctx, 0) + (bpf_get_attach_cookie(ctx) != 0);
}

LICENSE("GPL");
"""


pytestmark = pytest.mark.usefixtures("module_cache")


def declared() -> list[tuple[str, int]]:
    return [(m["name"], int(m["id"])) for m in DECLARATION.finditer(HEADER.read_text())]


def test_every_helper_of_the_kernel_is_declared_once_at_its_id():
    found = declared()
    assert len(found) == len({name for name, _ in found}), "a helper is declared twice"
    expected = {name: i for i, name in HELPER_NAMES.items() if i}
    assert dict(found) == expected
    assert max(expected.values()) == 211 and len(found) == 211


def test_every_declaration_is_typed_and_bpf_h_declares_none_of_its_own():
    text = HEADER.read_text()
    lines = [line for line in text.splitlines() if "(* const bpf_" in line]
    assert len(lines) == len(DECLARATION.findall(text)), "a declaration the pattern does not read"
    for match in DECLARATION.finditer(text):
        assert match["args"], match["name"]     # "(void)" or parameters, never "()"
        # the program's spelling of kernel types; of vmlinux.h's typedefs only __u32 and __u64
        assert not re.search(r"\b_*[us](8|16|32|64)\b|\b(size_t|__wsum|__be16|__be32)\b|"
                             r"struct (bpf_map|sk_buff|xdp_buff|sk_msg_buff)\b",
                             match.group(0).replace("__u32", "").replace("__u64", "")), match.group(0)
    bpf_h = (include_dir() / "pybpf" / "bpf.h").read_text()
    assert "(* const bpf_" not in bpf_h and "#include <pybpf/bpf_helpers.h>" in bpf_h


def helper_calls(data: bytes) -> set[int]:
    """The helper ids the object's programs call (call instructions with src 0)."""
    ids = set()
    elf = ELFFile(io.BytesIO(data))
    for section in elf.iter_sections():
        if section["sh_type"] == "SHT_PROGBITS" and section["sh_flags"] & SH_FLAGS.SHF_EXECINSTR:
            for ins in decode(section.data()):
                if ins.opcode == opcodes.JMP | opcodes.CALL:
                    if ins.src == opcodes.CALL_HELPER:
                        ids.add(ins.imm)
    return ids


def called_in_source() -> set[int]:
    names = set(re.findall(r"\bbpf_(\w+)\(", PROGRAM)) - {"htons"}
    return {HELPER_IDS[name] for name in names}


def check_compiles_to_the_right_calls(source: str) -> None:
    result = compile_object(source, cflags=["-Wall", "-Wextra", "-Werror"])
    assert result.diagnostics == ()
    calls = helper_calls(result.data)
    expected = called_in_source()
    assert len(expected) >= 20
    assert calls == expected, (sorted(calls - expected), sorted(expected - calls))


def test_sample_compiles_warning_free_to_calls_of_the_helper_ids():
    check_compiles_to_the_right_calls(PROGRAM)


@pytest.mark.skipif(not os.path.exists(VMLINUX), reason=f"{VMLINUX} is absent: no kernel BTF")
def test_sample_compiles_warning_free_after_vmlinux_h():
    check_compiles_to_the_right_calls("#include <vmlinux.h>\n" + PROGRAM)


def test_bpf_helpers_h_on_its_own_brings_the_types():
    result = compile_object("#include <pybpf/bpf_helpers.h>\n"
                            "SEC(\"socket\") int f(struct __sk_buff *skb) { return bpf_get_prandom_u32() + skb->len; }\n"
                            "LICENSE(\"GPL\");\n", cflags=["-Wall", "-Werror"])
    assert result.diagnostics == ()
    assert helper_calls(result.data) == {HELPER_IDS["get_prandom_u32"]}
