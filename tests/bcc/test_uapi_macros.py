"""The uapi macros a BCC program gets from the headers it includes (pybpf.bcc.uapi_macros):
their values against the same constants compiled by gcc with the system's own kernel
headers (Debian's linux-libc-dev), the closure over macros that use others, the
compiler words left alone, error lines still the program's, and the disk cache that
spares a script's next start the preprocessor run."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from pybpf.bcc import uapi_macros
from pybpf.bcc.preprocess import preprocess
from pybpf.bcc.tokens import BccSyntaxError
from pybpf.bcc.uapi_macros import MACROS, header_macros, uapi_defines, uapi_headers
from pybpf.toolchain.paths import uapi_include_dirs

pytestmark = pytest.mark.skipif(not uapi_include_dirs(), reason="no ziglang wheel (its uapi headers)")

HEADERS = ["uapi/linux/if_ether.h", "uapi/linux/in6.h", "uapi/linux/pkt_cls.h", "linux/in.h", "linux/ip.h",
           "linux/if_packet.h", "uapi/linux/tcp.h", "linux/icmpv6.h"]
CONSTANTS = ["ETH_ALEN", "ETH_P_IPV6", "ETH_P_8021Q", "IPPROTO_ICMPV6", "TC_ACT_OK", "TC_ACT_SHOT", "TC_ACT_REDIRECT",
             "IPTOS_LOWDELAY", "PACKET_OTHERHOST", "TCP_MAXSEG", "ICMPV6_ECHO_REQUEST", "IPOPT_NOOP", "TC_H_MAJ(0x12345678)",
             "IN_CLASSA_NET"]


def _program(constants: list[str]) -> str:
    return "".join(f"#include <{h}>\n" for h in HEADERS) + "".join(
        f"long v{i} = {c};\n" for i, c in enumerate(constants))


def test_headers_named_as_bcc_programs_name_them():
    text = "#include <uapi/linux/pkt_cls.h>\n#include <linux/if_ether.h>\n#include <net/sock.h>\n" \
           "#include <linux/if_ether.h>\n#include \"local.h\"\n"
    assert uapi_headers(text) == ["linux/pkt_cls.h", "linux/if_ether.h"]   # net/sock.h is no uapi header


@pytest.mark.skipif(shutil.which("gcc") is None or not os.path.exists("/usr/include/linux/if_ether.h"),
                    reason="needs gcc and the system's kernel headers (linux-libc-dev)")
def test_values_match_the_system_kernel_headers(tmp_path):
    source = tmp_path / "values.c"
    source.write_text("#include <stdio.h>\n#include <netinet/in.h>\n" + "".join(
        f"#include <{h.removeprefix('uapi/')}>\n" for h in HEADERS if h.removeprefix("uapi/") not in
        ("linux/in.h", "linux/in6.h")) + "int main(void) {\n" + "".join(
        f'    printf("%lld\\n", (long long)({c}));\n' for c in CONSTANTS) + "    return 0;\n}\n")
    subprocess.run(["gcc", "-o", str(tmp_path / "values"), str(source)], check=True, capture_output=True)
    expected = subprocess.run([str(tmp_path / "values")], capture_output=True, text=True, check=True).stdout.split()
    out = preprocess(_program(CONSTANTS))
    values = dict(re.findall(r"long v(\d+) = (.*);", out))
    assert len(values) == len(CONSTANTS), out
    for i, constant in enumerate(CONSTANTS):
        assert eval(re.sub(r"(0x[0-9a-fA-F]+|\d+)[UL]+\b", r"\1", values[str(i)]).replace("&&", " and ")) \
            == int(expected[i]), (constant, values[str(i)])


def test_only_what_the_program_uses_and_the_macros_those_use():
    defines = uapi_defines("#include <linux/pkt_cls.h>\n#include <linux/if_ether.h>\nint x = TC_H_MAJ(y);\n")
    assert defines.splitlines() == ["#define TC_H_MAJ_MASK (0xFFFF0000U)", "#define TC_H_MAJ(h) ((h)&TC_H_MAJ_MASK)"]
    assert uapi_defines("#include <net/sock.h>\nint x = ETH_ALEN;\n") == ""     # not included: not defined


def test_compiler_words_the_program_uses_are_left_to_pybpf():
    # linux/stddef.h (under every uapi header) has `#define __always_inline __inline__`
    text = "#include <linux/if_ether.h>\nstatic __always_inline int f(void) { return ETH_ALEN; }\n"
    assert "__always_inline" not in uapi_defines(text)
    assert "static __always_inline int f(void) { return 6; }" in preprocess(text)


def test_errors_still_name_the_program_lines():
    with pytest.raises(BccSyntaxError, match=r"bcc-program:3:"):
        preprocess("#include <linux/if_ether.h>\nint x = ETH_ALEN;\n#error stop here\n")


def test_the_next_start_reads_the_macros_from_the_disk_cache(private_cache, monkeypatch):
    headers = ("linux/pkt_cls.h", "linux/if_ether.h")
    first = header_macros.__wrapped__(headers)     # (past the process's own cache, as a new process)
    entries = list(MACROS.directory().iterdir())
    assert len(entries) == 1 and first["ETH_ALEN"] == "#define ETH_ALEN 6"

    def no_preprocessor(*args, **kwargs):
        raise AssertionError("the preprocessor ran")

    monkeypatch.setattr(uapi_macros.subprocess, "run", no_preprocessor)
    assert header_macros.__wrapped__(headers) == first


def test_a_changed_header_is_another_entry(private_cache, monkeypatch, tmp_path):
    own = tmp_path / "include"
    (own / "linux").mkdir(parents=True)
    named, inner = own / "linux" / "pybpf_named.h", own / "linux" / "pybpf_inner.h"
    named.write_text("#include <linux/pybpf_inner.h>\n#define PYBPF_NAMED 1\n")
    inner.write_text("#define PYBPF_INNER 1\n")
    monkeypatch.setattr(uapi_macros, "uapi_include_dirs", lambda: [own, *uapi_include_dirs()])
    headers = ("linux/pybpf_named.h",)
    assert header_macros.__wrapped__(headers)["PYBPF_NAMED"] == "#define PYBPF_NAMED 1"
    named.write_text("#include <linux/pybpf_inner.h>\n#define PYBPF_NAMED 22\n")
    assert header_macros.__wrapped__(headers)["PYBPF_NAMED"] == "#define PYBPF_NAMED 22"
    assert len(list(MACROS.directory().iterdir())) == 2
    # a header the named one includes is checked on every read: a change is seen
    inner.write_text("#define PYBPF_INNER 333\n")
    assert header_macros.__wrapped__(headers)["PYBPF_INNER"] == "#define PYBPF_INNER 333"
