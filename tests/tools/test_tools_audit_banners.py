"""offcputime's and profile's headers say what BCC's say for the same flags: which threads,
which stacks, and for how long; profile's also the rate and the CPU (parsed by the tool's
own parser; nothing is loaded). The lines are BCC's tools' format strings filled in by hand."""

from __future__ import annotations

import argparse

import pytest

from pybpf.tools import offcputime, profile


def _args(flags: list[str], tool=offcputime.TOOL) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    tool.add_arguments(parser)
    return parser.parse_args(flags)


@pytest.mark.parametrize("flags, banner", [
    ([], "Tracing off-CPU time (us) of all threads by user + kernel stack... Hit Ctrl-C to end."),
    (["5"], "Tracing off-CPU time (us) of all threads by user + kernel stack for 5 secs."),
    (["-p", "42", "-K", "2.5"], "Tracing off-CPU time (us) of PID 42 by kernel stack for 2.5 secs."),
    (["-t", "7", "-U"], "Tracing off-CPU time (us) of TID 7 by user stack... Hit Ctrl-C to end."),
    (["-u"], "Tracing off-CPU time (us) of user threads by user + kernel stack... Hit Ctrl-C to end."),
    (["-k", "1"], "Tracing off-CPU time (us) of kernel threads by user + kernel stack for 1 secs."),
])
def test_offcputime_banner_as_bcc(flags, banner):
    assert offcputime.TOOL.banner(_args(flags)) == banner


@pytest.mark.parametrize("flags, banner", [
    ([], "Sampling at 49 Hertz of all threads by user + kernel stack... Hit Ctrl-C to end."),
    (["5"], "Sampling at 49 Hertz of all threads by user + kernel stack for 5 secs."),
    (["-F", "99", "-p", "42", "-K", "2.5"], "Sampling at 99 Hertz of PID [42] by kernel stack for 2 secs."),
    (["-c", "1000000", "-L", "7", "-U"], "Sampling at every 1000000 events of TID [7] by user stack... Hit Ctrl-C to end."),
    (["-C", "0", "-I", "3"], "Sampling at 49 Hertz of all threads by user + kernel stack on CPU#0 for 3 secs."),
])
def test_profile_banner_as_bcc(flags, banner):
    assert profile.TOOL.banner(_args(flags, profile.TOOL)) == banner
