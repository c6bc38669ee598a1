"""pybpf._dataclass makes the classes dataclasses would make (for the options it takes),
and refuses the others."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
import subprocess
import sys

import pytest

from pybpf import _dataclass


def _classes(dataclass, field):
    """The same class definitions, made by one module or the other."""

    @dataclass
    class Plain:
        """A mutable record."""

        name: str
        size: int = 0
        items: list = field(default_factory=list)
        blob: bytes | None = field(default=None, repr=False)
        seen: int = field(default=0, compare=False)

        def __post_init__(self):
            self.name = self.name.strip()

    @dataclass(frozen=True)
    class Frozen:
        """An immutable one."""

        a: int
        b: str = "x"
        counts: tuple = field(default_factory=tuple)

    @dataclass(frozen=True)
    class FrozenChild(Frozen):
        """Fields after the base's; a redefined field keeps its place."""

        a: int = 1
        c: int = 3

    @dataclass
    class Node:
        """Keyword-only fields, after the subclass's in __init__."""

        position: int = field(default=0, kw_only=True)

    @dataclass
    class Leaf(Node):
        """A subclass of it."""

        value: int
        kind: str = field(default="", kw_only=True)

    @dataclass(eq=False)
    class Identity:

        value: int
        inner: Identity | None = None

    @dataclass
    class OwnMethods:
        """Its own __repr__ and __eq__ stay."""

        x: int

        def __repr__(self):
            return "mine"

        def __eq__(self, other):
            return True

    return Plain, Frozen, FrozenChild, Identity, OwnMethods, Leaf


THEIRS = _classes(dataclasses.dataclass, dataclasses.field)
OURS = _classes(_dataclass.dataclass, _dataclass.field)
SAMPLES = [
    (lambda c: c[0](" n ", 3, [1], b"z", 9), lambda c: c[0](" n ", 3, [1], b"y", 0)),
    (lambda c: c[1](1), lambda c: c[1](1, "x", ())),
    (lambda c: c[2](), lambda c: c[2](1, "x", c=3)),
    (lambda c: c[3](1), lambda c: c[3](1)),
    (lambda c: c[4](1), lambda c: c[4](2)),
    (lambda c: c[5](7, position=3, kind="k"), lambda c: c[5](7, kind="k", position=3)),
]


def _behaviour(classes, make, other) -> list:
    """What one can observe of an object and its class."""
    obj, twin = make(classes), other(classes)
    seen = [repr(obj), obj == twin, obj != twin, type(obj).__hash__ is None, type(obj).__match_args__,
            [(f.name, f.type, f.default is dataclasses.MISSING, f.default_factory is dataclasses.MISSING, f.repr,
              f.compare, f.kw_only) for f in dataclasses.fields(obj)],
            dataclasses.is_dataclass(obj), dataclasses.asdict(obj) if type(obj).__name__ != "Identity" else None,
            repr(dataclasses.replace(obj)), repr(_dataclass.replace(obj)), repr(copy.copy(obj)),
            repr(pickle.loads(pickle.dumps(obj))) if type(obj).__module__ != __name__ else None,
            type(obj).__dataclass_params__.frozen, type(obj).__dataclass_params__.eq, type(obj).__doc__,
            str(inspect.signature(type(obj)))]
    if type(obj).__hash__ is not None:
        seen.append(hash(obj) == hash(twin))
    for attempt in ("obj.a = 5", "obj.new = 1", "del obj.a"):
        try:
            exec(attempt)
            seen.append("ok")
        except Exception as exc:    # noqa: BLE001 - the error is what is compared
            seen.append(type(exc).__name__ + str(exc))
    for args in ((), (1, 2, 3, 4, 5, 6, 7), (1,)):
        try:
            type(obj)(*args)
            seen.append("ok")
        except TypeError as exc:
            seen.append(str(exc).split("() ", 1)[1])
        except AttributeError as exc:   # (__post_init__'s)
            seen.append(str(exc))
    return seen


