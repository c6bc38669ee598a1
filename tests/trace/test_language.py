"""The trace language without root: parsing, located errors, code generation that the
eBPF instruction checker accepts, printf rendering and bpftrace's map output format."""

from __future__ import annotations

import struct

import pytest

from pybpf.isa.instruction import problem
from pybpf.trace import ast
from pybpf.trace.codegen import MapInfo
from pybpf.trace.errors import TraceSyntaxError
from pybpf.trace.output import hist_text, lhist_text, map_text
from pybpf.trace.parser import parse
from pybpf.trace.printf import render
from pybpf.trace.runtime import compile_source
from pybpf.trace.types import INT64, UINT64, string


def test_probe_list_predicate_and_statements():
    program = parse('t:syscalls:sys_enter_openat, uprobe:/bin/bash:readline /pid == 1 && comm == "x"/ '
                    '{ @[comm, pid] = count(); $x = args->flags; if ($x > 1) { @y++ } else { delete(@y); } }')
    probe = program.probes[0]
    assert [p.kind for p in probe.points] == ["tracepoint", "uprobe"]
    assert probe.points[1].parts == ["/bin/bash", "readline"]
    assert isinstance(probe.predicate, ast.Binary) and probe.predicate.op == "&&"
    assert isinstance(probe.body[0], ast.Assign) and len(probe.body[0].target.keys) == 2
    assert isinstance(probe.body[2], ast.If) and probe.body[2].otherwise


def test_precedence_is_c():
    expr = parse("BEGIN { $x = 1 + 2 * 3 << 1 == 14 ? 5 : 6; }").probes[0].body[0].value
    assert isinstance(expr, ast.Ternary)
    assert expr.condition.op == "==" and expr.condition.left.op == "<<"
    assert expr.condition.left.left.right.op == "*"


def test_comments_includes_and_struct_definitions_are_skipped():
    source = "#!/usr/bin/env bpftrace\n#include <linux/sched.h>\nstruct x { int a; };\n// c\n/* d */ BEGIN { exit() }"
    assert parse(source).probes[0].points[0].kind == "BEGIN"


@pytest.mark.parametrize("source, line, column, words", [
    ("BEGIN { @x = ; }", 1, 14, "unexpected ';'"),
    ("BEGIN {\n  $x = 1 +;\n}", 2, 11, "unexpected ';'"),
    ("bogus:x { }", 1, 1, "invalid probe type 'bogus'"),
    ("BEGIN { printf(\"%d\\n\"); }", 1, 9, "printf: Not enough arguments for format string (0 supplied, 1 expected)"),
    ("BEGIN { print(pidd); }", 1, 15, "unknown identifier 'pidd'"),
    ("BEGIN { @x = count(); @x = 5; }", 1, 28, "type mismatch"),
])
def test_errors_point_at_line_and_column(source, line, column, words):
    with pytest.raises(TraceSyntaxError) as info:
        compile_source(source)
    assert info.value.line_column == (line, column)
    assert words in str(info.value)
    text = str(info.value).splitlines()
    assert text[0].startswith(f"stdin:{line}:{column}") and text[2].index("~") == column - 1


def test_kprobe_is_refused_with_the_tracepoint_named():
    with pytest.raises(TraceSyntaxError) as info:
        compile_source("kprobe:do_sys_openat2 { }")
    message = str(info.value)
    assert "kprobe" in message


def test_generated_code_is_valid_ebpf():
    compiled = compile_source(
        'BEGIN { @a = count(); @s[comm, 1] = sum(5); @h = hist(7); @l = lhist(3, 0, 10, 2); @m = min(-3); '
        '@st = stats(4); $s = "abc"; if ($s == "abc" && strncmp(comm, "py", 2) == 0) { printf("%s %d\\n", $s, 1); } '
        '@t = (1, "x"); $i = 0; while ($i < 3) { $i++; } unroll(2) { $i += 1; } '
        'printf("%d\\n", $i > 2 ? 1 : 0); exit(); }')
    probe, = compiled.probes
    assert probe.program_type == "raw_tracepoint"
    assert all(problem(ins) is None for ins in probe.instructions)
    assert set(compiled.maps) == {"@a", "@s", "@h", "@l", "@m", "@st", "@t"}
    assert compiled.maps["@s"].keys == [string(16), INT64]
    assert compiled.maps["@h"].full_key_size == 16


