"""pybpf.cli.output.atomic_output: the file appears whole or not at all."""

from __future__ import annotations

import os

import pytest

from pybpf.cli.output import atomic_output


def test_the_file_appears_when_the_block_ends(tmp_path):
    target = tmp_path / "out.bin"
    with atomic_output(str(target)) as stream:
        stream.write(b"abc")
        assert not target.exists()
    assert target.read_bytes() == b"abc" and os.listdir(tmp_path) == ["out.bin"]


def test_an_exception_leaves_neither_the_file_nor_a_temporary_one(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(ValueError), atomic_output(str(target)) as stream:
        stream.write(b"partial")
        raise ValueError("stop")
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.bin"]


def test_dash_is_stdout(capfdbinary):
    with atomic_output("-") as stream:
        stream.write(b"to stdout\n")
    assert capfdbinary.readouterr().out == b"to stdout\n"