@pytest.mark.parametrize("sample", range(len(SAMPLES)))
def test_the_same_class_as_dataclasses_makes(sample):
    make, other = SAMPLES[sample]
    assert _behaviour(OURS, make, other) == _behaviour(THEIRS, make, other)


def test_a_field_holding_its_object_repr():
    for classes in (OURS, THEIRS):
        loop = classes[3](1)
        loop.inner = loop
        assert repr(loop) == "_classes.<locals>.Identity(value=1, inner=...)"


@pytest.mark.parametrize("options", [{"slots": True}, {"order": True}, {"kw_only": True}, {"init": False}])
def test_what_it_does_not_make_is_refused(options):
    with pytest.raises(TypeError, match="use dataclasses"):
        _dataclass.dataclass(type("C", (), {"__annotations__": {"a": "int"}}), **options)


def test_class_variables_and_dataclasses_bases_are_refused():
    with pytest.raises(TypeError, match="ClassVar"):
        _dataclass.dataclass(type("C", (), {"__annotations__": {"a": "ClassVar[int]"}}))
    base = dataclasses.dataclass(type("B", (), {"__annotations__": {"a": "int"}}))
    with pytest.raises(TypeError, match="made by dataclasses"):
        _dataclass.dataclass(type("C", (base,), {"__annotations__": {"b": "int"}}))
    with pytest.raises(TypeError, match="use dataclasses.field"):
        _dataclass.field(metadata={})
    for make in (_dataclass.dataclass, dataclasses.dataclass):     # (both refuse a shared mutable default)
        with pytest.raises(ValueError, match="mutable default <class 'list'> for field a is not allowed"):
            make(type("C", (), {"__annotations__": {"a": "list"}, "a": []}))


def test_making_a_class_imports_no_dataclasses():
    code = ("import sys; from pybpf._dataclass import dataclass\n"
            "@dataclass(frozen=True)\nclass C:\n    a: int\n    b: int = 2\n"
            "c = C(1); assert c == C(1, 2) and repr(c) == 'C(a=1, b=2)' and hash(c) == hash((1, 2))\n"
            "print('dataclasses' in sys.modules, 'inspect' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.split() == ["False", "False"]


def test_methods_are_compiled_on_first_use():
    """Until a class is first instantiated, compared or hashed, its methods are stand-ins,
    each compiled on its own first call; inspect.signature still reads dataclasses'
    signature (looking it up compiles ``__init__``)."""
    plain, frozen = _classes(_dataclass.dataclass, _dataclass.field)[:2]
    assert str(inspect.signature(plain)) == str(inspect.signature(THEIRS[0]))
    assert "__signature__" not in vars(plain) and plain.__init__.__code__.co_varnames[:2] == ("self", "name")
    stand_ins = {name: vars(frozen)[name] for name in ("__init__", "__eq__", "__hash__")}
    assert stand_ins["__init__"].__qualname__ == "_classes.<locals>.Frozen.__init__"
    made = frozen(1)
    assert [vars(frozen)[name] is stand_ins[name] for name in stand_ins] == [False, True, True]
    assert made == frozen(1) and vars(frozen)["__hash__"] is stand_ins["__hash__"]
    assert hash(made) == hash(frozen(1)) and vars(frozen)["__hash__"] is not stand_ins["__hash__"]
    assert vars(frozen)["__eq__"].__qualname__ == "_classes.<locals>.Frozen.__eq__"


def test_module_level_classes_pickle_and_copy():
    """pickle and copy make the objects again without __init__ (frozen ones too)."""
    from pybpf.engine.program import RunResult
    from pybpf.object import MapSpec

    for obj in (MapSpec("m", "hash", 4, 8, 16, btf=b"x"), RunResult(1, b"out", b"", 5)):
        assert pickle.loads(pickle.dumps(obj)) == obj == copy.deepcopy(obj) == copy.copy(obj)

