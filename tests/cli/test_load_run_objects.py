"""``pybpf load`` and ``pybpf run`` on C programs and ELF objects compiled here: the same
answers from the kernel and the vm engine, and errors (a missing section, a bad packet
file, a verifier rejection, a broken object) as messages that name the place — the C
line for a rejection. Every load is closed again by the commands themselves."""

from __future__ import annotations

import json

import pytest

from pybpf.cli import main
from pybpf.object.elf import read_object
from pybpf.toolchain import CompileError, compile_c

PACKETS = r"""
#include <pybpf/bpf.h>

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } seen SEC(".maps");

SEC("xdp") int drop_0x42(struct xdp_md *ctx)
{
    unsigned char *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    __u32 k = 0;
    __u64 *count = bpf_map_lookup_elem(&seen, &k);
    if (count) *count += 1;
    if (data + 2 > end) return XDP_ABORTED;
    return data[0] == 0x42 ? XDP_DROP : XDP_PASS;
}

SEC("socket") int second_byte(struct __sk_buff *skb)
{
    __u8 b = 0;
    if (bpf_skb_load_bytes(skb, 1, &b, 1)) return -1;
    return b * 2;
}
LICENSE("GPL");
"""

REJECTED = r"""
#include <pybpf/bpf.h>

SEC("socket") int beyond(struct __sk_buff *skb)
{
    __u32 past = ((__u32 *)skb)[60];
    return past;
}
LICENSE("GPL");
"""

CORE = r"""
#include <pybpf/bpf.h>
struct task_struct { int pad; int tgid; } __attribute__((preserve_access_index));
SEC("socket") int tgid_offset(struct __sk_buff *skb)
{
    return __builtin_preserve_field_info(((struct task_struct *)0)->tgid, 0);
}
LICENSE("GPL");
"""