def test_printf_integer_conversions_read_as_c_varargs():
    # bpftrace passes each integer to snprintf as 64 bits: %d/%u/%x read an int (32 bits),
    # %hd/%hhd 16/8, %ld/%lld/%lu all 64 (outputs as bpftrace 0.17 printed them here)
    assert render("%d %u %x %5s|%-3d|%c%%", [-1, 2**64 - 1, 255, "ab", 7, 65],
                  [INT64, UINT64, INT64, string(3), INT64, INT64], str) == "-1 4294967295 ff    ab|7  |A%"
    assert render("%d %lu %ld %llu %lld %hhd %hd", [1 << 63, 2**64 - 1, -1, 2, -2, 300, 70000], [INT64] * 7, str) == \
        f"0 {2**64 - 1} -1 2 -2 44 4464"
    assert render("%x %X %o %lx|%05d|%-05d|%.3d|%#x|%#o", [-1, 3054, 8, -1, -42, 42, 7, 255, 8], [INT64] * 9, str) == \
        "ffffffff BEE 10 ffffffffffffffff|-0042|42   |007|0xff|010"


def test_hist_and_lhist_text_match_bpftrace():
    # expected lines taken from bpftrace 0.17's output for hist(5), hist(100), hist(0), hist(-1)
    text = hist_text({0: 1, 1: 1, 4: 1, 8: 1})
    lines = text.splitlines()
    assert lines[0] == "(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|"
    assert lines[3] == "[2, 4)                 0 |                                                    |"
    assert lines[-1].startswith("[64, 128)              1 |@")
    assert lhist_text({1: 1, 11: 1}, 0, 100, 10).splitlines()[-1].startswith("[100, ...)             1 |")


def test_map_text_sorts_by_value_and_by_key():
    info = MapInfo("@", [string(16)], "count")
    items = [(b"b".ljust(16, b"\0"), [struct.pack("<Q", 3), struct.pack("<Q", 1)]),
             (b"a".ljust(16, b"\0"), [struct.pack("<Q", 1), struct.pack("<Q", 0)])]
    assert map_text(info, items) == "@[a]: 1\n@[b]: 4\n"
    stats = MapInfo("@st", [], "stats")
    rows = [(struct.pack("<QQ", 0, 0), [struct.pack("<Q", 2)]), (struct.pack("<QQ", 0, 1), [struct.pack("<Q", 13)])]
    assert map_text(stats, rows) == "@st: count 2, average 6, total 13\n\n"


def test_printf_buffer_conversions():
    from pybpf.trace.types import T
    value = (6).to_bytes(8, "little") + b"Hello\0"
    assert render("%rx|%rh", [value, value], [T("buf", 14)] * 2, str) == \
        "\\x48\\x65\\x6c\\x6c\\x6f\\x00|48 65 6c 6c 6f 00"


def test_preprocessor_conditionals_defines_and_includes():
    source = ("#define LIMIT (2 + 3)\n#ifndef BPFTRACE_HAVE_BTF\nstruct cfs_rq { int nr_running; };\n#endif\n"
              "#ifdef NOT_DEFINED\nbogus:probe { }\n#else\nBEGIN { @x = LIMIT * 2; }\n#endif\n")
    program = parse(source)
    assert [p.points[0].kind for p in program.probes] == ["BEGIN"] and program.c_definitions == []
    assert program.probes[0].body[0].value.op == "*"
    with pytest.raises(TraceSyntaxError, match="'lol/no.h' file not found"):
        parse("#include <lol/no.h>\nBEGIN { }")
    parse("#include <net/sock.h>\nBEGIN { }")  # kernel headers: types come from BTF


def test_c_struct_layout_matches_the_c_abi():
    from pybpf.trace.c_types import parse_definitions
    found = parse_definitions(["struct Bar { short a:4, b:8, c:3, d:1; int e:9, f:15, g:1, h:2, i:5; char *p, q[3]; "
                               "struct Bar *next; long l; }"])["struct Bar"]
    layout = {name: (offset, bit, bits) for name, offset, _, bit, bits in found.members}
    # offsets as gcc lays the struct out on x86-64
    assert layout["e"] == (2, 0, 9) and layout["f"] == (4, 0, 15) and layout["i"] == (6, 2, 5)
    assert layout["p"] == (8, 0, 0) and layout["q"] == (16, 0, 0) and layout["next"] == (24, 0, 0)
    assert layout["l"] == (32, 0, 0) and found.size == 40


def test_for_statements_and_positional_unroll_count():
    program = parse('BEGIN { for ($kv : @m) { $x = $kv.0.1; } for ($i : 0..($n + 1)) { break; } '
                    'unroll ($1) { $y = 1; } }', params=["3"])
    loop, ranged, unrolled = program.probes[0].body
    assert isinstance(loop, ast.For) and loop.variable == "$kv" and isinstance(loop.source, ast.MapRef)
    assert isinstance(ranged, ast.For) and isinstance(ranged.source, tuple) and isinstance(ranged.source[1], ast.Binary)
    assert isinstance(unrolled, ast.Unroll) and unrolled.count == 3
    with pytest.raises(TraceSyntaxError, match="unroll count must be an integer literal"):
        parse("BEGIN { unroll ($1) { } }", params=["x"])
    with pytest.raises(TraceSyntaxError, match="for takes a scratch variable"):
        parse("BEGIN { for (@x : @m) { } }")
