"""libpcap's own filter tests (tests/data/libpcap-tests), as case lists for pytest."""

from __future__ import annotations

import json
from functools import cache

from pybpf.filter import LINK_TYPES
from shared_data import shared_path

CASES = shared_path("libpcap-tests")


@cache
def load(name: str) -> list[dict]:
    path = shared_path("libpcap-tests", name)
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def netmask(case: dict) -> int:
    """The case's netmask as a number; none given means unknown, as in libpcap's
    filtertest (PCAP_NETMASK_UNKNOWN)."""
    text = case.get("netmask")
    if not text:
        return 0xFFFF_FFFF
    value = 0
    for part in text.split("."):
        value = value << 8 | int(part)
    return value


#: skip reasons of libpcap's harness that do not hold here: conftest.py provides the
#: hosts/ethers/networks entries its cases need ("configure the ... file"), and pybpf
#: looks names up as glibc does — libpcap skips the network-name cases (and those
#: needing case-insensitive host names) on Linux with musl libc, whose getnetbyname()
#: is a no-op and whose hosts/ethers look-ups are case-sensitive, which is where these
#: case lists were generated.
PROVIDED = {"configure the hosts file", "configure the ethers file", "configure the networks file", "musl libc"}


def skip_reason(case: dict) -> str | None:
    """Why libpcap's harness skips ``case`` on this system (None: it runs)."""
    reason = case.get("skip")
    return None if not reason or reason in PROVIDED else reason


def supported(case: dict) -> bool:
    return case.get("dlt") in LINK_TYPES


def case_params(name: str, only_supported: bool = True) -> list:
    """One pytest param per case (ids are the cases' labels); an absent or empty case
    file fails collection."""
    import pytest

    cases = load(name)
    if not cases:
        raise RuntimeError(f"{CASES / name} holds no cases: tests/data is incomplete")
    return [pytest.param(case, id=case["label"]) for case in cases if not only_supported or supported(case)]