def _compile(source: str) -> bytes:
    try:
        return compile_c(source)
    except CompileError as exc:
        if "cannot run the compiler" in str(exc):
            pytest.skip(f"the ziglang clang cannot run here: {exc}")
        raise


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The C sources as .c files and the packets program also as an object."""
    directory = tmp_path_factory.mktemp("objects")
    out = {}
    for name, source in (("packets", PACKETS), ("rejected", REJECTED), ("core", CORE)):
        (directory / f"{name}.c").write_text(source)
        out[f"{name}.c"] = directory / f"{name}.c"
    out["packets.o"] = directory / "packets.o"
    out["packets.o"].write_bytes(_compile(PACKETS))
    out["core.o"] = directory / "core.o"
    out["core.o"].write_bytes(_compile(CORE))
    # a socket filter's packet starts after the Ethernet header, so its second byte is the 16th
    for name, data in (("drop.pkt", b"\x42" + bytes(14) + b"\x07" + bytes(48)),
                       ("pass.pkt", b"\x01" + bytes(14) + b"\x15" + bytes(48)), ("short.pkt", b"\x42")):
        (directory / name).write_bytes(data)
        out[name] = directory / name
    return out


@pytest.fixture(params=["vm", "kernel"])
def engine(request):
    if request.param == "kernel":
        from pybpf.kernel.engine import available

        reason = available()
        if reason:
            pytest.skip(f"bpf() is not permitted here: {reason}")
    return request.param


def _run_json(capsys, *argv: str) -> dict:
    assert main(["run", *map(str, argv), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("source", ["packets.o", "packets.c"])
@pytest.mark.parametrize("section, packet, retval", [
    ("xdp", "drop.pkt", 1), ("xdp", "pass.pkt", 2),                          # XDP_DROP, XDP_PASS
    ("socket", "drop.pkt", 14), ("second_byte", "pass.pkt", 42),           # 2 × the L3 header's 2nd byte
])
def test_run_returns_what_the_packet_says(files, capsys, engine, source, section, packet, retval):
    result = _run_json(capsys, files[source], "--section", section, "--data", files[packet], "--engine", engine)
    assert (result["retval"], result["engine"], result["data_out_len"]) == (retval, engine, 64)


def test_run_prints_duration_and_data_out(files, capsys, engine):
    assert main(["run", str(files["packets.o"]), "--section", "xdp", "--data", str(files["pass.pkt"]),
                 "--repeat", "50", "--engine", engine]) == 0
    r0, timing = capsys.readouterr().out.splitlines()
    assert r0 == f"r0 = 2 (0x2)  [{engine} engine]"
    assert timing.startswith("duration ") and timing.endswith("ns per run (50 runs), data_out 64 bytes")
    assert int(timing.split()[1]) >= 0


def test_load_reports_every_program_and_map(files, capsys, engine):
    assert main(["load", str(files["packets.o"]), "--engine", engine]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["PROGRAM", "SECTION", "TYPE", "INSNS", "ENGINE", "VERIFIED"]
    rows = {line.split()[0]: line.split() for line in out[1:3]}
    assert rows["drop_0x42"][1:3] == ["xdp", "xdp"] and rows["drop_0x42"][4:] == [engine, "OK"]
    assert rows["second_byte"][1:3] == ["socket", "socket_filter"] and rows["second_byte"][-1] == "OK"
    maps = {line.split()[0]: line.split() for line in out[4:]}
    assert maps["seen"] == ["seen", "array", "4", "8", "1", engine, "OK"]


def test_load_json_from_c(files, capsys, engine):
    assert main(["load", str(files["packets.c"]), "--engine", engine, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {p["name"]: p["verified"] for p in report["programs"]} == {"drop_0x42": "OK", "second_byte": "OK"}
    assert all(p["instructions"] > 3 and p["error"] == "" for p in report["programs"])


def test_verifier_rejection_names_the_c_line(files, capsys, engine):
    assert main(["load", str(files["rejected.c"]), "--engine", engine]) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("beyond "))
    assert "rejected at insn" in row and "rejected.c:6)" in row
    assert "source: " in out and "__u32 past = ((__u32 *)skb)[60];" in out
    assert main(["run", str(files["rejected.c"]), "--engine", engine]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pybpf run: error: BPF_PROG_LOAD") and "rejected.c:6:" in err and "Traceback" not in err


def test_core_btf_chooses_the_target(files, tmp_path, capsys, engine):
    own = tmp_path / "own.btf"
    own.write_bytes(read_object(files["core.o"]).section(".BTF").data)
    # against the object's own BTF the field stays where it is; the running kernel's
    # task_struct puts tgid much further in
    assert _run_json(capsys, files["core.o"], "--core-btf", own, "--engine", engine)["retval"] == 4
    assert _run_json(capsys, files["core.c"], "--engine", engine)["retval"] > 4
    assert main(["load", str(files["core.o"]), "--core-btf", str(own), "--engine", engine]) == 0
    capsys.readouterr()


_RUN_ERRORS = [
    (["packets.o", "--section", "nope"], "no program in section or named 'nope' (programs: drop_0x42 (xdp)"),
    (["packets.o", "--section", "xdp", "--data", "missing"], "missing.pkt: No such file"),
    (["packets.o", "--section", "xdp", "--data", "short.pkt"],
     "the packet is 1 bytes; a xdp program's test run needs at least an Ethernet header (14 bytes)"),
]
_OBJECT_ERRORS = [
    (["broken.o"], "broken: section 1 (the section name table): offset 0x10000000000"),
    (["core.o", "--core-btf", "missing"], "missing.pkt: cannot read the target BTF"),
]


@pytest.mark.parametrize("command, argv, why", [("run", *case) for case in _RUN_ERRORS + _OBJECT_ERRORS]
                         + [("load", *case) for case in _OBJECT_ERRORS])
def test_errors_are_one_line(files, tmp_path, capsys, command, argv, why):
    broken = bytearray(files["packets.o"].read_bytes())
    shoff = int.from_bytes(broken[40:48], "little")
    broken[shoff + 64 + 24:shoff + 64 + 32] = (1 << 40).to_bytes(8, "little")   # section 1's sh_offset
    (tmp_path / "broken.o").write_bytes(broken)
    paths = {**{k: str(v) for k, v in files.items()}, "missing": str(tmp_path / "missing.pkt"),
             "broken.o": str(tmp_path / "broken.o")}
    assert main([command, *(paths.get(a, a) for a in argv), "--engine", "vm"]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(f"pybpf {command}: error: ") and why in captured.err
    assert captured.err.count("\n") == 1 and captured.out == ""


def test_rejection_names_the_users_file_not_a_temporary_copy(tmp_path, capsys):
    source = tmp_path / "mine.c"
    source.write_text('#include <pybpf/bpf.h>\nSEC("socket") int past(struct __sk_buff *skb)\n{\n'
                      '    return ((__u32 *)skb)[60];\n}\nLICENSE("GPL");\n')
    assert main(["load", str(source), "--engine", "vm"]) == 1
    err = capsys.readouterr()
    assert f"{source}:4" in err.out + err.err
