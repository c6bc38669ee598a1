"""Malformed BTF is a one-line error naming the type, never a traceback, a hang or
memory without bound: the reproducers (a 1 GiB memberless union, typedef and array
cycles, an object whose BTF has a cycle) and thousands of mutated blobs, through every
walk — parsing, sizes, the C header, bpftool's listing, decoding."""

from __future__ import annotations

import random
import struct
import time
from pathlib import Path

import pytest

from pybpf.btf import BTF, dump_c, dump_raw
from pybpf.btf.decode import decode
from pybpf.errors import PybpfError

DATA = Path(__file__).resolve().parents[1] / "data" / "reproducers"


def _walk(blob: bytes) -> None:
    """Everything a command does with a BTF blob; PybpfError is the only way to fail."""
    btf = BTF.parse(blob)
    dump_raw(btf)
    dump_c(btf)
    for type_id in range(1, len(btf.types)):
        try:
            size = btf.sizeof(type_id)
        except PybpfError:
            continue
        if size <= 4096:
            try:
                decode(btf, type_id, bytes(size))
            except PybpfError:
                pass


@pytest.mark.parametrize("name, message", [
    ("btf_typedef_cycle.btf", r"type 1 \(TYPEDEF t\) contains itself"),
    ("btf_array_cycle.btf", r"type 2 \(ARRAY \(anon\)\) contains itself"),
])
def test_cycles_are_errors_naming_the_type(name, message):
    btf = BTF.parse((DATA / name).read_bytes())
    dump_raw(btf)                                   # bpftool lists such types; so does pybpf
    with pytest.raises(PybpfError, match=message):
        dump_c(btf)


def test_a_huge_union_dumps_at_once():
    start = time.perf_counter()
    header = dump_c(BTF.parse((DATA / "btf_huge_union.btf").read_bytes()))
    assert time.perf_counter() - start < 2 and len(header) < 2000
    assert "union u {" in header and "__pad_0[1073741816]" in header


def test_an_object_whose_btf_has_a_cycle_is_refused_in_one_line(capsys):
    from pybpf.cli import main

    assert main(["load", str(DATA / "elf_btf_cycle.o"), "--engine", "vm"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "contains itself" in err and "type 3" in err


SEED_C = """
typedef struct node { int a; struct node *next; int v[4]; union { int x; char c[6]; } u; } node_t;
enum color { RED, GREEN = 7 };
typedef node_t *node_p;
struct holder { node_p p; enum color c; unsigned long long flags : 3, rest : 61; };
struct holder h;
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mutated_blobs_fail_cleanly(tmp_path, private_cache, seed):
    from compiled_btf import btf_file_from_c

    base = btf_file_from_c(SEED_C, tmp_path).read_bytes()
    _walk(base)                          # the seed itself walks without error
    rng = random.Random(seed)
    start = time.perf_counter()
    for _ in range(3000):
        blob = bytearray(base)
        for _ in range(rng.randrange(1, 6)):
            position = rng.randrange(24, len(blob))      # keep the header's magic, mutate the rest
            if rng.random() < 0.5:
                blob[position] = rng.randrange(256)
            else:
                word = position & ~3
                if word + 4 <= len(blob):
                    struct.pack_into("<I", blob, word, rng.choice([0, 1, 2, 3, 4, 5, 6, 7, 0xFFFFFFFF, 1 << 30]))
        try:
            _walk(bytes(blob))
        except PybpfError:
            pass
    assert time.perf_counter() - start < 60
