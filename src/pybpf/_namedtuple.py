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

so type checkers see typing's class, and the class made here is what typing would make
(a ``collections.namedtuple``): the fields and their defaults from the annotated names, in
order, and the class body's methods, properties and docstring.

The class is built here rather than by ``collections.namedtuple``, whose module (with
operator, reprlib, keyword and the rest of collections) is ~1.7 ms of that same start-up;
the pieces are the ones namedtuple uses — ``tuple.__new__``, the C field getters of
``_collections`` (a built-in module) — and tests/test_namedtuple.py holds the two side by
side (fields, defaults, ``_make``, ``_replace``, ``_asdict``, repr, pickling, matching).
"""

from __future__ import annotations

from _collections import _tuplegetter

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any


def _record_class(name: str, fields: list[str], defaults: list[object], module: str) -> Any:
    """The tuple subclass ``collections.namedtuple(name, fields, defaults=defaults,
    module=module)`` makes, with the same attributes and methods."""
    names = tuple(fields)
    count = len(names)
    arguments = ", ".join(names)
    namespace: dict[str, Any] = {"_tuple_new": tuple.__new__}
    exec(f"def __new__(_cls, {arguments}):\n    return _tuple_new(_cls, ({arguments}{',' if count == 1 else ''}))",
         namespace)
    new = namespace["__new__"]
    new.__doc__ = f"Create new instance of {name}({arguments})"
    new.__qualname__ = f"{name}.__new__"
    if defaults:
        new.__defaults__ = tuple(defaults)
    template = f"{name}({', '.join(f'{field}=%r' for field in names)})"

    def _make(cls: type, iterable: Iterable[object]) -> tuple:
        result: tuple = tuple.__new__(cls, iterable)
        if len(result) != count:
            raise TypeError(f"Expected {count} arguments, got {len(result)}")
        return result

    def _replace(self: Any, /, **changes: object) -> tuple:
        result = self._make(map(changes.pop, names, self))
        if changes:
            raise ValueError(f"Got unexpected field names: {list(changes)!r}")
        return result

    def __repr__(self: tuple) -> str:
        return self.__class__.__name__ + template[len(name):] % self

    def _asdict(self: tuple) -> dict[str, object]:
        return dict(zip(names, self))

    def __getnewargs__(self: tuple) -> tuple:
        return tuple(self)

    _make.__doc__ = f"Make a new {name} object from a sequence or iterable"
    _replace.__doc__ = f"Return a new {name} object replacing specified fields with new values"
    __repr__.__doc__ = "Return a nicely formatted representation string"
    _asdict.__doc__ = "Return a new dict which maps field names to their values."
    __getnewargs__.__doc__ = "Return self as a plain tuple.  Used by copy and pickle."
    body: dict[str, Any] = {
        "__doc__": f"{name}({arguments})", "__slots__": (), "_fields": names,
        "_field_defaults": dict(zip(names[count - len(defaults):], defaults)) if defaults else {},
        "__new__": new, "_make": classmethod(_make), "_replace": _replace, "__repr__": __repr__,
        "_asdict": _asdict, "__getnewargs__": __getnewargs__, "__match_args__": names, "__module__": module,
    }
    for method in (_make, _replace, __repr__, _asdict, __getnewargs__):
        method.__qualname__ = f"{name}.{method.__name__}"
    for index, field in enumerate(names):
        body[field] = _tuplegetter(index, f"Alias for field number {index}")
    return type(name, (tuple,), body)

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
        record = _record_class(name, list(annotations), defaults, str(namespace["__module__"]))
        record.__annotations__ = record.__new__.__annotations__ = annotations
        for key, value in namespace.items():
            if key in _PROHIBITED:
                raise AttributeError(f"Cannot overwrite NamedTuple attribute {key}")
            if key not in _SPECIAL and key not in record._fields:
                setattr(record, key, value)
        return record


class NamedTuple(metaclass=_RecordMeta):
    """Subclass this as ``typing.NamedTuple`` (the class made is a ``collections.namedtuple``)."""
