"""``pybpf load FILE [--engine auto|kernel|vm] [--core-btf PATH]``: load every map and
program of an ELF object (or a C file, compiled first) and say which were accepted.

Each map is created, and each program loaded with the maps it uses, on its own, so one
refusal does not hide the others: the table has a row for every program (name, section,
type, instructions, engine, and OK or where the verifier stopped with the C line) and
every map, and each refusal is explained under it — the verifier's summary with the
instruction and source line. The exit status is 1 if anything was refused. Nothing
stays loaded: this is the check to run before attaching, as ``bpftool prog loadall``
is for libbpf objects.
"""

from __future__ import annotations

from pybpf.cli.prog import format_table
from pybpf.cli.run import engine_name
from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from pybpf.object import CollectionSpec, MapSpec, ProgramSpec

# Imports of what the handler uses are inside it: ``pybpf`` registers every command's
# parser on each run, and registering must not load what only this command needs.

_PROGRAM_COLUMNS = (("name", "PROGRAM"), ("section", "SECTION"), ("type", "TYPE"),
                    ("instructions", "INSNS"), ("engine", "ENGINE"), ("verified", "VERIFIED"))
_MAP_COLUMNS = (("name", "MAP"), ("type", "TYPE"), ("key_size", "KEY"), ("value_size", "VALUE"),
                ("max_entries", "MAX_ENTRIES"), ("engine", "ENGINE"), ("created", "CREATED"))


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``load`` to the command line."""
    parser = subparsers.add_parser("load", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="a BPF ELF object, or C source (.c)")
    parser.add_argument("--engine", choices=("auto", "kernel", "vm"), default="auto",
                        help="where to load (default: the kernel when permitted, else the vm)")
    parser.add_argument("--core-btf", metavar="PATH",
                        help="apply CO-RE relocations against this BTF (default: the running kernel's)")
    parser.add_argument("--json", action="store_true", help="print JSON (with each error's full text)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Load everything, print the tables and the refusals; 1 if anything was refused."""
    from pybpf.cli.program_input import read_collection

    collection = read_collection(args.file, args.core_btf)
    if collection is None:
        raise PybpfError(f"{args.file}: not a BPF ELF object or C file")
    engine = engine_name(args.engine, "load")
    programs = [_program_row(spec, collection, engine) for spec in collection.programs.values()]
    maps = [_map_row(spec, engine) for spec in collection.maps.values()]
    failed = [row for row in programs + maps if row["error"]]
    if args.json:
        import json  # only for --json (~1.5 ms of a start-up)

        print(json.dumps({"programs": programs, "maps": maps}, indent=2))
    else:
        print(format_table(programs, _PROGRAM_COLUMNS))
        if maps:
            print()
            print(format_table(maps, _MAP_COLUMNS))
        for row in failed:
            print(f"\n{row['name']}: {row['error']}")
    return 1 if failed else 0


def _attempt(spec: CollectionSpec, engine: str) -> PybpfError | None:
    """Load ``spec`` on ``engine`` and close it again; the refusal, if any."""
    from pybpf.engine import load

    try:
        with load(spec, engine=engine):
            return None
    except PybpfError as exc:
        return exc


def _program_row(spec: ProgramSpec, collection: CollectionSpec, engine: str) -> dict[str, Any]:
    from pybpf.object import CollectionSpec

    used = set(spec.references.values())
    maps = {name: m for name, m in collection.maps.items() if name in used}
    error = _attempt(CollectionSpec(maps, {spec.name: spec}), engine)
    return {"name": spec.name, "section": spec.section or "-", "type": str(spec.type),
            "instructions": len(spec.instructions), "engine": engine,
            "verified": "OK" if error is None else _short(error, spec), "error": str(error) if error else ""}


def _map_row(spec: MapSpec, engine: str) -> dict[str, Any]:
    from pybpf.object import CollectionSpec

    error = _attempt(CollectionSpec({spec.name: spec}, {}), engine)
    return {"name": spec.name, "type": str(spec.type), "key_size": spec.key_size, "value_size": spec.value_size,
            "max_entries": spec.max_entries, "engine": engine,
            "created": "OK" if error is None else _short(error, None), "error": str(error) if error else ""}


def _short(error: PybpfError, spec: ProgramSpec | None) -> str:
    """A table cell for a refusal: where the verifier stopped and the C line, or the errno."""
    from pybpf.engine import BPFError, VerifierError

    if isinstance(error, VerifierError) and error.failing_slot is not None:
        text = f"rejected at insn {error.failing_slot}"
        source = spec.btf.source_line(error.failing_slot) if spec is not None and spec.btf is not None else None
        return f"{text} ({source.file}:{source.line})" if source is not None else text
    if isinstance(error, BPFError):
        return f"failed: {error.errno_name}"
    return "failed"
