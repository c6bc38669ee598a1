"""pybpf.object.kinds makes its enum classes with enum's ``_simple_enum`` (start-up: the
metaclass makes ~140 members one by one); they are the classes the metaclass makes from
the same source."""

from __future__ import annotations

import enum
import inspect
import pickle

import pytest

from pybpf.object import kinds

NAMES = ("MapType", "ProgramType", "AttachType", "MapFlag")


def _checked_classes() -> dict[str, object]:
    """The module's classes made by enum's metaclass: the same source, with the plain
    bases replaced by the enum bases (``_Named`` is the module's own, so both share its
    methods)."""
    source = inspect.getsource(kinds)
    for old, new in (("from enum import _simple_enum", "_simple_enum = lambda etype: lambda cls: cls"),
                     ("_Members = _Flags = object", "_Members, _Flags = _Named, enum.IntFlag"),
                     ("class _Named(enum.IntEnum):", "class _Unused(enum.IntEnum):")):
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    namespace = {"__name__": kinds.__name__, "_Named": kinds._Named}
    exec(compile(source, kinds.__file__, "exec"), namespace)
    return {name: namespace[name] for name in NAMES}


CHECKED = _checked_classes()


@pytest.mark.parametrize("name", NAMES)
def test_the_classes_are_what_the_enum_metaclass_makes(name):
    simple, checked = getattr(kinds, name), CHECKED[name]
    assert isinstance(simple, enum.EnumType) and checked is not simple
    enum._test_simple_enum(checked, simple)   # members, values, names, methods, docstrings
    assert [(m.name, m.value, str(m), repr(m), format(m)) for m in simple] == \
        [(m.name, m.value, str(m), repr(m), format(m)) for m in checked]
    assert list(simple.__members__) == list(checked.__members__)
    assert pickle.loads(pickle.dumps(list(simple))) == list(simple)


def test_members_and_their_methods():
    assert kinds.MapType.parse("LRU_hash") is kinds.MapType.LRU_HASH is kinds.MapType(9)
    assert kinds.MapType.PERCPU_ARRAY.per_cpu and kinds.MapType.QUEUE.keyless and kinds.MapType.PROG_ARRAY.holds_fds
    assert str(kinds.ProgramType.SOCKET_FILTER) == "socket_filter" and kinds.ProgramType.SOCKET_FILTER == 1
    with pytest.raises(ValueError, match="is not a AttachType"):
        kinds.AttachType.parse("nonesuch")
    flags = kinds.MapFlag.RDONLY | kinds.MapFlag.WRONLY
    assert repr(flags) == "<MapFlag.RDONLY|WRONLY: 24>" and int(kinds.MapFlag(1 << 20)) == 1 << 20
