"""pybpf._namedtuple's NamedTuple makes what typing.NamedTuple makes (the records on
``pybpf filter``'s path use it to start without typing), and pybpf._once.once answers
as functools.cache does for a function of no arguments."""

from __future__ import annotations

import copy
import pickle
import typing

import pytest

from pybpf._namedtuple import NamedTuple
from pybpf._once import once
from pybpf.capture.packet import Packet


class Mine(NamedTuple):
    """A record."""

    code: int
    data: bytes = b""
    size: int = 4

    def doubled(self) -> int:
        return 2 * self.code

    @property
    def total(self) -> int:
        return self.code + self.size


class Theirs(typing.NamedTuple):
    """A record."""

    code: int
    data: bytes = b""
    size: int = 4

    def doubled(self) -> int:
        return 2 * self.code

    @property
    def total(self) -> int:
        return self.code + self.size


def test_the_record_behaves_as_typing_makes_it():
    mine, theirs = Mine(3, b"x"), Theirs(3, b"x")
    assert tuple(mine) == tuple(theirs) == (3, b"x", 4)
    assert repr(mine).replace("Mine", "Theirs") == repr(theirs)
    assert Mine._fields == Theirs._fields and Mine._field_defaults == Theirs._field_defaults
    assert mine.doubled() == theirs.doubled() == 6 and mine.total == theirs.total == 7
    assert mine._replace(size=9) == (3, b"x", 9) and mine._asdict() == theirs._asdict()
    assert Mine._make([1, b"", 2]) == (1, b"", 2)
    assert Mine.__doc__ == Theirs.__doc__ == "A record."
    assert (Mine.__module__, Mine.__qualname__) == (__name__, "Mine")
    assert list(Mine.__annotations__) == ["code", "data", "size"]
    assert Mine.__mro__[1:] == Theirs.__mro__[1:] == (tuple, object)
    assert pickle.loads(pickle.dumps(mine)) == mine
    with pytest.raises(TypeError):
        Mine()                              # (code has no default)
    code, data, size = mine
    assert (code, data, size) == (3, b"x", 4)
    assert Mine.__match_args__ == Theirs.__match_args__ and Mine.__slots__ == Theirs.__slots__ == ()
    assert Mine.__new__.__defaults__ == Theirs.__new__.__defaults__
    assert [getattr(Mine, f).__doc__ for f in Mine._fields] == [getattr(Theirs, f).__doc__ for f in Theirs._fields]
    match mine:
        case Mine(3, data=b"x"):
            pass
        case _:
            raise AssertionError("no match")
    assert copy.copy(mine) == mine and copy.deepcopy(mine) == mine and mine.__getnewargs__() == (3, b"x", 4)
    for record in (mine, theirs):
        with pytest.raises(ValueError, match=r"Got unexpected field names: \['colour'\]"):
            record._replace(colour=1)
        with pytest.raises(TypeError, match="Expected 3 arguments, got 1"):
            type(record)._make([1])
        with pytest.raises(AttributeError):
            record.code = 4                     # type: ignore[misc]


def test_one_field_records():
    class One(NamedTuple):
        only: int

    class Two(typing.NamedTuple):
        only: int

    assert One(5) == (5,) and repr(One(5)) == repr(Two(5)).replace("Two", "One") == "One(only=5)"
    assert One._make([6])._replace(only=7) == (7,)


def test_the_class_body_is_checked_as_typing_checks_it():
    with pytest.raises(TypeError, match="Non-default namedtuple field b cannot follow default field"):
        class Wrong(NamedTuple):
            a: int = 0
            b: int
    with pytest.raises(AttributeError, match="Cannot overwrite NamedTuple attribute _replace"):
        class Clash(NamedTuple):
            a: int

            def _replace(self) -> None:     # type: ignore[override]
                pass


def test_the_capture_packet_is_such_a_record():
    packet = Packet(5, b"ab", 60, 1)
    assert packet == (5, b"ab", 60, 1, 0) and packet.interface == 0 and Packet._fields[-1] == "interface"


def test_once_calls_the_function_once():
    calls = []

    @once
    def answer() -> int | None:
        """The answer."""
        calls.append(1)
        return None

    assert answer() is None and answer() is None and calls == [1]
    assert answer.__name__ == "answer" and answer.__doc__ == "The answer."
