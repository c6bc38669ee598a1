"""Running a tool's BPF program: compile its C (pybpf.toolchain), load it into the kernel
and attach every program — by its section name, or to the target the tool names (a perf
event's ``profile:hz:99``) — for as long as the ``with`` lasts."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, cast


class Tracing:
    """A tool's loaded collection while its programs are attached: ``maps``, ``programs``,
    and ``detach()``, which stops the tracing before the ``with`` ends — done before the
    last report, so that maps read one after another agree with one another."""

    def __init__(self, collection: Any, links: contextlib.ExitStack):
        self.maps, self.programs, self._links = collection.maps, collection.programs, links

    def detach(self) -> None:
        self._links.close()


@contextlib.contextmanager
def running(source: str, *, name: str, defines: Mapping[str, int] | None = None,
            targets: Mapping[str, str] | None = None, flags: Any = None) -> Iterator[Tracing]:
    """The loaded collection (``.maps``, ``.programs``) with its programs attached, as a
    :class:`Tracing`; ``targets`` maps a program's name to where it attaches instead of
    its section. ``flags`` (the tool's parsed arguments) applies the program flags of
    :mod:`pybpf.tools.programflags` (``--ebpf``, ``--cgroupmap``, ``--mntnsmap``)."""
    from pybpf.engine import load
    from pybpf.kernel.attach import attach
    from pybpf.kernel.programs import KernelProgram
    from pybpf.object.elf import load_object
    from pybpf.toolchain.compile import compile_c
    from pybpf.tools.programflags import prepared

    compiled = prepared(source, defines, flags)
    spec = load_object(compile_c(compiled.source, defines=compiled.defines), name=name)
    with load(spec, engine="kernel", reuse=compiled.reuse) as loaded, contextlib.ExitStack() as links:
        for program_name, program in loaded.programs.items():
            links.enter_context(attach(cast(KernelProgram, program), (targets or {}).get(program_name)))
        yield Tracing(loaded, links)
