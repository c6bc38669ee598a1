"""``pybpf verify``: verdicts, messages, JSON, exit status, and --compare on the kernel."""

from __future__ import annotations

import json

import pytest

from pybpf.cli import main

SAFE = "r0 = 0\nexit\n"
UNSAFE = "r2 = *(u32 *)(r1 +0)\nr0 = *(u8 *)(r2 +0)\nr0 = 2\nexit\n"


def test_accepted_program_exits_zero(tmp_path, capsys):
    path = tmp_path / "ok.asm"
    path.write_text(SAFE)
    assert main(["verify", str(path)]) == 0
    assert "verify (socket_filter): accepted" in capsys.readouterr().out


def test_refusal_names_the_instruction_and_message(tmp_path, capsys):
    path = tmp_path / "bad.asm"
    path.write_text(UNSAFE)
    assert main(["verify", str(path), "--type", "xdp", "--log-level", "2"]) == 1
    out = capsys.readouterr().out
    assert "refused at instruction 1 (EACCES): R2 offset is outside of the packet" in out
    assert "processed 2 insns (limit 1000000)" in out


def test_json(tmp_path, capsys):
    path = tmp_path / "bad.asm"
    path.write_text(UNSAFE)
    assert main(["verify", str(path), "--type", "xdp", "--json"]) == 1
    row = json.loads(capsys.readouterr().out)
    assert row["accepted"] is False and row["instruction"] == 1 and row["type"] == "xdp"


def test_unknown_type_is_one_line_error(tmp_path, capsys):
    path = tmp_path / "ok.asm"
    path.write_text(SAFE)
    assert main(["verify", str(path), "--type", "nonsense"]) == 1
    assert "--type" in capsys.readouterr().err


def test_compare_with_the_kernel(tmp_path, capsys):
    from pybpf.kernel.engine import available

    why = available()
    if why is not None:
        pytest.skip(f"the kernel's verifier is not available: {why}")
    path = tmp_path / "bad.asm"
    path.write_text(UNSAFE)
    assert main(["verify", str(path), "--type", "xdp", "--compare"]) == 0     # both refuse: they agree
    out = capsys.readouterr().out
    assert "kernel: refused (EACCES): R2 offset is outside of the packet" in out and "verdicts agree" in out


def test_compare_pins_nothing(tmp_path, capsys):
    """A map pinned by name in the object is created unpinned for the kernel's verdict:
    verifying leaves nothing in bpffs."""
    import os

    from pybpf.kernel.engine import available

    why = available()
    if why is not None:
        pytest.skip(f"the kernel's verifier is not available: {why}")
    name = f"pybpf_verify_pin_{os.getpid()}"
    path = tmp_path / "pinned.c"
    path.write_text("#include <bpf/bpf_helpers.h>\n"
                    "struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, int); "
                    f"__type(value, long); __uint(pinning, LIBBPF_PIN_BY_NAME); }} {name} SEC(\".maps\");\n"
                    'SEC("xdp") int prog(void *ctx) { int k = 0; long *v = bpf_map_lookup_elem(&' + name
                    + ", &k); return v ? 2 : 1; }\nchar LICENSE[] SEC(\"license\") = \"GPL\";\n")
    assert main(["verify", str(path), "--compare"]) == 0
    assert "verdicts agree" in capsys.readouterr().out
    assert not os.path.exists(f"/sys/fs/bpf/{name}"[:len('/sys/fs/bpf/') + 15])
    assert not any(entry.startswith("pybpf_verify_pi") for entry in os.listdir("/sys/fs/bpf"))
