"""``pybpf tool NAME [ARGS]``: run one of BCC's tools by name (``--list`` shows them);
each tool takes its own flags (``pybpf tool NAME --help``)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tool`` to the command line."""
    parser = subparsers.add_parser("tool", description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the tools")
    parser.add_argument("name", nargs="?", help="the tool")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="the tool's own flags")
    parser.set_defaults(handler=run)


def tool_parser(tool) -> argparse.ArgumentParser:
    """The argument parser of one tool."""
    from pybpf.cli import HelpFormatter

    parser = argparse.ArgumentParser(prog=f"pybpf tool {tool.name}", description=tool.description,
                                     formatter_class=HelpFormatter)
    tool.add_arguments(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    """List the tools, or run one."""
    from pybpf import tools
    from pybpf.errors import PybpfError

    if args.list:
        for name, description in tools.DESCRIPTIONS.items():    # (without importing the tools)
            print(f"{name:<14} {description}")
        return 0
    if not args.name:
        raise PybpfError("name a tool (`pybpf tool --list` shows them)")
    from pybpf.tools.programflags import ProgramShown

    tool = tools.get(args.name)
    arguments = tool_parser(tool).parse_args(args.arguments)
    try:
        return tool.run(arguments)
    except ProgramShown as shown:       # --ebpf: the program instead of a run
        sys.stdout.write(shown.text if shown.text.endswith("\n") else shown.text + "\n")
        return 0
    except BrokenPipeError:     # `pybpf tool NAME | head` (the programs are detached by now)
        from pybpf.cli.output import reader_gone

        return reader_gone()
