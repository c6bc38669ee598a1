"""``load(spec, engine=...)``: one entry point for both engines.

An engine is a module with two functions:

- ``available() -> str | None`` — None when the engine can run here, else why not;
- ``load_collection(spec: CollectionSpec, **options) -> Collection``.

The kernel engine is ``pybpf.kernel.engine`` and the vm engine ``pybpf.vm.engine``; they
are imported by name so that neither is a dependency of the other, or of this module.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from pybpf.engine.collection import Collection
from pybpf.errors import EngineUnavailable
from pybpf.object import CollectionSpec, MapSpec, MapType, ProgramSpec

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

ENGINES = {"kernel": "pybpf.kernel.engine", "vm": "pybpf.vm.engine"}
_announced: set[str] = set()


def engine_module(name: str) -> ModuleType:
    """The engine module called ``name``; EngineUnavailable when it is absent or unusable."""
    if name not in ENGINES:
        raise EngineUnavailable(f"unknown engine {name!r} (choose auto, kernel or vm)")
    try:
        module = importlib.import_module(ENGINES[name])
    except ModuleNotFoundError as exc:
        if exc.name and ENGINES[name].startswith(exc.name):
            raise EngineUnavailable(f"the {name} engine is not part of this pybpf "
                                    f"({ENGINES[name]} is missing)") from None
        raise
    reason = module.available()
    if reason:
        raise EngineUnavailable(f"the {name} engine cannot run here: {reason}")
    return module


def resolve_engine(engine: str = "auto") -> tuple[str, str | None]:
    """The one place "auto" is decided: ``(name, why)`` — the kernel where bpf() is
    permitted, else the vm with ``why`` saying what the kernel refused; a named engine
    comes back as it is (unknown names are EngineUnavailable)."""
    if engine != "auto":
        if engine not in ENGINES:
            raise EngineUnavailable(f"unknown engine {engine!r} (choose auto, kernel or vm)")
        return engine, None
    try:
        engine_module("kernel")
        return "kernel", None
    except EngineUnavailable as kernel_refusal:
        return "vm", str(kernel_refusal)


def choose_engine(engine: str = "auto") -> ModuleType:
    """The engine module for ``engine`` (see :func:`resolve_engine`); for "auto" it says
    which it chose (once per process) on the ``pybpf.engine`` logger."""
    name, why = resolve_engine(engine)
    try:
        module = engine_module(name)
    except EngineUnavailable as refusal:
        if why is None:
            raise
        raise EngineUnavailable(f"no engine can run here: {why}; {refusal}") from None
    if engine == "auto":
        _announce(name, "info" if why is None else "warning",
                  "engine auto: using the kernel (bpf() is permitted)" if why is None
                  else f"engine auto: using the vm ({why})")
    return module


def _announce(name: str, level: str, message: str) -> None:
    """``message`` at ``level`` ("info" or "warning") on the ``pybpf.engine`` logger, the
    first time ``name`` is chosen; logging is imported only then (~4 ms of a start-up)."""
    if name not in _announced:
        _announced.add(name)
        import logging

        getattr(logging.getLogger("pybpf.engine"), level)(message)


def load(spec: CollectionSpec | MapSpec | ProgramSpec | str | os.PathLike[str] | bytes, engine: str = "auto",
         **options: Any) -> Collection:
    """Load ``spec`` (a collection, or a single map/program spec) on ``engine``: "kernel",
    "vm", or "auto" (the kernel where bpf() is permitted, else the vm).

    Returns a :class:`Collection` (a context manager) whose ``maps`` and ``programs``
    offer the same API on either engine. A program source (a path, C or assembly text,
    ELF or instruction bytes) is read with :func:`pybpf.read` first. ``options`` go to
    the engine (the kernel engine takes ``log_level`` and ``log_size`` for verifier logs).
    """
    if isinstance(spec, (str, os.PathLike, bytes, bytearray, memoryview)):
        from pybpf.object.source import read

        spec = read(spec)
    elif not isinstance(spec, CollectionSpec):
        spec = CollectionSpec.of(spec)
    spec = _sized_perf_arrays(spec)
    spec.check()
    _require_program_types(spec)
    return choose_engine(engine).load_collection(spec, **options)


def _require_program_types(spec: CollectionSpec) -> None:
    """Refuse a program whose section named no program type (libbpf opens such objects
    too, and refuses to load them until the caller sets the type)."""
    for program in spec.programs.values():
        program.require_type()


def _sized_perf_arrays(spec: CollectionSpec) -> CollectionSpec:
    """Perf event arrays declared without ``max_entries`` get one slot per possible CPU,
    as libbpf gives them (the kernel refuses a size of 0, and every CPU needs a ring)."""
    unsized = [name for name, m in spec.maps.items() if m.type == MapType.PERF_EVENT_ARRAY and m.max_entries == 0]
    if not unsized:
        return spec
    from pybpf.engine.cpus import possible_cpus

    maps = dict(spec.maps)
    for name in unsized:
        maps[name] = maps[name].copy(max_entries=possible_cpus())
    return CollectionSpec(maps, dict(spec.programs))
