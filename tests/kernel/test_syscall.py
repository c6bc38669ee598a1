"""The bpf() wrapper itself: structure layouts, errno names and the sentences for them."""

from __future__ import annotations

import enum
import errno
import inspect
import pickle

import pytest

from pybpf.engine import BPFError
from pybpf.kernel import attrs, syscall
from pybpf.kernel.info import fd_by_id, ids
from pybpf.kernel.syscall import Command, bpf, hint


def test_the_command_enum_is_what_the_enum_metaclass_makes():
    """Command is made by enum's ``_simple_enum`` (start-up); the metaclass makes the same
    class from the same source."""
    source = inspect.getsource(syscall)
    for old, new in (("from enum import _simple_enum", "_simple_enum = lambda etype: lambda cls: cls"),
                     ("    _Members = object", "    _Members = enum.IntEnum")):
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    namespace = {"__name__": syscall.__name__}
    exec(compile(source, syscall.__file__, "exec"), namespace)
    checked = namespace["Command"]
    assert isinstance(Command, enum.EnumType) and checked is not Command and issubclass(Command, enum.IntEnum)
    enum._test_simple_enum(checked, Command)   # members, values, names, methods, docstrings
    assert [(m.name, m.value, str(m), repr(m), format(m), m.symbol) for m in Command] == \
        [(m.name, m.value, str(m), repr(m), format(m), m.symbol) for m in checked]
    assert pickle.loads(pickle.dumps(list(Command))) == list(Command)


@pytest.mark.parametrize("struct,field,offset", [
    # offsets as include/uapi/linux/bpf.h lays them out
    (attrs.MapCreateAttr, "map_name", 28), (attrs.MapCreateAttr, "map_extra", 64),
    (attrs.MapElemAttr, "key", 8), (attrs.MapElemAttr, "flags", 24),
    (attrs.MapBatchAttr, "count", 32), (attrs.MapBatchAttr, "elem_flags", 40),
    (attrs.ProgLoadAttr, "prog_name", 48), (attrs.ProgLoadAttr, "fd_array", 120),
    (attrs.ProgLoadAttr, "log_true_size", 140), (attrs.TestRunAttr, "ctx_in", 48),
    (attrs.TestRunAttr, "batch_size", 72), (attrs.ProgInfo, "name", 64),
    (attrs.ProgInfo, "run_time_ns", 192), (attrs.ProgInfo, "verified_insns", 216),
    (attrs.MapInfo, "name", 24), (attrs.MapInfo, "map_extra", 80),
    (attrs.BtfLoadAttr, "btf_log_true_size", 28),
])
def test_layouts_match_bpf_h(struct, field, offset):
    assert getattr(struct, field).offset == offset


def test_hints_are_specific_to_the_command():
    assert "map is full" in hint(Command.MAP_UPDATE_ELEM, errno.E2BIG)
    assert "larger than this kernel understands" in hint(Command.PROG_LOAD, errno.E2BIG)
    assert "too complex for the verifier" in hint(Command.PROG_LOAD, errno.E2BIG)
    assert "CAP_BPF" in hint(Command.MAP_CREATE, errno.EPERM)
    assert "no loaded object has this id" in hint(Command.MAP_GET_FD_BY_ID, errno.ENOENT)


def test_error_message_carries_command_errno_and_hint():
    err = BPFError("BPF_MAP_CREATE", errno.EPERM, "do this", "map 'x'")
    assert str(err) == ("BPF_MAP_CREATE on map 'x': EPERM (Operation not permitted): do this")
    assert BPFError("BPF_PROG_TEST_RUN", 524).errno_name == "ENOTSUPP"


@pytest.mark.usefixtures("bpf_permitted", "no_fd_leak")
def test_bad_attributes_are_einval_naming_the_target():
    attr = attrs.MapCreateAttr(map_type=1, key_size=0, value_size=4, max_entries=1)
    with pytest.raises(BPFError) as caught:
        bpf(Command.MAP_CREATE, attr, "map 'zero'")
    assert caught.value.errno == errno.EINVAL
    assert str(caught.value).startswith("BPF_MAP_CREATE on map 'zero': EINVAL")


@pytest.mark.usefixtures("bpf_permitted", "no_fd_leak")
def test_unknown_id_is_enoent():
    with pytest.raises(BPFError) as caught:
        fd_by_id("map", 0xFFFFFFF0)
    assert caught.value.errno == errno.ENOENT


@pytest.mark.usefixtures("bpf_permitted", "no_fd_leak")
def test_ids_ascend():
    found = list(ids("map"))
    assert found == sorted(found)


@pytest.mark.usefixtures("bpf_permitted")
def test_get_next_id_past_the_end_is_enoent():
    with pytest.raises(BPFError) as caught:
        bpf(Command.PROG_GET_NEXT_ID, attrs.IdAttr(start_id=0x7FFFFFFE))
    assert caught.value.errno == errno.ENOENT
