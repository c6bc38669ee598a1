"""BCC's static helpers that tools call before any program loads (find_library,
find_exe, get_tracepoints, get_user_functions_and_addresses, kernel_enum_has_val ...),
StrcmpRewrite, and the kernel constants the prelude gives programs, checked against the
system they describe."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pybpf.bcc import BPF
from pybpf.bcc.translate import translate
from pybpf.symbols import ElfSymbols, find_library

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src" / "pybpf" / "bcc" / "compat"))
from bcc.utils import StrcmpRewrite  # noqa: E402  (the compat package, as python -m pybpf.bcc serves it)

sys.path.pop(0)
for _name in [m for m in sys.modules if m == "bcc" or m.startswith("bcc.")]:
    del sys.modules[_name]        # other tests import bcc as their run serves it


def test_find_library_and_exe():
    libc = BPF.find_library("c")
    assert libc is not None and os.path.basename(libc).startswith(b"libc.so") and os.path.exists(libc)
    assert BPF.find_library(b"pybpf_no_such_library") is None
    mapped = BPF.find_library("c", pid=os.getpid())
    assert mapped is not None and os.path.realpath(mapped) == os.path.realpath(libc)
    sh = BPF.find_exe("sh")
    assert sh is not None and os.access(sh, os.X_OK) and os.path.basename(sh) == b"sh"
    assert BPF.find_exe(b"/no/such/binary") is None and BPF.find_exe("pybpf-no-such-binary") is None


def test_user_functions_and_their_addresses():
    found = dict(BPF.get_user_functions_and_addresses("c", "^getppid$"))
    assert found == {b"getppid": ElfSymbols(find_library("c")).address("getppid")}
    assert b"getppid" in BPF.get_user_functions(b"c", b"^getpp")
    assert BPF.get_user_addresses("c", "^getppid$") == set(found.values())
    # an IFUNC's address is where its calls run (funccount dedupes probes by address:
    # memcpy and memmove may run the same implementation)
    libc = ElfSymbols(find_library("c"))
    ifunc = dict(BPF.get_user_functions_and_addresses("c", "^strlen$"))
    assert ifunc == {b"strlen": libc.call_address("strlen")} and ifunc[b"strlen"] != libc.address("strlen")


@pytest.mark.skipif(not os.path.isdir("/sys/kernel/tracing/events"), reason="tracefs is not readable here")
def test_get_tracepoints_matches_from_the_start():
    found = BPF.get_tracepoints(b"sched:sched_process_ex")
    assert {b"sched:sched_process_exec", b"sched:sched_process_exit"} <= set(found)
    assert all(t.startswith(b"sched:sched_process_ex") for t in found)
    assert BPF.get_tracepoints("process_exec") == []


@pytest.mark.skipif(not os.path.exists("/sys/kernel/btf/vmlinux"), reason="needs the kernel's BTF")
def test_kernel_enum_values():
    assert BPF.kernel_enum_has_val("bpf_attach_type", "BPF_TRACE_FENTRY")
    assert not BPF.kernel_enum_has_val(b"bpf_attach_type", b"BPF_NO_SUCH_ATTACH")
    assert not BPF.kernel_enum_has_val("pybpf_no_such_enum", "X")


def test_strcmp_rewrite():
    done = StrcmpRewrite.rewrite_expr('STRCMP("bash",arg1) && STRCMP("sh",arg2)', False, False, [], "", 3)
    assert done["expr"] == 'streq_3("bash",arg1) && streq_4("sh",arg2)'
    assert done["probeid"] == 5
    assert 'char needle[] = "bash";' in done["streq_functions"] and "bpf_probe_read(&haystack" in done["streq_functions"]
    user = StrcmpRewrite.rewrite_expr('STRCMP("x",arg1)', False, True, [], "", 0)
    assert "bpf_probe_read_user(&haystack" in user["streq_functions"]


def test_functions_without_parameters_are_programs():
    t = translate("int do_perf_event() { return 0; }\nint other(void) { return 1; }")
    assert {"do_perf_event", "other"} <= set(t.functions)
    assert "__bcc_body_do_perf_event(int __bcc_sys, void *__bcc_context)" in t.source


@pytest.mark.skipif(not os.path.exists("/sys/kernel/btf/vmlinux"), reason="needs the kernel's BTF")
def test_kernel_constants_and_macros_of_the_prelude():
    from pybpf.bcc.bpf import compile_program
    from pybpf.btf import Kind
    from pybpf.kernel.btf_targets import vmlinux

    compiled = compile_program(
        "struct name_t { char name[DNAME_INLINE_LEN]; char disk[DISK_NAME_LEN]; u32 off; u16 port; };\n"
        "BPF_HASH(names, u32, struct name_t);\n"
        "int f(struct pt_regs *ctx) { struct name_t n = {}; u32 k = 0;\n"
        "  n.off = min(offsetof(struct name_t, port), 100u) + max(REQ_OP_MASK & 3, SCM_RIGHTS);\n"
        "  n.port = ntohs(htons(80)) + (ETH_P_IPV6 - ETH_P_IP) * 0; names.update(&k, &n); return 0; }")
    record = compiled.btf.find("name_t", Kind.STRUCT)
    sizes = {m.name: compiled.btf[m.type].nelems for m in record.members if m.name in ("name", "disk")}
    dentry = vmlinux().find("dentry", Kind.STRUCT)
    inline = next(m for m in dentry.members if m.name in ("d_shortname", "d_iname"))
    kind = vmlinux()[inline.type]
    assert sizes == {"name": kind.nelems if kind.kind == Kind.ARRAY else kind.size, "disk": 32}


def test_a_called_parameterless_function_stays_a_helper():
    t = translate("int limit() { return 5; }\nint probe(struct pt_regs *ctx) { return limit(); }")
    assert "limit" not in t.functions and "int limit() { return 5; }" in t.source


def test_sym_names_a_user_address_as_bcc_does():
    import ctypes

    getppid = ctypes.cast(ctypes.CDLL(None).getppid, ctypes.c_void_p).value
    libc = os.path.basename(BPF.find_library("c").decode())
    assert BPF.sym(getppid, os.getpid()) == b"getppid"
    assert BPF.sym(getppid + 1, os.getpid(), show_offset=True) == b"getppid+0x1"
    assert BPF.sym(getppid, os.getpid(), show_module=True, show_offset=True) == f"getppid+0x0 [{libc}]".encode()
    assert BPF.sym(4096, os.getpid(), show_module=True, show_offset=True) == b"[unknown]"
