"""What a seccomp filter returns: an action in the high 16 bits, data in the low 16
(include/uapi/linux/seccomp.h). The kernel runs every installed filter and keeps the
most restrictive action, the lowest as a signed 32-bit number, so KILL_PROCESS
(0x80000000) beats everything and ALLOW (0x7fff0000) loses to everything.
"""

from __future__ import annotations

from typing import NamedTuple

from pybpf.cbpf.instruction import CbpfError

#: action name -> SECCOMP_RET_* value
ACTIONS = {"kill_process": 0x8000_0000, "kill_thread": 0x0000_0000, "trap": 0x0003_0000, "errno": 0x0005_0000,
           "user_notif": 0x7FC0_0000, "trace": 0x7FF0_0000, "log": 0x7FFC_0000, "allow": 0x7FFF_0000}
_BY_VALUE = {value: name for name, value in ACTIONS.items()}
#: actions whose 16-bit data means something (errno: the errno; trace: the tracer's message)
WITH_DATA = {"errno", "trace", "trap"}
ACTION_FULL, DATA = 0xFFFF_0000, 0x0000_FFFF


class Action(NamedTuple):
    """One seccomp decision: ``Action("errno", 1)`` is ``SECCOMP_RET_ERRNO | 1``."""

    name: str
    data: int = 0

    @property
    def value(self) -> int:
        """The 32-bit filter return value."""
        return ACTIONS[self.name] | self.data

    @classmethod
    def parse(cls, spec: str | Action) -> Action:
        """``"allow"``, ``"errno(13)"``, ``"trace(7)"``... or an Action, checked."""
        if isinstance(spec, Action):
            return cls.of(spec.name, spec.data)
        text = spec.strip().lower()
        if text.endswith(")") and "(" in text:
            head, _, argument = text[:-1].partition("(")
            try:
                return cls.of(head.strip(), int(argument, 0))
            except ValueError:
                raise CbpfError(f"bad seccomp action {spec!r}: {argument!r} is not a number") from None
        return cls.of(text)

    @classmethod
    def of(cls, name: str, data: int = 0) -> Action:
        """A checked Action: a known name and data in 0..0xffff, only where it is used."""
        if name not in ACTIONS:
            raise CbpfError(f"unknown seccomp action {name!r} (one of {', '.join(ACTIONS)})")
        if not 0 <= data <= DATA:
            raise CbpfError(f"seccomp action data {data} is not in 0..65535")
        if data and name not in WITH_DATA:
            raise CbpfError(f"seccomp action {name!r} takes no data (only {', '.join(sorted(WITH_DATA))} do)")
        return cls(name, data)

    @classmethod
    def from_value(cls, value: int) -> Action:
        """The action a filter's return value means, as the kernel reads it: an unknown
        action value is treated as KILL_PROCESS (kernel/seccomp.c, ``default:``)."""
        name = _BY_VALUE.get(value & ACTION_FULL, "kill_process")
        return cls(name, value & DATA if name in WITH_DATA else 0)

    def __str__(self) -> str:
        return f"{self.name}({self.data})" if self.data or self.name == "errno" else self.name


ALLOW, KILL_PROCESS, KILL_THREAD, LOG = Action("allow"), Action("kill_process"), Action("kill_thread"), Action("log")
TRAP, USER_NOTIF = Action("trap"), Action("user_notif")


def errno(number: int) -> Action:
    """``SECCOMP_RET_ERRNO``: the system call fails with this errno without running."""
    return Action.of("errno", number)


def trace(message: int = 0) -> Action:
    """``SECCOMP_RET_TRACE``: a ptrace tracer gets PTRACE_EVENT_SECCOMP with this message."""
    return Action.of("trace", message)
