"""offcputime's header says what BCC's says for the same flags: which threads, which
stacks, and for how long (parsed by the tool's own parser; nothing is loaded)."""

from __future__ import annotations

import argparse

import pytest

from pybpf.tools.offcputime import TOOL


def _args(flags: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    TOOL.add_arguments(parser)
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
    assert TOOL.banner(_args(flags)) == banner
