"""``dataclasses.dataclass`` for pybpf's classes, without importing dataclasses.

Importing dataclasses imports inspect (and with it ast, dis, tokenize and linecache):
~10 ms of a command that otherwise starts in ~25, and each class the decorator makes
costs ~0.4 ms more (it compiles its methods one by one, and reads the class's signature
with inspect). The decorator here makes what dataclasses makes for the options pybpf's
classes use — ``frozen``, ``eq``, ``repr``, fields with ``default``, ``default_factory``,
``repr``, ``compare`` and ``kw_only``, ``__post_init__``, base classes made here —
compiling ``__init__``, ``__eq__`` and ``__hash__`` in one go when the class is first
used (:func:`_compiled_on_first_use`); anything else (``slots``,
``order``, ``ClassVar``, ``InitVar``, a base made by dataclasses itself) is a TypeError, so
a module can only switch to it where it makes the same class. Modules write::

    TYPE_CHECKING = False
    if TYPE_CHECKING:
        from dataclasses import dataclass, field
    else:
        from pybpf._dataclass import dataclass, field

so type checkers see dataclasses' own. The classes are still dataclasses to
:mod:`dataclasses` (``fields``, ``replace``, ``asdict``, ``is_dataclass``): their
``__dataclass_fields__`` and ``__dataclass_params__`` are made, by dataclasses, on first
look-up (:class:`_DataclassView`). :func:`replace` is ``dataclasses.replace`` for both
kinds of class, and :func:`field_names` the names ``dataclasses.fields`` would give.
"""

from __future__ import annotations

import _thread
import sys

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

#: a field without a default (dataclasses.MISSING's role)
MISSING: Any = type("_Missing", (), {"__repr__": lambda self: "MISSING"})()
#: the default of a field with a default_factory in ``__init__`` (as dataclasses shows it)
_FACTORY: Any = type("_Factory", (), {"__repr__": lambda self: "<factory>"})()
#: the options of dataclass() and field() that this module makes as dataclasses would
_OPTIONS = {"init", "repr", "eq", "frozen"}
_FIELD_OPTIONS = {"default", "default_factory", "repr", "compare", "kw_only"}


class Field:
    """One field: what ``field()`` said about it, and its name once the class is made."""

    __slots__ = ("name", "type", "default", "default_factory", "repr", "compare", "kw_only")

    def __init__(self, default: Any = MISSING, default_factory: Any = MISSING, repr: bool = True,  # noqa: A002
                 compare: bool = True, kw_only: bool = False, name: str = "", type: str = ""):  # noqa: A002
        if default is not MISSING and default_factory is not MISSING:
            raise ValueError("cannot specify both default and default_factory")
        self.name, self.type, self.kw_only = name, type, kw_only
        self.default, self.default_factory, self.repr, self.compare = default, default_factory, repr, compare


def field(**options: Any) -> Any:
    """``dataclasses.field`` with ``default``, ``default_factory``, ``repr``, ``compare``, ``kw_only``."""
    unsupported = set(options) - _FIELD_OPTIONS
    if unsupported:
        raise TypeError(f"pybpf._dataclass.field does not make {sorted(unsupported)}: use dataclasses.field")
    return Field(**options)


def dataclass(cls: type | None = None, /, **options: Any) -> Any:
    """``dataclasses.dataclass`` with ``repr``, ``eq`` and ``frozen`` (see the module)."""
    unsupported = {name for name, value in options.items() if name not in _OPTIONS or (name == "init" and not value)}
    if unsupported:
        raise TypeError(f"pybpf._dataclass.dataclass does not make {sorted(unsupported)}: use dataclasses.dataclass")
    if cls is None:
        return lambda cls: _make(cls, options.get("repr", True), options.get("eq", True), options.get("frozen", False))
    return _make(cls, options.get("repr", True), options.get("eq", True), options.get("frozen", False))


def replace(obj: Any, /, **changes: Any) -> Any:
    """``dataclasses.replace``: a copy of ``obj`` with ``changes`` made (through ``__init__``)."""
    fields = getattr(type(obj), "__record_fields__", None)
    if fields is None:
        import dataclasses

        return dataclasses.replace(obj, **changes)
    for f in fields:
        if f.name not in changes:
            changes[f.name] = getattr(obj, f.name)
    return obj.__class__(**changes)


