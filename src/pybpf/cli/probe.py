"""``pybpf probe``: what this kernel supports for BPF, as a table or as JSON.

The same questions ``bpftool feature probe`` answers (program and map types, helpers per
program type, kernel configuration), plus attach types accepted at load and whether
kprobes exist — each answered by asking the kernel, see :mod:`pybpf.kernel.features`.
"""

from __future__ import annotations

from collections.abc import Mapping

from pybpf.cli.output import atomic_output
from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse

    from pybpf.kernel.features import Features

# Imports of what the handler uses are inside it: ``pybpf`` registers every command's
# parser on each run, and registering must not load what only this command needs.


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``probe`` to the command line."""
    parser = subparsers.add_parser("probe", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--no-helpers", action="store_true",
                        help="skip the (slower) helper probe")
    parser.add_argument("--type", action="append", default=[], metavar="PROG_TYPE",
                        help="probe helpers only for this program type (repeatable)")
    parser.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Probe and print."""
    from pybpf.kernel.features import probe
    from pybpf.object import ProgramType

    try:
        types = [ProgramType.parse(name) for name in args.type]
    except ValueError as exc:
        raise PybpfError(f"--type: {exc}") from None
    found = probe(helpers=not args.no_helpers, types=types or None)
    import json  # only for --json (~1.5 ms of a start-up)

    text = json.dumps(found.as_json(), indent=2) if args.json else table(found)
    with atomic_output(args.output) as out:
        out.write((text + "\n").encode())
    return 0


def _rows(title: str, rows: Mapping[str, object]) -> list[str]:
    width = max((len(name) for name in rows), default=0)
    return [title, *(f"  {name:<{width}}  {_show(value)}" for name, value in rows.items()), ""]


def _show(value: object) -> str:
    if value is None:
        return "is not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def table(found: Features) -> str:
    """The human-readable report, one section per kind of feature."""
    source = found.config_source or "no /proc/config.gz or /boot/config-* found"
    lines = [
        *_rows(f"Kernel configuration ({source})", found.config),
        *_rows("System settings", found.sysctls),
        *_rows("Kprobes", {"perf PMU (/sys/bus/event_source/devices/kprobe)":
                           found.kprobes["kprobe_pmu"],
                           "tracefs kprobe_events": found.kprobes["kprobe_events"]}),
        *_rows("Program types", found.program_types),
        *_rows("Map types", found.map_types),
        *_rows("Attach types (accepted by BPF_PROG_LOAD)", found.attach_types),
    ]
    if found.helpers:
        lines.append("Helpers by program type")
        for kind, names in found.helpers.items():
            lines.append(f"  {kind} ({len(names)}): {', '.join(names)}")
    return "\n".join(lines).rstrip()
