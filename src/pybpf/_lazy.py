"""Package attributes imported on first use (PEP 562 module ``__getattr__``).

Every ``pybpf`` command starts by importing ``pybpf`` and the packages on its path, and a
package ``__init__`` that imports all its modules makes every command pay for all of
them: ``pybpf filter`` used to load the engine, the object model, BTF and the eBPF
assembler (a quarter of a second) before reading a byte. A package built with
:func:`lazy_attributes` keeps its public names where they were — ``from pybpf.isa import
assemble`` still works — but imports the module defining a name only when the name is
first looked up, then stores it in the package so the next look-up is an ordinary one.
(This module imports nothing that Python has not loaded at start-up: modules are
imported with ``__import__``, as ``importlib.import_module`` does for absolute names,
without importing importlib and warnings.)
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False   # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType
else:
    ModuleType = type(sys)   # without importing types


def lazy_attributes(package: str, sources: dict[str, str], submodules: tuple[str, ...] = ()
                    ) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``sources`` maps each public name
    to the module defining it; ``submodules`` are public names that are modules.

    A name defined in a submodule of the same name (``pybpf.cbpf.dump.dump``) stays that
    name's value when the submodule is imported: the import system then sets the
    package's attribute to the module, which the package's class (:class:`_Package`)
    replaces with the module's own name. (Binding such names when the package is imported
    instead would import those modules with it: ``pybpf.btf.decode`` and ``encode``, with
    the BTF parser, ~3 ms of every command that imports any BTF module.)"""
    module = sys.modules[package]
    namespace = vars(module)
    shadowed = frozenset(name for name, source in sources.items() if source == f"{package}.{name}")
    if shadowed:
        namespace["_SHADOWED"] = shadowed
        module.__class__ = _Package

    def __getattr__(name: str) -> object:
        if name in submodules:
            return _import(f"{package}.{name}")
        source = sources.get(name)
        if source is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(_import(source), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(sources) | set(submodules))

    return __getattr__, __dir__


class _Package(ModuleType):
    """A package some of whose names are defined in submodules of the same name."""

    def __setattr__(self, name: str, value: object) -> None:
        if name in vars(self).get("_SHADOWED", ()) and value is sys.modules.get(f"{self.__name__}.{name}"):
            value = getattr(value, name)
        super().__setattr__(name, value)


def _import(module: str) -> object:
    """The module named ``module`` (absolute), imported if need be."""
    __import__(module)
    return sys.modules[module]