def field_names(obj: Any) -> tuple[str, ...]:
    """The field names of a dataclass (or of an instance of one) made here or by
    dataclasses, in order; () for anything else. (``dataclasses.fields`` would import
    dataclasses to make the fields' view.)"""
    cls = obj if isinstance(obj, type) else type(obj)
    fields = getattr(cls, "__record_fields__", None)
    if fields is not None:
        return tuple(f.name for f in fields)
    return tuple(getattr(cls, "__dataclass_fields__", {}))


def _make(cls: type, repr_: bool, eq: bool, frozen: bool) -> type:
    namespace = cls.__dict__
    fields: dict[str, Field] = {}     # (a field redefined keeps its base's place, as in dataclasses)
    for base in cls.__mro__[-1:0:-1]:
        if "__dataclass_fields__" in base.__dict__ and "__record_fields__" not in base.__dict__:
            raise TypeError(f"{cls.__qualname__}: base {base.__qualname__} was made by dataclasses; use dataclasses")
        if "__record_fields__" in base.__dict__:
            if base.__dict__["__record_frozen__"] != frozen:
                raise TypeError(f"cannot inherit {'non-' if frozen else ''}frozen dataclass from a "
                                f"{'' if frozen else 'non-'}frozen one")
            fields.update((f.name, f) for f in base.__dict__["__record_fields__"])
    for name, annotation in namespace.get("__annotations__", {}).items():
        if isinstance(annotation, str) and annotation.split("[")[0].rpartition(".")[2] in ("ClassVar", "InitVar"):
            raise TypeError(f"{cls.__qualname__}.{name}: ClassVar and InitVar need dataclasses.dataclass")
        value = namespace.get(name, MISSING)
        made = value if isinstance(value, Field) else Field(default=value)
        made.name, made.type = name, annotation
        if made.default is not MISSING and made.default.__class__.__hash__ is None:
            raise ValueError(f"mutable default {type(made.default)} for field {name} is not allowed: "
                             "use default_factory")
        if isinstance(value, Field):
            if made.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, made.default)
        fields[name] = made
    describe(cls, tuple(fields.values()), eq=eq, frozen=frozen)
    # the rules of dataclasses: methods the class defines stay, __hash__ follows eq and frozen
    explicit_hash = namespace.get("__hash__", MISSING) is not MISSING and not (
        namespace["__hash__"] is None and "__eq__" in namespace)
    hashed = eq and frozen and not explicit_hash
    generated = ["__init__", *(["__eq__"] if eq else []), *(["__hash__"] if hashed else [])]
    methods = _compiled_on_first_use(cls, list(fields.values()), eq, frozen, hashed,
                                     [name for name in generated if name not in namespace or name == "__hash__"])
    if repr_:
        methods["__repr__"] = _repr([f.name for f in fields.values() if f.repr])
    if frozen:
        for name in ("__setattr__", "__delattr__"):
            if name in namespace:
                raise TypeError(f"Cannot overwrite attribute {name} in class {cls.__name__}")
        methods["__setattr__"], methods["__delattr__"] = _frozen(cls, set(fields))
    for name, method in methods.items():
        if name not in namespace or name == "__hash__":
            method.__qualname__ = f"{cls.__qualname__}.{name}"
            setattr(cls, name, method)
    if eq and not frozen and not explicit_hash:
        cls.__hash__ = None  # type: ignore[assignment]
    if cls.__doc__ is None:     # dataclasses' docstring: the class's signature
        cls.__doc__ = f"{cls.__name__}({_signature(fields.values())})"
    if "__match_args__" not in namespace:
        setattr(cls, "__match_args__", tuple(f.name for f in fields.values() if not f.kw_only))  # noqa: B010
    return cls


def describe(cls: type, fields: tuple[Field, ...], *, eq: bool, frozen: bool) -> None:
    """Make ``cls`` a dataclass with ``fields`` to :mod:`dataclasses` and to :func:`replace`
    (for a class whose methods are written out, as :class:`pybpf.isa.Instruction`'s)."""
    cls.__record_fields__ = fields  # type: ignore[attr-defined]
    cls.__record_frozen__ = frozen  # type: ignore[attr-defined]
    cls.__dataclass_fields__ = _DataclassView(cls, "__dataclass_fields__", eq)  # type: ignore[attr-defined]
    cls.__dataclass_params__ = _DataclassView(cls, "__dataclass_params__", eq)  # type: ignore[attr-defined]


