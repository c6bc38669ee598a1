"""Every accept case of libpcap's tests for the link types pybpf compiles: our program,
optimized or not, returns what libpcap's expected program returns on every probe packet
(see probe_packets.py); expressions libpcap's optimizer proves reject everything reject
every probe packet here too, or fail to compile with that reason."""

from __future__ import annotations

import re

import pytest
from libpcap_cases import case_params, netmask, skip_reason
from probe_packets import ancillary_data, probe

from pybpf.cbpf import parse_dump, run
from pybpf.filter import FilterError, compile_filter

#: a condition libpcap's live-capture cases are skipped under, which pybpf never has: it
#: always generates the SKF_AD_VLAN_TAG_PRESENT load when asked for Linux extensions
_WITH_VLAN_EXTENSION = "HAVE_DECL_SKF_AD_VLAN_TAG_PRESENT!=1"


def _options(case: dict) -> dict:
    return {"linktype": case["dlt"], "snaplen": case["snaplen"] or 262144, "optimize": case["optimize"],
            "netmask": netmask(case), "linux_extensions": case["linuxext"]}


@pytest.mark.parametrize("case", case_params("accept.jsonl"))
def test_accept_case_has_libpcaps_semantics(case):
    reason = skip_reason(case)
    if reason and not (case["linuxext"] and reason == _WITH_VLAN_EXTENSION):
        pytest.skip(f"libpcap's test needs: {reason}")
    if re.search(r"_\d+(LE|BE)?_(NULL|LOOP|ENC)$", case["block"]):
        pytest.skip("the expected program is for a live capture on one OS (its AF_INET6 value, its byte order); "
                    "pybpf compiles for capture files, where every BSD AF_INET6 value and both orders occur "
                    "(the offline_* cases check that)")
    if case["expr"] == "_enumerate_bpf_image":
        pytest.skip("not an expression: libpcap's bpf_image() printer test (covered by tests/cbpf/test_dump.py)")
    try:
        ours = compile_filter(case["expr"], **_options(case))
    except FilterError as error:
        if case.get("expect_compile_error"):
            return
        raise AssertionError(f"{case['expr']!r} did not compile:\n{error}") from None
    if case.get("expect_compile_error"):
        for packet in probe([ours], case["dlt"], case["label"]):
            assert run(ours, packet) == 0, (case["expr"], packet.hex())
        return
    expected = parse_dump(case["expected"])
    metadata = ancillary_data([expected, ours]) if case["linuxext"] else [{}]
    for packet in probe([expected, ours], case["dlt"], case["label"]):
        for aux in metadata:
            assert run(ours, packet, **aux) == run(expected, packet, **aux), (case["expr"], packet.hex(), aux)
