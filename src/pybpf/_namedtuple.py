"""``typing.NamedTuple``'s class syntax at run time without importing typing.

typing brings re, functools, contextlib and more with it: ~10 ms of a command that
otherwise starts in ~20 (``pybpf filter -r FILE -w OUT``), and the records on that path
(:class:`pybpf.capture.Packet`, :class:`pybpf.cbpf.Instruction`, the pcap walker's) need
only what ``collections.namedtuple`` makes. Modules write::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from typing import NamedTuple
    else:
        from pybpf._namedtuple import NamedTuple

    class Packet(NamedTuple):
        data: bytes
        wirelen: int = 0

so type checkers see typing's class, and the class made here is the same
``collections.namedtuple`` that typing would make: the fields and their defaults from the
annotated names, in order, and the class body's methods, properties and docstring.
"""

from __future__ import annotations

from collections import namedtuple

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: (called with the names the class body gives, which type checkers cannot follow)
_make_record: Callable[..., Any] = namedtuple
#: names a record's class body may not define (namedtuple makes them), as typing says
_PROHIBITED = frozenset({"__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults",
                         "_make", "_replace", "_asdict", "_source"})
_SPECIAL = frozenset({"__module__", "__name__", "__annotations__"})


class _RecordMeta(type):
    def __new__(mcls, name: str, bases: tuple[type, ...], namespace: dict[str, object]) -> type:
        if namespace.get("__module__") == __name__:        # NamedTuple itself
            return super().__new__(mcls, name, bases, namespace)
        annotations: dict[str, object] = dict(namespace.get("__annotations__", {}))  # type: ignore[call-overload]
        defaults = []
        for field in annotations:
            if field in namespace:
                defaults.append(namespace[field])
            elif defaults:
                raise TypeError(f"Non-default namedtuple field {field} cannot follow default field"
                                f"{'s' if len(defaults) > 1 else ''} {', '.join(f for f in annotations if f in namespace)}")
        record = _make_record(name, list(annotations), defaults=defaults, module=str(namespace["__module__"]))
        record.__annotations__ = record.__new__.__annotations__ = annotations
        for key, value in namespace.items():
            if key in _PROHIBITED:
                raise AttributeError(f"Cannot overwrite NamedTuple attribute {key}")
            if key not in _SPECIAL and key not in record._fields:
                setattr(record, key, value)
        return record


class NamedTuple(metaclass=_RecordMeta):
    """Subclass this as ``typing.NamedTuple`` (the class made is a ``collections.namedtuple``)."""
