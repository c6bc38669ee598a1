"""``pybpf probe``, ``pybpf prog`` and ``pybpf map`` run in-process, bpftool as reference."""

from __future__ import annotations

import json
import subprocess

import pytest
from sample_programs import counter, returns

from pybpf.cli import main
from pybpf.kernel.maps import create_map
from pybpf.kernel.programs import load_program, open_pinned_program
from pybpf.object import MapSpec, MapType

pytestmark = pytest.mark.usefixtures("bpf_permitted", "no_fd_leak")


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_probe_table_and_json(capsys, tmp_path):
    code, out, _ = _run(capsys, "probe", "--type", "socket_filter")
    assert code == 0
    assert "Program types" in out and "Map types" in out and "bpf_map_lookup_elem" in out
    target = tmp_path / "probe.json"
    assert _run(capsys, "probe", "--json", "--no-helpers", "-o", str(target))[0] == 0
    data = json.loads(target.read_text())
    assert data["map_types"]["hash"] == "yes" and data["helpers"] == {}


def test_probe_bad_type_is_one_line(capsys):
    code, out, err = _run(capsys, "probe", "--type", "nosuch")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "nosuch" in err


def test_prog_list_and_show_match_bpftool(capsys, bpftool):
    with create_map(MapSpec("hits", MapType.ARRAY, 4, 8, 1)) as hits, \
            load_program(counter("hits"), {"hits": hits.fd}.__getitem__) as prog:
        code, out, _ = _run(capsys, "prog", "list", "--json")
        listed = {p["id"]: p for p in json.loads(out)}
        assert code == 0 and listed[prog.id]["name"] == "count"
        code, out, _ = _run(capsys, "prog", "show", str(prog.id), "--json")
        ours = json.loads(out)
        theirs = json.loads(subprocess.run([bpftool, "--json", "prog", "show", "id",
                                            str(prog.id)], check=True, capture_output=True,
                                           text=True).stdout)
        for field in ("id", "type", "name", "tag", "gpl_compatible", "bytes_xlated",
                      "bytes_jited", "map_ids"):
            assert ours[field] == theirs[field], field
        code, out, _ = _run(capsys, "prog", "show", str(prog.id))
        assert out.splitlines()[0].split() == ["ID", "TYPE", "NAME", "TAG", "XLATED",
                                               "JITED", "MAPS", "RUNS", "RUN_NS"]
        assert f"{prog.id}  socket_filter  count  {prog.tag}" in out


def test_map_show_and_dump_match_bpftool(capsys, bpftool):
    with create_map(MapSpec("dumped", MapType.HASH, 4, 2, 8)) as m, \
            create_map(MapSpec("pcpu", MapType.PERCPU_ARRAY, 4, 4, 1)) as pc:
        m[1], m[0x01020304] = 0xAABB, 7
        for target in (m, pc):
            ours = json.loads(_run(capsys, "map", "dump", str(target.id), "--json")[1])
            theirs = json.loads(subprocess.run(
                [bpftool, "--json", "map", "dump", "id", str(target.id)], check=True,
                capture_output=True, text=True).stdout)
            key = lambda e: e["key"]  # noqa: E731
            assert sorted(ours, key=key) == sorted(theirs, key=key)
        shown = json.loads(_run(capsys, "map", "show", str(m.id), "--json")[1])
        assert (shown["bytes_key"], shown["bytes_value"], shown["max_entries"]) == (4, 2, 8)
        code, out, _ = _run(capsys, "map", "dump", str(m.id))
        assert "key: 01 00 00 00  value: bb aa" in out and out.endswith("Found 2 elements\n")
        code, out, _ = _run(capsys, "map", "list")
        assert any(line.split()[:3] == [str(m.id), "hash", "dumped"] for line in out.splitlines())


def test_map_dump_of_a_queue_and_missing_ids_fail_in_one_line(capsys, tmp_path):
    with create_map(MapSpec("q", MapType.QUEUE, 0, 4, 2)) as q:
        target = tmp_path / "dump.txt"
        code, _, err = _run(capsys, "map", "dump", str(q.id), "-o", str(target))
        assert code == 1 and "has no keys" in err and not target.exists()
    code, _, err = _run(capsys, "map", "show", "4000000000")
    assert code == 1 and err.startswith("pybpf map: error: BPF_MAP_GET_FD_BY_ID")


def test_map_update_lookup_delete_pin_in_bpftools_syntax(capsys, bpftool, bpffs):
    with create_map(MapSpec("edited", MapType.HASH, 4, 4, 4)) as m:
        mid = str(m.id)
        assert _run(capsys, "map", "update", mid, "--key", "1", "0", "0", "0",
                    "--value", "hex", "ff", "00", "00", "00")[0] == 0
        assert m[1] == 0xFF
        subprocess.run([bpftool, "map", "update", "id", mid, "key", "2", "0", "0", "0",
                        "value", "0x07", "0", "0", "0"], check=True, capture_output=True)
        code, out, _ = _run(capsys, "map", "lookup", mid, "--key", "0x02", "0", "0", "0")
        assert out == "key: 02 00 00 00  value: 07 00 00 00\n"
        ours = json.loads(_run(capsys, "map", "lookup", mid, "--key", "2", "0", "0", "0",
                               "--json")[1])
        theirs = json.loads(subprocess.run(
            [bpftool, "--json", "map", "lookup", "id", mid, "key", "2", "0", "0", "0"],
            check=True, capture_output=True, text=True).stdout)
        assert ours == theirs
        code, _, err = _run(capsys, "map", "update", mid, "--key", "1", "0", "0", "0",
                            "--value", "1", "0", "0", "0", "--flags", "noexist")
        assert code == 1 and "EEXIST" in err
        assert _run(capsys, "map", "delete", mid, "--key", "1", "0", "0", "0")[0] == 0
        assert 1 not in m
        code, _, err = _run(capsys, "map", "delete", mid, "--key", "1", "0", "0", "0")
        assert code == 1 and err.strip().endswith("has no element with key 01 00 00 00")
        path = f"{bpffs}/edited"
        assert _run(capsys, "map", "pin", mid, path)[0] == 0
        assert json.loads(subprocess.run([bpftool, "--json", "map", "show", "pinned", path],
                                         check=True, capture_output=True, text=True).stdout
                          )["id"] == m.id


@pytest.mark.parametrize("tokens,message", [
    (["1", "0", "0"], "3 bytes given, 4 expected"),
    (["1", "0", "0", "x"], "byte 4 ('x') is not a number"),
    (["256", "0", "0", "0"], "byte 1 (256) is not in 0..255"),
])
def test_map_key_syntax_errors(capsys, tokens, message):
    with create_map(MapSpec("k", MapType.HASH, 4, 4, 1)) as m:
        code, _, err = _run(capsys, "map", "lookup", str(m.id), "--key", *tokens)
    assert code == 1 and message in err and err.count("\n") == 1


def test_prog_pin(capsys, bpffs):
    with load_program(returns(0)) as prog:
        path = f"{bpffs}/p"
        assert _run(capsys, "prog", "pin", str(prog.id), path)[0] == 0
        with open_pinned_program(path) as again:
            assert again.id == prog.id
        code, _, err = _run(capsys, "prog", "pin", str(prog.id), "/tmp/not-bpffs-pin")
        assert code == 1 and "not on a BPF filesystem" in err
