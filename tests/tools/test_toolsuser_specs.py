"""BCC's probe specifications as the tools read them (no root needed): patterns split and
resolved, trace/argdist probes translated into the trace language — aliases, signature
names, entry values for return probes, string literals left alone — and refused with a
reason; plus a property test of the argument splitter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybpf.tools.argdist import parse_specifier
from pybpf.tools.bccprobes import cast, parse_probe
from pybpf.tools.events import ToolError
from pybpf.tools.probespec import resolve, split
from pybpf.tools.trace import _split_arguments, parse_trace_probe

LIBC = resolve("c:malloc")[0].point.split(":")[1]


@pytest.mark.parametrize("pattern, parts", [
    ("vfs_read", ("p", "", "vfs_read")),
    ("c:malloc", ("p", "c", "malloc")),
    ("p:c:malloc", ("p", "c", "malloc")),
    ("t:sched:sched_switch", ("t", "", "sched:sched_switch")),
    ("u:/usr/bin/python3.11:function__entry", ("u", "/usr/bin/python3.11", "function__entry")),
])
def test_toolsuser_split(pattern, parts):
    assert split(pattern) == parts


def test_toolsuser_resolve_uprobe_glob_and_regex():
    glob = {t.label for t in resolve("c:getaddrinf*")}
    assert "getaddrinfo" in glob and all(name.startswith("getaddrinf") for name in glob)
    assert {t.label for t in resolve("c:^getaddrinfo$", regex=True)} == {"getaddrinfo"}
    (target,) = resolve("c:malloc")
    assert target.point == f"uprobe:{LIBC}:malloc"


@pytest.mark.parametrize("pattern, error", [
    ("x:y:z:w", "expected [p:|t:|u:][LIBRARY:]NAME"),
    ("c:no_such_function_xyz*", "no function in"),
    ("nosuchlibrary_xyz:f", "can't find library or binary 'nosuchlibrary_xyz'"),
    ("c:[", "no function in"),
])
def test_toolsuser_resolve_refusals(pattern, error):
    with pytest.raises(ToolError, match=error.replace("[", r"\[").replace("|", r"\|")):
        resolve(pattern)


def test_toolsuser_trace_probe_translation():
    probe = parse_trace_probe('p:c:open(char *path, int flags) (flags & 1 && $uid == 0) "%s %d %s", path, arg2, "a,b"')
    assert probe.probe.point == f"uprobe:{LIBC}:open"
    assert probe.predicate == "arg1 & 1 && uid == 0"
    assert probe.arguments == ["str(arg0)", "arg1", 'str("a,b")']
    assert probe.message == "%s %d %s"


def test_toolsuser_trace_return_probe_reads_entry_values():
    probe = parse_trace_probe('r:c:read(int fd, void *buf, unsigned long n) (retval > 0) "%d of %d", retval, n')
    assert probe.probe.point == f"uretprobe:{LIBC}:read"
    assert probe.arguments == ["retval", "@entry_n[tid]"]
    assert probe.probe.entry_probe("") == f"uprobe:{LIBC}:read {{ @entry_n[tid] = arg2; }}\n"
    assert probe.probe.entry_guard() == "@entry_n[tid]"


def test_toolsuser_trace_symbol_conversions_and_tracepoints():
    probe = parse_trace_probe('t:syscalls:sys_enter_openat "%U %s", args->dfd, args->filename', string_size=100)
    assert probe.arguments == ["usym(args -> dfd)", "str(args -> filename, 100)"]
    assert probe.message == "%s %s"


def test_toolsuser_argdist_specifier():
    spec = parse_specifier("p:c:write(int fd, void *buf, size_t len):size_t,int:len,fd:fd==1#writes", histogram=False)
    assert spec.values == ["(uint64)(arg2)", "(int32)(arg0)"] and spec.predicate == "arg0 == 1"
    assert spec.title == "writes" and spec.shown == ["len", "fd"]
    latency = parse_specifier("r:c:malloc(size_t size):u64:$latency", histogram=True)
    assert latency.values == ["(uint64)((nsecs - @entry_time[tid]))"] and latency.probe.latency
    default = parse_specifier("r:c:malloc()", histogram=False)
    assert default.default and default.values == ["(int32)(retval)"]


@pytest.mark.parametrize("spec, error", [
    ("p:c:malloc", "expected TYPE:LIBRARY:FUNCTION(SIGNATURE)"),
    ("p:c:malloc(size_t n):u64", "expected TYPES and EXPRESSIONS"),
    ("p:c:malloc(size_t n):u64,u64:n", "2 types for 1 expressions"),
    ("p:c:malloc(size_t n):u64:$latency", "$latency is only known in return (r:) probes"),
    ("t:syscalls:sys_enter_read():u64:arg1", "tracepoints have no arg1; use args->FIELD"),
    ("p:c:malloc(size_t n):u64:$foo", "unknown alias $foo"),
    ("p::vfs_read():u64:arg1", "kprobes are not available on this kernel"),
])
def test_toolsuser_argdist_refusals(spec, error):
    with pytest.raises(ToolError, match=error.replace("$", r"\$").replace("(", r"\(").replace(")", r"\)")):
        parse_specifier(spec, histogram=False)


def test_toolsuser_casts():
    assert cast("char *", "arg0", "s") == "str(arg0)"
    assert cast("unsigned long", "x", "s") == "(uint64)(x)"
    assert cast("void*", "x", "s") == "(uint64)(x)"
    with pytest.raises(ToolError, match="unknown type 'double'"):
        cast("double", "x", "s")


def test_toolsuser_string_literals_are_not_rewritten():
    assert parse_probe("p:c:open(char *path)").expression('path == "arg1 $pid retval"') == 'arg0 == "arg1 $pid retval"'


_ATOM = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
_EXPR = st.recursive(_ATOM, lambda inner: st.one_of(
    st.builds(lambda a, b: f"{a}({b})", _ATOM, st.lists(inner, min_size=1, max_size=3).map(", ".join)),
    st.builds(lambda a: f'"{a},x"', _ATOM), st.builds(lambda a, b: f"{a} + {b}", inner, inner)), max_leaves=6)


@given(st.lists(_EXPR, min_size=1, max_size=5))
def test_toolsuser_argument_split_round_trips(expressions):
    assert _split_arguments(", ".join(expressions)) == expressions


def test_toolsuser_library_as_a_process_maps_it():
    import os

    from pybpf.tools.probespec import library_path

    mapped = library_path("c", os.getpid())
    assert mapped.startswith(f"/proc/{os.getpid()}/root/") and mapped.endswith("/libc.so.6")
    assert os.path.samefile(mapped, library_path("c"))
    (target,) = resolve("c:malloc", pid=os.getpid())
    assert target.point == f"uprobe:{mapped}:malloc"
    with pytest.raises(ToolError, match="-p 4194304000: no such process"):
        library_path("c", 4194304000)
