"""``pybpf btf dump [--file PATH] [--format c|raw] [TYPE...]``: a BTF file (the running
kernel's by default) as the ``vmlinux.h`` C header, or as bpftool's one-line-per-type
listing; with TYPE names (or ids), only those types — and, as C, what they depend on."""

from __future__ import annotations

from pybpf.cli.output import atomic_output
from pybpf.toolchain.paths import KERNEL_BTF

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse

# Imports of what the handler uses are inside it: ``pybpf`` registers every command's
# parser on each run, and registering must not load what only this command needs.


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``btf`` (with its ``dump`` action) to the command line."""
    parser = subparsers.add_parser("btf", description=__doc__)
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    dump = actions.add_parser("dump", help="print the types of a BTF file", description=__doc__)
    dump.add_argument("--file", default=KERNEL_BTF, metavar="PATH",
                      help=f"raw BTF to read (default: {KERNEL_BTF})")
    dump.add_argument("--format", choices=("c", "raw"), default="c",
                      help="c: a compilable header (default); raw: bpftool's listing")
    dump.add_argument("types", nargs="*", metavar="TYPE", help="only these types (names or ids)")
    dump.add_argument("-o", "--output", metavar="OUT", help="write here (default: stdout)")
    dump.set_defaults(handler=run_dump)


def run_dump(args: argparse.Namespace) -> int:
    """Print the dump; the whole text is built first, so a bad TYPE writes nothing."""
    from pybpf.btf import BTF, dump_c, dump_raw, find_type_ids

    btf = BTF.load(args.file)
    ids = find_type_ids(btf, args.types) if args.types else None
    text = dump_c(btf, ids) if args.format == "c" else dump_raw(btf, ids)
    with atomic_output(args.output) as out:
        out.write(text.encode())
    return 0
