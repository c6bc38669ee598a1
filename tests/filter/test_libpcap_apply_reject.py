"""libpcap's apply cases (a filter run over a capture file: the return value for every
packet), for the link types pybpf compiles filters for, and every reject case
(expressions that must not compile — for a link type pybpf does not compile for, that
refusal is the clear error)."""

from __future__ import annotations

import re

import pytest
from libpcap_cases import CASES, case_params, netmask, skip_reason

from pybpf.capture import open_capture
from pybpf.cbpf import run
from pybpf.filter import LINK_TYPES, FilterError, compile_filter, link_type


@pytest.mark.parametrize("case", case_params("apply.jsonl", only_supported=False))
def test_apply_case_returns_libpcaps_values(case):
    if skip_reason(case):
        pytest.skip(f"libpcap's test needs: {skip_reason(case)}")
    with open_capture(CASES / "savefiles" / case["savefile"]) as capture:
        packets = list(capture)
        snaplen = capture.snaplen
    linktypes = {p.linktype for p in packets}
    if not all(lt in {t.number for t in LINK_TYPES.values()} for lt in linktypes):
        pytest.skip(f"link type {sorted(linktypes)} of {case['savefile']} is not compiled for yet")
    # libpcap's test compiles with the file's snapshot length: a match returns it
    programs = {lt: compile_filter(case["expr"], linktype=link_type(lt).name, snaplen=snaplen, optimize=case["optimize"],
                            netmask=netmask(case)) for lt in linktypes}
    results = [run(programs[p.linktype], p.data, p.wirelen) for p in packets]
    assert results == case["results"]


#: libpcap's errors for names nothing knows and for name look-ups a link type cannot use:
#: pybpf gives the same reason (perhaps with more said after it)
_NAME_ERRORS = re.compile(r"unknown (host|Ethernet-like host|network) '|'gateway' not supported on |"
                          r"'link host NAME' not supported on ")


@pytest.mark.parametrize("case", case_params("reject.jsonl", only_supported=False))
def test_reject_case_fails_with_a_clear_error(case):
    if skip_reason(case):
        pytest.skip(f"libpcap's test needs: {skip_reason(case)}")
    with pytest.raises(FilterError) as caught:
        compile_filter(case["expr"], linktype=case["dlt"], netmask=netmask(case))
    message = str(caught.value)
    assert message.strip() and "Traceback" not in message
    if case["dlt"] in LINK_TYPES and _NAME_ERRORS.match(case["errstr"]):
        assert caught.value.reason.startswith(case["errstr"]), (caught.value.reason, case["errstr"])