def _compiled_on_first_use(cls: type, fields: list[Field], eq: bool, frozen: bool, hashed: bool,
                           names: list[str]) -> dict[str, Callable[..., Any]]:
    """Stand-ins for the methods ``names`` (of ``__init__``, ``__eq__``, ``__hash__``) that
    compile them on first use and put them in the class in their place: compiling is most of
    the ~0.1 ms a class costs, and a command uses few of the classes it imports (the trace
    compiler's syntax tree for ``BEGIN { exit(); }``). ``inspect.signature`` of the class
    compiles them too (``__signature__``, :class:`_LazySignature`)."""
    made: dict[str, Callable[..., Any]] = {}

    def compiled() -> dict[str, Callable[..., Any]]:
        if not made:
            made.update(_methods(cls, fields, eq, frozen, hashed))
            for name in names:
                made[name].__qualname__ = f"{cls.__qualname__}.{name}"
                setattr(cls, name, made[name])
            if isinstance(cls.__dict__.get("__signature__"), _LazySignature):
                delattr(cls, "__signature__")
        return made

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        compiled()["__init__"](self, *args, **kwargs)

    def __eq__(self: Any, other: object) -> Any:
        return compiled()["__eq__"](self, other)

    def __hash__(self: Any) -> int:
        return compiled()["__hash__"](self)

    if "__init__" in names:
        cls.__signature__ = _LazySignature(compiled)  # type: ignore[attr-defined]
    stand_ins: dict[str, Callable[..., Any]] = {"__init__": __init__, "__eq__": __eq__, "__hash__": __hash__}
    return {name: stand_ins[name] for name in names}


class _LazySignature:
    """A class's ``__signature__`` until its ``__init__`` is compiled: looking it up (as
    ``inspect.signature`` does) compiles the methods, which removes this, and gives None
    (for inspect: "no ``__signature__``, read ``__init__``")."""

    def __init__(self, compiled: Callable[[], object]):
        self.compiled = compiled

    def __get__(self, instance: object, owner: type) -> None:
        self.compiled()


