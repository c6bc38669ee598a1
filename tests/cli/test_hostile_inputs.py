"""Hostile inputs to the commands end in one line and a non-zero exit, or in what the
reference tool does: assembly that is not UTF-8 or uses non-ASCII digits, pcapng files
whose timestamps are beyond time_t (tcpdump prints ``[Error converting time]``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pybpf.cli import main
from pybpf.isa import AsmError, assemble

DATA = Path(__file__).resolve().parents[1] / "data" / "reproducers"


def test_assembly_that_is_not_utf8(capsys):
    assert main(["asm", str(DATA / "asm_not_utf8.asm")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 2: not UTF-8 text (byte 7: 0xff)" in err


@pytest.mark.parametrize("text", ["r0 = ١٢", "r٣ = 1", "*(u32 *)(r10 -٤) = 1", "if r0 > 1 goto +١", "r0 = ０x1", "r0 = ½"])
def test_non_ascii_digits_are_refused(text):
    with pytest.raises(AsmError):
        assemble(text + "\nexit\n")


@pytest.mark.parametrize("name", ["pcapng_tsresol0.pcapng", "pcapng_tsoffset_huge.pcapng"])
def test_timestamps_beyond_time_t_print_as_tcpdump_prints_them(name, capsys):
    assert main(["filter", "-nr", str(DATA / name)]) == 0
    ours = capsys.readouterr().out.splitlines()
    assert ours and all(line.startswith("[Error converting time] IP ") for line in ours)
    if shutil.which("tcpdump"):
        theirs = subprocess.run(["tcpdump", "-nr", str(DATA / name)], capture_output=True, text=True).stdout.splitlines()
        assert [line.split(" IP ")[0] for line in ours] == [line.split(" IP ")[0] for line in theirs]
