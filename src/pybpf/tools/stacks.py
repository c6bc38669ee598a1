"""What the stack tools (profile, offcputime) share: turning a BPF stack-trace map's
kernel and user stack ids into symbol names (kernel frames through /proc/kallsyms, user
frames through each process's maps and ELF symbols), merging stacks that differ only in
offsets, and writing the result (the ``--svg``/``--speedscope`` files also stackcount's and
memleak's) — BCC's multi-line stacks, ``-f`` folded lines
(``comm;user..;kernel.. value``, BCC's order), ``--svg`` an interactive flame graph,
``--speedscope`` speedscope JSON, ``--json`` one object per stack (through pybpf.output)."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Iterable

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO

#: a stack: its frames root first (comm, user frames, kernel frames), its value, its pid
Stack = tuple[tuple[str, ...], int, int]


#: the innermost kernel frames of a stack taken in a tracepoint program: the tracing
#: machinery itself, not where the task was
_TRACING_FRAMES = ("bpf_prog_", "bpf_trace_run", "__traceiter_", "__bpf_trace_")


def positive(text: str) -> int:
    """An argparse type: a whole number above 0."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text}: must be positive")
    return value


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """The stack flags of profile and offcputime (BCC's): ``-U``/``-K`` one side only,
    ``-d`` a ``-`` frame between user and kernel frames, ``--stack-storage-size``."""
    only = parser.add_mutually_exclusive_group()
    only.add_argument("-U", "--user-stacks-only", action="store_true", help="only user stacks")
    only.add_argument("-K", "--kernel-stacks-only", action="store_true", help="only kernel stacks")
    parser.add_argument("-d", "--delimited", action="store_true", help="a delimiter between kernel and user stacks")
    parser.add_argument("--stack-storage-size", type=positive, default=16384,
                        help="how many distinct stacks the stack map holds (default 16384)")


def add_output_arguments(parser: argparse.ArgumentParser, *, json_help: str = "one JSON object per stack") -> None:
    parser.add_argument("-f", "--folded", action="store_true", help="print folded stacks (flame graph input)")
    parser.add_argument("--svg", metavar="FILE", help="also write an interactive flame graph here")
    parser.add_argument("--speedscope", metavar="FILE", help="also write speedscope JSON here")
    parser.add_argument("--json", action="store_true", help=json_help)


def write_graphs(weighted: Iterable[tuple[tuple[str, ...], int]], args: argparse.Namespace, *, title: str) -> None:
    """``--svg`` (a flame graph titled ``title``) and ``--speedscope`` files of
    ``weighted`` — (frames root first, weight) pairs — where the flags ask for them."""
    from pybpf.output import speedscope, svg

    weighted = list(weighted)
    if args.svg:
        with open(args.svg, "w") as file:
            file.write(svg(weighted, title=title))
    if args.speedscope:
        with open(args.speedscope, "w") as file:
            file.write(speedscope(weighted, name=f"pybpf {title}"))


def _addresses(stacks, stack_id: int) -> list[int]:
    """One recorded stack's addresses, innermost first (none for a failed id)."""
    if stack_id < 0 or stack_id not in stacks:
        return []
    return [address for address in stacks[stack_id] if address]


def symbolize(entries: Iterable[tuple[str, int, int, int, int]], stacks, *, delimited: bool = False,
              annotated: bool = False, addressed: bool = False) -> list[Stack]:
    """``(comm, pid, user stack id, kernel stack id, value)`` entries as named stacks,
    the largest value first; with ``delimited`` a ``-`` frame parts user from kernel
    frames (BCC's ``-d``), with ``annotated`` kernel frames end in ``_[k]`` (profile's ``-a``),
    with ``addressed`` every frame starts with its address (profile's ``-A``, in BCC's
    layout: ``0x`` and the kernel address left-aligned in 16 columns, the user address in 16
    zero-padded digits) — stacks then merge only when their addresses are equal."""
    from pybpf.symbols import SymbolError, Symbolizer

    symbolizer = Symbolizer()
    found: Counter[tuple[tuple[str, ...], int]] = Counter()
    for comm, pid, user_id, kernel_id, value in entries:
        kernel: list[str] = []
        for address in _addresses(stacks, kernel_id):
            try:
                name = str(symbolizer.kernel(address)).split(" [")[0].split("+")[0]
            except SymbolError:
                name = f"0x{address:x}"
            if kernel or not name.startswith(_TRACING_FRAMES):
                name = name + "_[k]" if annotated else name
                kernel.append(f"0x{address:<16x} {name}" if addressed else name)
        user = [(f"0x{address:016x} " if addressed else "") + str(symbolizer.user(pid, address)).split(" [")[0].split("+")[0]
                for address in _addresses(stacks, user_id)]
        middle = ("-",) if delimited and user and kernel else ()
        frames = (comm, *reversed(user), *middle, *reversed(kernel))
        found[frames, pid] += value        # stacks differing only in offsets merge
    return sorted(((frames, value, pid) for (frames, pid), value in found.items()), key=lambda s: (-s[1], s[0]))


def write(found: list[Stack], args: argparse.Namespace, out: IO[str], *, title: str, value: str) -> None:
    """The stacks in the format the flags ask for; ``value`` names each stack's number in
    JSON (``count``, ``usecs``)."""
    from pybpf.output import fold

    weighted = [(frames, number) for frames, number, _ in found]
    write_graphs(weighted, args, title=title)
    if args.json:
        out.writelines(json.dumps({"pid": pid, "comm": frames[0], "stack": list(frames[1:]), value: number}) + "\n"
                       for frames, number, pid in found)
    elif args.folded:
        out.write(fold(weighted))
    else:
        for frames, number, pid in found:
            out.writelines(f"    {'--' if frame == '-' else frame}\n" for frame in reversed(frames[1:]))
            out.write(f"    -                {frames[0]} ({pid})\n        {number}\n\n")
