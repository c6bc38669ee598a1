"""Feature probing, against bpftool's answers where both ask the same question."""

from __future__ import annotations

import json
import subprocess

import pytest

from pybpf.isa.helpers import helper_id
from pybpf.kernel import features
from pybpf.object import AttachType, MapType, ProgramType

pytestmark = pytest.mark.usefixtures("bpf_permitted", "no_fd_leak")

# program types whose probe needs a vmlinux BTF id; bpftool cannot load them either
# and says False, which is what "not permitted"/"no" map to below
_BTF_TYPES = {"tracing", "ext", "lsm"}


@pytest.fixture(scope="module")
def found():
    return features.probe(helpers=False)


def test_program_and_map_types_agree_with_bpftool(found, bpftool):
    out = subprocess.run([bpftool, "--json", "feature", "probe", "kernel"], check=True,
                         capture_output=True, text=True)
    theirs = json.loads(out.stdout)
    for name, state in found.program_types.items():
        key = f"have_{name}_prog_type"
        if key in theirs["program_types"]:
            assert (state == features.YES) == theirs["program_types"][key], name
    for name, state in found.map_types.items():
        key = f"have_{name}_map_type"
        if key in theirs["map_types"]:
            assert (state == features.YES) == theirs["map_types"][key], name
    for option, value in theirs["system_config"].items():
        if option.startswith("CONFIG_"):
            assert found.config[option] == value, option
        elif option in found.sysctls:
            assert found.sysctls[option] == value, option


def test_basic_types_are_present(found):
    assert found.program_types["socket_filter"] == features.YES
    assert found.map_types["hash"] == features.YES
    assert found.attach_types[str(AttachType.CGROUP_INET_INGRESS)] == features.YES
    assert found.attach_types[str(AttachType.TRACE_FENTRY)] == "n/a"


def test_helpers_follow_program_types():
    sock = ProgramType.SOCKET_FILTER
    assert features.helper_available(sock, helper_id("map_lookup_elem"))
    assert not features.helper_available(sock, helper_id("probe_read"))
    assert not features.helper_available(ProgramType.XDP, helper_id("skb_store_bytes"))
    assert features.helper_available(ProgramType.SCHED_CLS, helper_id("skb_store_bytes"))


def test_kprobe_answers_match_the_filesystem(found):
    import os
    assert found.kprobes["kprobe_pmu"] == os.path.isdir("/sys/bus/event_source/devices/kprobe")


def test_probe_limited_to_some_types():
    found = features.probe(types=[ProgramType.XDP])
    assert list(found.helpers) == ["xdp"]
    assert "bpf_xdp_adjust_head" in found.helpers["xdp"]
    assert features.map_type(MapType.UNSPEC) == features.NO
