"""``pybpf map list|show ID|dump ID``: the maps loaded in the kernel and their contents.

``dump`` prints keys and values as hex bytes, one entry per line (per-CPU values one
line per CPU); ``--json`` uses bpftool's shape (``key``/``value`` as lists of "0x.."
strings, ``values`` with a ``cpu`` each for per-CPU maps).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pybpf.cli.output import atomic_output
from pybpf.cli.prog import emit
from pybpf.kernel.info import describe_all, describe_map
from pybpf.kernel.maps import open_map_by_id

_COLUMNS = (("id", "ID"), ("type", "TYPE"), ("name", "NAME"), ("bytes_key", "KEY"),
            ("bytes_value", "VALUE"), ("max_entries", "MAX"), ("flags", "FLAGS"))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``map`` to the command line."""
    parser = subparsers.add_parser("map", help="list, show and dump loaded BPF maps",
                                   description=__doc__.split("\n\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", help="every loaded map")
    show = verbs.add_parser("show", help="one map by id")
    dump = verbs.add_parser("dump", help="every entry of one map")
    for sub in (show, dump):
        sub.add_argument("id", type=int, help="the map id (from map list)")
    for sub in (listing, show, dump):
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.add_argument("-o", "--output", metavar="FILE", help="write here, not stdout")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """List, show or dump."""
    if args.verb == "list":
        emit(describe_all("map"), _COLUMNS, args.json, args.output)
        return 0
    with open_map_by_id(args.id, key_type=bytes, value_type=bytes) as m:
        if args.verb == "show":
            emit([describe_map(m.fd)], _COLUMNS, args.json, args.output, single=True)
            return 0
        entries = list(m.items())
        per_cpu = m.type.per_cpu
    text = (json.dumps([_json_entry(k, v, per_cpu) for k, v in entries], indent=2)
            if args.json else _dump_text(entries, per_cpu))
    with atomic_output(args.output) as out:
        out.write(text.encode())
    return 0


def _hex(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data)


def _json_entry(key: bytes, value: Any, per_cpu: bool) -> dict[str, Any]:
    def listed(data: bytes) -> list[str]:
        return [f"0x{b:02x}" for b in data]
    if per_cpu:
        return {"key": listed(key),
                "values": [{"cpu": cpu, "value": listed(v)} for cpu, v in enumerate(value)]}
    return {"key": listed(key), "value": listed(value)}


def _dump_text(entries: list[tuple[bytes, Any]], per_cpu: bool) -> str:
    lines = []
    for key, value in entries:
        if per_cpu:
            lines.append(f"key: {_hex(key)}")
            lines += [f"  cpu{cpu}: {_hex(v)}" for cpu, v in enumerate(value)]
        else:
            lines.append(f"key: {_hex(key)}  value: {_hex(value)}")
    lines.append(f"Found {len(entries)} element{'s' if len(entries) != 1 else ''}")
    return "\n".join(lines) + "\n"
