"""``pybpf prog list|show ID|pin ID PATH``: the programs loaded in the kernel.

Field names in ``--json`` are bpftool's, so scripts written for ``bpftool --json prog``
read ours. (``format_table`` is shared with ``pybpf map``.)
"""

from __future__ import annotations

import os

from pybpf.cli.output import atomic_output

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any

# Imports of what the handler uses are inside it: ``pybpf`` registers every command's
# parser on each run, and registering must not load what only this command needs.

_COLUMNS = (("id", "ID"), ("type", "TYPE"), ("name", "NAME"), ("tag", "TAG"),
            ("bytes_xlated", "XLATED"), ("bytes_jited", "JITED"), ("map_ids", "MAPS"),
            ("run_cnt", "RUNS"), ("run_time_ns", "RUN_NS"))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``prog`` to the command line."""
    parser = subparsers.add_parser("prog", description=__doc__.split("\n\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", help="every loaded program")
    show = verbs.add_parser("show", help="one program by id")
    pin = verbs.add_parser("pin", help="pin a program on a BPF filesystem")
    for sub in (show, pin):
        sub.add_argument("id", type=int, help="the program id (from prog list)")
    pin.add_argument("path", help="where to pin it (on a BPF filesystem)")
    for sub in (listing, show):
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.add_argument("-o", "--output", metavar="FILE", help="write here, not stdout")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """List, show or pin."""
    from pybpf.kernel.info import describe_all, describe_prog, fd_by_id

    if args.verb == "pin":
        from pybpf.kernel.programs import open_program_by_id  # the Program classes: pin only

        with open_program_by_id(args.id) as prog:
            prog.pin(args.path)
        return 0
    if args.verb == "list":
        rows = describe_all("prog")
    else:
        fd = fd_by_id("prog", args.id)
        try:
            rows = [describe_prog(fd)]
        finally:
            os.close(fd)
    emit(rows, _COLUMNS, args.json, args.output, single=args.verb == "show")
    return 0


def _cell(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value)) or "-"
    return str(value)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """Rows as aligned columns under their headings."""
    cells = [[heading for _, heading in columns]]
    cells += [[_cell(row[key]) for key, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()
                     for line in cells)


def emit(rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]], as_json: bool,
         output: str | None, single: bool = False) -> None:
    """Write rows as a table or JSON (one object for ``show``, a list otherwise)."""
    if as_json:
        import json  # only for --json (~1.5 ms of a start-up)

        text = json.dumps(rows[0] if single else rows, indent=2)
    else:
        text = format_table(rows, columns)
    with atomic_output(output) as out:
        out.write((text + "\n").encode())
