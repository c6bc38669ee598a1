"""``pybpf report FILE``: summarise a recording made by ``pybpf record`` (any format)."""

from __future__ import annotations

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``report`` to the command line."""
    parser = subparsers.add_parser("report", description=__doc__)
    parser.add_argument("file", help="the recording")
    parser.add_argument("--top", type=int, default=5, help="rows per top list")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary."""
    from pybpf.tools.recording import summarize

    print(summarize(args.file, args.top), end="")
    return 0
