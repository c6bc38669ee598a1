"""How many arguments each function takes, checked before any code is generated, with
bpftrace's messages (its ``check_nargs``/``check_varargs``): ``lhist() requires 4
arguments (3 provided)``, ``print() takes up to 3 arguments (4 provided)``.

The counts are bpftrace 0.17's, widened where a newer bpftrace added an argument that
pybpf supports too: ``hist(n, bits)``, ``exit(code)``."""

from __future__ import annotations

from pybpf.trace import ast
from pybpf.trace.errors import TraceSyntaxError

#: name: (least, most, exact) — ``exact``: bpftrace words the count as "requires N"
ARITY: dict[str, tuple[int, int, bool]] = {
    "count": (0, 0, True), "sum": (1, 1, True), "min": (1, 1, True), "max": (1, 1, True),
    "avg": (1, 1, True), "stats": (1, 1, True), "hist": (1, 2, False), "lhist": (4, 4, True),
    "delete": (1, 1, True), "clear": (1, 1, True), "zero": (1, 1, True), "print": (1, 3, False),
    "printf": (1, 128, False), "system": (1, 128, False), "cat": (1, 128, False), "debugf": (1, 128, False),
    "exit": (0, 1, False), "time": (0, 1, False), "strftime": (2, 2, False), "signal": (1, 1, False),
    "str": (1, 2, False), "buf": (1, 2, False), "ntop": (1, 2, False), "join": (1, 2, False),
    "cgroup_path": (1, 2, False), "ksym": (1, 1, True), "usym": (1, 1, True), "pton": (1, 1, True),
    "reg": (1, 1, True), "kaddr": (1, 1, True), "uaddr": (1, 1, True), "cgroupid": (1, 1, True),
    "strerror": (1, 1, True), "strncmp": (3, 3, True), "strcontains": (2, 2, True), "kptr": (1, 1, True),
    "uptr": (1, 1, True), "macaddr": (1, 1, True), "unwatch": (1, 1, True), "bswap": (1, 1, True),
    "len": (1, 1, True),
}


def _arguments(count: int) -> str:
    return "one argument" if count == 1 else f"{count} arguments"


def check_arity(call: ast.Call) -> None:
    """Raise, placed on the call, when ``call`` has too few or too many arguments."""
    if call.name not in ARITY:
        return
    least, most, exact = ARITY[call.name]
    given = len(call.args)
    if least <= given <= most:
        return
    if most == 0:
        wanted = "requires no arguments"
    elif exact:
        wanted = f"requires {_arguments(least)}"
    elif given < least:
        wanted = f"requires at least {_arguments(least)}"
    else:
        wanted = f"takes up to {_arguments(most)}"
    raise TraceSyntaxError(f"{call.name}() {wanted} ({given} provided)", "", call.position, call.length)
