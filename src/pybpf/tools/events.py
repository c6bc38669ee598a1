"""Event tools' shared machinery: one declaration of an event's fields gives the C
``struct event`` the BPF program fills, the Python decoder of ring-buffer records, and the
CTF field types a recording uses — so C, Python and trace files cannot drift apart.

Every event starts with ``ts`` (``bpf_ktime_get_ns()``, CLOCK_MONOTONIC nanoseconds);
:func:`stream` compiles a tool's C program (pybpf.toolchain), loads it into the kernel,
attaches every program by its section name and yields each record as a dict.
"""

from __future__ import annotations

import contextlib
import struct
import time
from collections.abc import Callable, Iterator, Mapping

from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
    from typing import Any
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

#: integer kinds: (C type, struct code, CTF type)
_INTS = {"u32": ("u32", "I", "u32"), "s32": ("s32", "i", "s32"), "u64": ("u64", "Q", "u64"), "s64": ("s64", "q", "s64")}


class ToolError(PybpfError):
    """A tool run with arguments it cannot honour, or on a kernel that lacks its hooks."""


@dataclass(frozen=True)
class EventLayout:
    """The fields of a tool's event after ``ts``: ``(name, kind)`` with kind one of
    u32, s32, u64, s64, ``str:N`` (a NUL-padded char array of N bytes) or ``bytes:N``
    (N raw bytes, as a hex string)."""

    fields: tuple[tuple[str, str], ...]

    def _codes(self) -> list[str]:
        codes = ["Q"]
        for name, kind in self.fields:
            if kind.startswith(("str:", "bytes:")):
                codes.append(f"{int(kind.split(':')[1])}s")
            elif kind in _INTS:
                codes.append(_INTS[kind][1])
            else:
                raise ToolError(f"event field {name!r}: unknown kind {kind!r}")
        return codes

    @property
    def record(self) -> struct.Struct:
        """The record's layout (packed in C too, so no padding to guess)."""
        return struct.Struct("<" + "".join(self._codes()))

    def c_struct(self) -> str:
        """``struct event`` as C, packed."""
        members = ["u64 ts;"]
        for name, kind in self.fields:
            if kind.startswith(("str:", "bytes:")):
                members.append(f"{'char' if kind[0] == 's' else 'u8'} {name}[{int(kind.split(':')[1])}];")
            else:
                members.append(f"{_INTS[kind][0]} {name};")
        return "struct event { " + " ".join(members) + " } __attribute__((packed));"

    def decode(self, data: bytes) -> dict[str, object]:
        """One record as a dict (strings cut at their NUL and decoded)."""
        values = self.record.unpack_from(data)
        event: dict[str, object] = {"ts": values[0]}
        for (name, kind), value in zip(self.fields, values[1:]):
            if kind.startswith("str:"):
                value = value.split(b"\0", 1)[0].decode(errors="replace")
            elif kind.startswith("bytes:"):
                value = value.hex()
            event[name] = value
        return event

    def ctf_fields(self) -> dict[str, str]:
        """The CTF types of the fields (``ts`` is the event's timestamp there)."""
        return {name: "string" if kind.startswith(("str:", "bytes:")) else _INTS[kind][2] for name, kind in self.fields}


def monotonic_to_wall() -> int:
    """Nanoseconds to add to a CLOCK_MONOTONIC time to get Unix time."""
    return time.time_ns() - time.monotonic_ns()


def offset(tracepoint: str, field: str) -> int:
    """A tracepoint record field's offset, from tracefs (compiled into programs, as the
    verifier wants constant offsets into a tracepoint record)."""
    from pybpf.tracefs import Tracefs

    return Tracefs().format(tracepoint).field(field).offset


def event_program(source: str, layout: EventLayout) -> str:
    """An event tool's whole C program: the includes, ``struct event``, the ``events`` ring
    buffer, then ``source``."""
    return ("#include <vmlinux.h>\n#include <pybpf/bpf.h>\n" + layout.c_struct() + "\n"
            "#ifndef EVENTS_RING_BYTES\n#define EVENTS_RING_BYTES (1 << 20)\n#endif\n"
            "struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, EVENTS_RING_BYTES); } events SEC(\".maps\");\n"
            + source)


def stream(source: str, layout: EventLayout, *, name: str, defines: Mapping[str, int] | None = None,
           duration: float | None = None,
           attach_programs: Callable[[Any], list[Any]] | None = None,
           side_rings: Mapping[str, Callable[[bytes], None]] | None = None,
           flags: Any = None, tick: Callable[[], None] | None = None) -> Iterator[dict[str, object]]:
    """Compile, load and attach ``source`` (which fills ``struct event`` records into a
    ring buffer map named ``events``, of 1 MiB unless ``defines`` give its bytes as
    ``EVENTS_RING_BYTES``), then yield decoded events until ``duration``
    seconds pass (None: until Ctrl-C). Programs attach where their sections say, or
    through ``attach_programs(loaded)`` (which returns the links) when given. ``flags``
    (the tool's parsed arguments) applies the program flags of
    :mod:`pybpf.tools.programflags` (``--ebpf``, ``--cgroupmap``, ``--mntnsmap``).

    ``side_rings`` names other ring buffer maps of the program, each with a function given
    its raw records (tcpconnect -d's DNS answers): they are drained before each batch of
    events is yielded, so a record sent before an event has been seen when it comes.
    ``tick()`` (a status line's update) is called after each wait of at most 0.2 s, events
    or not."""
    from pybpf.engine import load
    from pybpf.kernel.attach import attach
    from pybpf.kernel.ringbuf import EventPoller, RingBuffer
    from pybpf.object.elf import load_object
    from pybpf.toolchain import compile_c
    from pybpf.tools.programflags import prepared

    program = prepared(event_program(source, layout), defines, flags)
    spec = load_object(compile_c(program.source, defines=program.defines), name=name)
    pending: list[dict[str, object]] = []
    deadline = None if duration is None else time.monotonic() + duration
    with load(spec, engine="kernel", reuse=program.reuse) as loaded, RingBuffer.of(loaded.maps["events"]) as ring, \
            EventPoller() as poller, contextlib.ExitStack() as rings:
        sides = [(rings.enter_context(RingBuffer.of(loaded.maps[map_name])), callback)
                 for map_name, callback in (side_rings or {}).items()]
        links = (attach_programs(loaded) if attach_programs is not None else
                 [attach(program) for program in loaded.programs.values()])
        try:
            poller.add_ring_buffer(ring, lambda record: pending.append(layout.decode(record)))
            try:
                while deadline is None or time.monotonic() < deadline:
                    left = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
                    poller.poll(timeout=left)
                    for side, callback in sides:
                        for record in side.records():
                            callback(record)
                    yield from pending
                    pending.clear()
                    if tick is not None:
                        tick()
            except KeyboardInterrupt:
                pass
            poller.drain()
            yield from pending
        finally:
            for link in links:
                link.close()
