"""The histogram tools' ``--layout`` (issue 17: histograms in BCC's and in bpftrace's
layouts, one :class:`pybpf.output.Histogram`, two renderings): ``bcc`` (the default) prints
what BCC's tool prints (``print_log2_hist`` / ``print_linear_hist``); ``bpftrace`` prints
the rows bpftrace's ``hist()`` / ``lhist()`` print (``[4, 8)   12 |@@@@  |``) under an
``@unit:`` line, as bpftrace prints a map of that name. The lines a tool puts between
histograms (``Process Name = bash``, ``cpu = 0``) stay as they are; ``--json`` is not
affected."""

from __future__ import annotations

import argparse
import re

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up: tool --list)
if TYPE_CHECKING:
    from pybpf.output import Histogram

LAYOUTS = ("bcc", "bpftrace")


def add_layout_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--layout", choices=LAYOUTS, default="bcc",
                        help="histogram layout: bcc (default, as BCC's tool) or bpftrace (as hist()/lhist())")


def render(histogram: Histogram, args: argparse.Namespace, unit: str) -> str:
    """``histogram`` in the layout ``args.layout`` asks for; ``unit`` names its values (in
    bpftrace's layout, a map name: runs of other characters than letters, digits and ``_``
    become one ``_``, as ``args->count`` becomes ``@args_count``)."""
    if args.layout == "bpftrace":
        name = re.sub(r"\W+", "_", unit).strip("_") or "hist"
        return f"@{name}: \n{histogram.format()}"
    return histogram.format_bcc(unit) if histogram.linear is None else histogram.format_bcc_linear(unit)
