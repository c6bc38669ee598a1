"""``pybpf record -o FILE --format ctf|chrome|jsonl -- TOOL [ARGS]``: run an event tool
and write its events to a trace file instead of the terminal."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``record`` to the command line."""
    parser = subparsers.add_parser("record", description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="the file (a directory for CTF)")
    parser.add_argument("--format", choices=("ctf", "chrome", "jsonl"), default="jsonl")
    parser.add_argument("tool", help="the tool (`pybpf tool --list`)")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="the tool's flags")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Record until the tool's duration ends or Ctrl-C."""
    from pybpf import tools
    from pybpf.cli.tool import tool_parser
    from pybpf.tools.recording import record

    tool = tools.get(args.tool)
    if not hasattr(tool, "events"):
        raise tools.ToolError(f"{tool.name} reports intervals, not events: it cannot be recorded")
    arguments = args.arguments[1:] if args.arguments[:1] == ["--"] else args.arguments
    tool_args = tool_parser(tool).parse_args(arguments)
    if getattr(tool_args, "ebpf", False):
        raise tools.ToolError(f"--ebpf prints the program instead of running it: `pybpf tool {tool.name} --ebpf`")
    count = record(tool, tool.events(tool_args), args.output, args.format, [tool.name, *arguments])
    print(f"recorded {count} events to {args.output} ({args.format})", file=sys.stderr)
    return 0
