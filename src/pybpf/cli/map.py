"""``pybpf map list|show|dump|lookup|update|delete|pin``: loaded maps and their contents.

``dump`` and ``lookup`` print keys and values as hex bytes, one entry per line (per-CPU
values one line per CPU); ``--json`` uses bpftool's shape (``key``/``value`` as lists of
"0x.." strings, ``values`` with a ``cpu`` each for per-CPU maps). Keys and values are
given as bpftool takes them: bytes in decimal, ``0x``-prefixed bytes in hex, or ``hex``
followed by hex bytes (``--key 1 0 0 0`` = ``--key hex 01 00 00 00``).
"""

from __future__ import annotations

from pybpf.cli.output import atomic_output
from pybpf.cli.prog import emit
from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from pybpf.kernel.maps import KernelMap

# Imports of what the handler uses are inside it: ``pybpf`` registers every command's
# parser on each run, and registering must not load what only this command needs.

_COLUMNS = (("id", "ID"), ("type", "TYPE"), ("name", "NAME"), ("bytes_key", "KEY"),
            ("bytes_value", "VALUE"), ("max_entries", "MAX"), ("flags", "FLAGS"))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``map`` to the command line."""
    parser = subparsers.add_parser("map", description=__doc__.split("\n\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = verbs.add_parser("list", help="every loaded map")
    show = verbs.add_parser("show", help="one map by id")
    dump = verbs.add_parser("dump", help="every entry of one map")
    lookup = verbs.add_parser("lookup", help="one entry by key")
    update = verbs.add_parser("update", help="store a value under a key")
    delete = verbs.add_parser("delete", help="remove a key")
    pin = verbs.add_parser("pin", help="pin the map on a BPF filesystem")
    for sub in (show, dump, lookup, update, delete, pin):
        sub.add_argument("id", type=int, help="the map id (from map list)")
    for sub in (lookup, update, delete):
        sub.add_argument("--key", nargs="+", required=True, metavar="BYTE")
    update.add_argument("--value", nargs="+", required=True, metavar="BYTE")
    update.add_argument("--flags", choices=("any", "noexist", "exist"), default="any")
    pin.add_argument("path", help="where to pin it (on a BPF filesystem)")
    for sub in (listing, show, dump, lookup):
        sub.add_argument("--json", action="store_true", help="print JSON")
        sub.add_argument("-o", "--output", metavar="FILE", help="write here, not stdout")
    parser.set_defaults(handler=run)


def parse_bytes(tokens: list[str], what: str) -> bytes:
    """bpftool's byte syntax: decimal, ``0x``-prefixed hex, or ``hex`` then hex bytes."""
    base = 10
    if tokens and tokens[0] == "hex":
        base, tokens = 16, tokens[1:]
    out = bytearray()
    for position, token in enumerate(tokens, 1):
        try:
            value = int(token, 16 if token.lower().startswith("0x") else base)
        except ValueError:
            raise PybpfError(f"{what}: byte {position} ({token!r}) is not a number") from None
        if not 0 <= value <= 255:
            raise PybpfError(f"{what}: byte {position} ({token}) is not in 0..255")
        out.append(value)
    return bytes(out)


def run(args: argparse.Namespace) -> int:
    """Dispatch on the verb."""
    if args.verb == "list":     # the bpf() info calls only, without the Map classes
        from pybpf.kernel.info import describe_all

        emit(describe_all("map"), _COLUMNS, args.json, args.output)
        return 0
    from pybpf.kernel.maps import open_map_by_id

    with open_map_by_id(args.id, key_type=bytes, value_type=bytes) as m:
        try:
            _act(m, args)
        except KeyError:
            key = parse_bytes(args.key, "--key")
            raise PybpfError(f"map id {args.id} has no element with key {_hex(key)}") from None
    return 0


def _act(m: KernelMap, args: argparse.Namespace) -> None:
    """Do what the verb says to the open map ``m``."""
    from pybpf.engine.map import UpdateFlag
    from pybpf.kernel.info import describe_map

    if args.verb == "show":
        emit([describe_map(m.fd)], _COLUMNS, args.json, args.output, single=True)
    elif args.verb == "pin":
        m.pin(args.path)
    elif args.verb == "update":
        value = parse_bytes(args.value, "--value")
        m.update(parse_bytes(args.key, "--key"), value, UpdateFlag[args.flags.upper()])
    elif args.verb == "delete":
        del m[parse_bytes(args.key, "--key")]
    else:
        _print_entries(m, args)


def _print_entries(m: KernelMap, args: argparse.Namespace) -> None:
    """dump (every entry) or lookup (one entry) as text or JSON."""
    if args.verb == "lookup":
        key = parse_bytes(args.key, "--key")
        entries = [(key, m[key])]
    else:
        entries = list(m.items())
    per_cpu = m.type.per_cpu
    if args.json:
        found = [_json_entry(k, v, per_cpu) for k, v in entries]
        import json  # only for --json (~1.5 ms of a start-up)

        text = json.dumps(found[0] if args.verb == "lookup" else found, indent=2) + "\n"
    else:
        text = _dump_text(entries, per_cpu, count=args.verb == "dump")
    with atomic_output(args.output) as out:
        out.write(text.encode())


def _hex(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data)


def _json_entry(key: bytes, value: Any, per_cpu: bool) -> dict[str, Any]:
    def listed(data: bytes) -> list[str]:
        return [f"0x{b:02x}" for b in data]
    if per_cpu:
        return {"key": listed(key),
                "values": [{"cpu": cpu, "value": listed(v)} for cpu, v in enumerate(value)]}
    return {"key": listed(key), "value": listed(value)}


def _dump_text(entries: list[tuple[bytes, Any]], per_cpu: bool, count: bool) -> str:
    lines = []
    for key, value in entries:
        if per_cpu:
            lines.append(f"key: {_hex(key)}")
            lines += [f"  cpu{cpu}: {_hex(v)}" for cpu, v in enumerate(value)]
        else:
            lines.append(f"key: {_hex(key)}  value: {_hex(value)}")
    if count:
        lines.append(f"Found {len(entries)} element{'s' if len(entries) != 1 else ''}")
    return "\n".join(lines) + "\n"
