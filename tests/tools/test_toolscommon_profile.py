"""profile ``-A``: every frame of the multi-line output starts with its address, in BCC's
layout, and the address is where the named function is."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from test_tools import run_tool

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs: root only")

_FRAME = re.compile(r"    0x([0-9a-f ]{16}) (\S+)$")


@pytest.fixture
def busy():
    process = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
    yield process
    process.kill()
    process.wait()


def _frames(out: str) -> list[str]:
    return [line for line in out.splitlines()
            if line.startswith("    ") and not line.startswith(("    -", "        ")) and line.strip() != "--"]


def test_address_flag_shows_each_frames_address(busy):
    from pybpf.symbols import Symbolizer

    out = run_tool("profile", ["-A", "-F", "199", "-p", str(busy.pid), "2"], lambda: None, timing=[])
    frames = _frames(out)
    assert frames and all(_FRAME.match(line) for line in frames), frames[:5]
    symbolizer, kernel_checked = Symbolizer(), 0
    for line in frames:
        address, name = _FRAME.match(line).groups()
        value = int(address.strip(), 16)
        if value >= 1 << 63 and not name.startswith("0x"):
            assert symbolizer.kernel(value).name == name
            kernel_checked += 1
    assert kernel_checked


def test_without_the_flag_frames_are_names(busy):
    out = run_tool("profile", ["-F", "199", "-p", str(busy.pid), "2"], lambda: None, timing=[])
    frames = _frames(out)
    assert frames and not any(_FRAME.match(line) for line in frames)
