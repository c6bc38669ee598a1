"""Name look-ups for the filter tests: the hosts, ethers and networks entries libpcap's
test harness installs (tests/filter/netdb/), through pybpf's resolver hooks — no system
file is read and no DNS query is sent for the test names."""

from __future__ import annotations

from pathlib import Path

import pytest

from pybpf.filter import resolver

NETDB = Path(__file__).parent / "netdb"

#: RFC 6761 names: never looked up beyond the test files
_RESERVED = (".test", ".test.", ".invalid", ".invalid.")


def _system_unless_reserved(name: str):
    if name.lower().endswith(_RESERVED) or name.lower() in ("invalid", "invalid."):
        return []
    return resolver.system_resolver(name)


TEST_HOSTS = resolver.HostsFile(NETDB / "hosts", fallback=_system_unless_reserved)


@pytest.fixture(autouse=True)
def libpcap_test_names(monkeypatch):
    """Host names from netdb/hosts (others through the system resolver, except RFC 6761
    names), Ethernet names from netdb/ethers, network names from netdb/networks."""
    monkeypatch.setattr(resolver, "resolver", TEST_HOSTS)
    monkeypatch.setattr(resolver, "ethers_path", NETDB / "ethers")
    monkeypatch.setattr(resolver, "networks_path", NETDB / "networks")
