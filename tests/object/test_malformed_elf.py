"""Malformed BPF objects are refused with an ObjectError that names the place and the
reason — never another exception, never a hang.

The corpus (tests/object/malformed_corpus.py) breaks one thing at a time in a valid
object compiled here: the ELF header, section headers, symbols, relocations, code,
.BTF, .BTF.ext and map sections, and truncates it at every section boundary. A
hypothesis test then overwrites random bytes, mostly inside the parts the loader reads.
CO-RE relocations are computed against the object's own BTF, so nothing here depends on
the running kernel.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from malformed_corpus import CASES, SOURCE, Case, ElfEdit, corpus

from pybpf.btf import BTF
from pybpf.object.elf import ObjectError, load_object, read_object
from time_limits import time_limit

#: the most one example may take; the valid object loads in a few milliseconds
SECONDS_PER_EXAMPLE = 5
NAME = "broken.o"


@pytest.fixture(scope="module")
def valid(build) -> bytes:
    return build(SOURCE)


@pytest.fixture(scope="module")
def own_btf(valid) -> BTF:
    return BTF.parse(read_object(valid).section(".BTF").data)




def test_the_valid_object_loads(valid, own_btf):
    spec = load_object(valid, name="valid", core_btf=own_btf)
    assert set(spec.programs) == {"on_getppid", "first_byte"}
    assert {"counts", "events", "legacy"} <= set(spec.maps)
    assert [r.what for r in spec.programs["on_getppid"].core] == ["struct task_struct.tgid"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_broken_object_is_refused_saying_where_and_why(valid, own_btf, case: Case):
    made = case.make(ElfEdit(valid))
    data = made.bytes() if isinstance(made, ElfEdit) else made
    assert data != valid
    with time_limit(SECONDS_PER_EXAMPLE, "load_object"), pytest.raises(ObjectError, match=case.why) as info:
        load_object(data, name=NAME, core_btf=own_btf)
    message = str(info.value)
    assert message.startswith(f"{NAME}: ") and "\n" not in message


def test_truncated_anywhere(valid, own_btf):
    truncations = [(name, data, why) for name, data, why in corpus(valid) if name.startswith("truncated-")]
    assert len(truncations) > 50
    for name, data, why in truncations:
        with time_limit(SECONDS_PER_EXAMPLE, "load_object"), pytest.raises(ObjectError, match=why):
            load_object(data, name=name, core_btf=own_btf)


def _regions(valid: bytes) -> list[tuple[int, int]]:
    """The byte ranges the loader reads: the ELF header, the section header table and
    every section but DWARF (random bytes mostly land in debug info otherwise)."""
    edit = ElfEdit(valid)
    shoff = int.from_bytes(valid[40:48], "little")
    regions = [(0, 64), (shoff, shoff + 64 * len(edit.headers))]
    for h in edit.headers[1:]:
        if h.size and h.type != 8 and ".debug" not in h.name:
            regions.append((h.offset, h.offset + h.size))
    return regions


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_damage_loads_or_raises_object_error(valid, own_btf, data):
    regions = _regions(valid)
    damaged = bytearray(valid)
    for _ in range(data.draw(st.integers(1, 6), label="edits")):
        start, end = regions[data.draw(st.integers(0, len(regions) - 1), label="region")]
        width = data.draw(st.sampled_from([1, 1, 2, 4, 8]), label="width")
        at = data.draw(st.integers(start, max(start, min(end, len(damaged)) - width)), label="at")
        value = data.draw(st.one_of(st.integers(0, (1 << 8 * width) - 1),
                                    st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, (1 << 8 * width) - 1])), label="value")
        damaged[at:at + width] = value.to_bytes(width, "little")
    if data.draw(st.booleans(), label="truncate"):
        damaged = damaged[:data.draw(st.integers(0, len(damaged)), label="length")]
    with time_limit(SECONDS_PER_EXAMPLE, "load_object"):
        try:
            load_object(bytes(damaged), name=NAME, core_btf=own_btf)
        except ObjectError as exc:
            assert str(exc).startswith(f"{NAME}: ")