def _methods(cls: type, fields: list[Field], eq: bool, frozen: bool, hashed: bool) -> dict[str, Callable[..., Any]]:
    """``__init__`` (and with ``eq``, ``__eq__``; with ``hashed``, ``__hash__``), compiled in one go."""
    scope: dict[str, Any] = {"_FACTORY": _FACTORY, "__object_setattr": object.__setattr__}
    parameters: list[str] = []
    keywords: list[str] = []     # (the kw_only fields: after the others, as dataclasses orders them)
    body = []
    for f in fields:
        into = keywords if f.kw_only else parameters
        if f.default_factory is not MISSING:
            scope[f"__factory_{f.name}"] = f.default_factory
            into.append(f"{f.name}=_FACTORY")
            value = f"__factory_{f.name}() if {f.name} is _FACTORY else {f.name}"
        else:
            if f.default is not MISSING:
                scope[f"__default_{f.name}"] = f.default
                into.append(f"{f.name}=__default_{f.name}")
            elif not f.kw_only and parameters and "=" in parameters[-1]:
                raise TypeError(f"non-default argument {f.name!r} follows default argument")
            else:
                into.append(f.name)
            value = f.name
        body.append(f"__object_setattr(self, {f.name!r}, {value})" if frozen else f"self.{f.name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    compared = [f"self.{f.name}," for f in fields if f.compare]
    if keywords:
        parameters += ["*", *keywords]
    source = f"def __init__(self, {', '.join(parameters)}):\n    " + "\n    ".join(body or ["pass"]) + "\n"
    if eq:
        source += ("def __eq__(self, other):\n    if other.__class__ is self.__class__:\n"
                   f"        return ({''.join(compared)}) == ({''.join(compared).replace('self.', 'other.')})\n"
                   "    return NotImplemented\n")
    if hashed:
        source += f"def __hash__(self):\n    return hash(({''.join(compared)}))\n"
    made: dict[str, Any] = {}
    exec(_code(source, f"<dataclass {cls.__qualname__}>"), scope, made)  # noqa: S102
    # __init__ annotated as dataclasses annotates it (for inspect.signature), after
    # compiling: annotations in the source more than double the time compile takes
    made["__init__"].__annotations__ = {**{f.name: f.type for f in fields}, "return": None}
    return made


def _code(source: str, filename: str) -> Any:
    """``compile(source, filename, "exec")``, or the code an earlier run compiled from the
    same text, from the ``dataclass`` disk cache (:mod:`pybpf.cache`): compiling a class's
    methods takes ~0.3 ms (a process's first compile ~1.5), reading them back ~0.1-0.2 (the
    cache's checks included), and a command uses 6-14 classes (``pybpf run``: ~4 ms of
    compiling). An entry is
    named after the text and the interpreter's version (``marshal`` writes that version's
    bytecode), and is trusted as the JIT's machine code is (:func:`pybpf.cache.unsafe`)."""
    import marshal

    from pybpf.cache import DiskCache, sha256

    cache = DiskCache("dataclass", max_entries=4096, max_bytes=32 << 20)
    name = sha256(f"{sys.version}\0{filename}\0{source}".encode()).hexdigest()[:40] + ".code"
    stored = cache.read(name)
    if stored is not None:
        try:
            code = marshal.loads(stored)
        except (EOFError, ValueError, TypeError):
            code = None
        if isinstance(code, _CodeType) and code.co_filename == filename:
            return code
    code = compile(source, filename, "exec")
    cache.store(name, marshal.dumps(code))
    return code


#: types.CodeType, without importing types
_CodeType = type(_code.__code__)


def _signature(fields: Iterable[Field]) -> str:
    """``str(inspect.signature(cls))`` of a dataclass ``cls`` with these fields, without
    inspect (annotations are strings: ``from __future__ import annotations``)."""
    shown: list[str] = []
    keywords: list[str] = []
    for f in fields:
        default = "" if f.default is MISSING and f.default_factory is MISSING else \
            f" = {'<factory>' if f.default is MISSING else repr(f.default)}"
        (keywords if f.kw_only else shown).append(f"{f.name}: {f.type!r}{default}")
    return ", ".join(shown + (["*", *keywords] if keywords else []))


def _repr(shown: list[str]) -> Callable[[Any], str]:
    running: set[tuple[int, int]] = set()

    def __repr__(self: Any) -> str:
        key = (id(self), _thread.get_ident())
        if key in running:      # a field holding the object itself, as dataclasses' repr says it
            return "..."
        running.add(key)
        try:
            return f"{self.__class__.__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in shown)})"
        finally:
            running.discard(key)
    return __repr__


def _frozen(cls: Any, names: set[str]) -> tuple[Callable[..., None], Callable[..., None]]:
    def __setattr__(self: Any, name: str, value: Any) -> None:
        if type(self) is cls or name in names:
            from dataclasses import FrozenInstanceError

            raise FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in names:
            from dataclasses import FrozenInstanceError

            raise FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)
    return __setattr__, __delattr__


class _DataclassView:
    """A class's ``__dataclass_fields__`` or ``__dataclass_params__``, made on first
    look-up: by dataclasses itself, from a twin class with the same fields, so
    :mod:`dataclasses`' functions see the fields they would have made."""

    def __init__(self, cls: type, attribute: str, eq: bool):
        self.cls, self.attribute, self.eq = cls, attribute, eq

    def __get__(self, instance: object, owner: type) -> Any:
        import dataclasses

        cls = self.cls
        namespace: dict[str, Any] = {"__annotations__": {}, "__module__": cls.__module__, "__doc__": cls.__doc__,
                                     "__qualname__": cls.__qualname__}
        for f in cls.__record_fields__:  # type: ignore[attr-defined]
            namespace["__annotations__"][f.name] = f.type
            given = {"default": f.default, "default_factory": f.default_factory}
            namespace[f.name] = dataclasses.field(**{k: v for k, v in given.items() if v is not MISSING},
                                                  repr=f.repr, compare=f.compare, kw_only=f.kw_only)
        twin: Any = dataclasses.dataclass(eq=self.eq, frozen=cls.__record_frozen__)(  # type: ignore[attr-defined]
            type(cls.__name__, (), namespace))
        for attribute in ("__dataclass_fields__", "__dataclass_params__"):
            type.__setattr__(cls, attribute, getattr(twin, attribute))
        return getattr(twin, self.attribute)
