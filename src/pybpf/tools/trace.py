"""trace: print a line per event of user functions, their returns, tracepoints and USDT
probes, with a printf-style message and a filter (BCC's trace; built on the trace
language — each BCC probe becomes one probe block whose ``printf`` carries pid, tid, comm,
stacks and the message's arguments, decoded and formatted here, see
:mod:`pybpf.tools.traced` and :mod:`pybpf.tools.bccprobes`). Probes as BCC's:
``'p:c:open "%s", arg1'``, ``'r:c:malloc (retval > 4096) "%lx", retval'``,
``'t:syscalls:sys_enter_openat "%s", args->filename'``; kernel functions need kprobes,
which this kernel lacks, and are refused with the tracepoint to use. Flags as BCC's:
``-p PID``, ``-L TID``, ``--uid``, ``-Z SIZE``, ``-S`` (include trace's own process), ``-M MAX``,
``-t`` (seconds since start), ``-T`` (HH:MM:SS), ``-C`` (CPU), ``-n NAME``, ``-f TEXT``
(message filter), ``-K``/``-U`` stacks, ``-b PAGES`` (the event buffer: PAGES pages per CPU),
``-B`` (``STRCMP``'s literal is a byte array), ``-I HEADER`` (its struct/union definitions
for expressions), ``--ebpf``; ``--duration`` stops after that many seconds and ``--json``
prints one object per event. BCC's ``STRCMP("text", EXPR)`` works in filters."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Iterator

from pybpf.tools import DESCRIPTIONS, programflags
from pybpf.tools.bccprobes import Probe, header_definitions, parse_probe
from pybpf.tools.events import EventLayout, ToolError, monotonic_to_wall
from pybpf.tools.traced import TraceRun, follow, program_argument, quote

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
    from typing import IO, Any
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

_CONVERSION = re.compile(r"%[-+ #0]*\d*(?:\.\d+)?(?:hh|h|ll|l|z)?([diouxXcspKU%])")


@dataclass
class TraceProbe:
    """One BCC trace probe: the parsed probe, its filter, message format and arguments."""

    probe: Probe
    predicate: str
    message: str
    arguments: list[str]

    @property
    def function(self) -> str:
        return self.probe.label


def _split_arguments(text: str) -> list[str]:
    """Comma-separated expressions, commas inside parentheses or strings kept."""
    parts, depth, current, quoted = [], 0, "", False
    for i, char in enumerate(text):
        if char == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]":
            depth -= 1
        elif not quoted and char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def parse_trace_probe(text: str, string_size: int | None = None, pid: int | None = None,
                      bin_cmp: bool = False) -> TraceProbe:
    """``SPEC[(SIGNATURE)] [(FILTER)] ["FORMAT"[, ARG...]]`` as BCC's trace reads it
    (library names as process ``pid`` maps them, when given; ``bin_cmp``: -B, STRCMP
    compares bytes given as an array)."""
    match = re.match(r"\s*([^ \t(]+)(\([^()]*\))?(.*)$", text, re.S)
    if match is None:
        raise ToolError(f"{text!r}: expected a probe such as 'p:c:open \"%s\", arg1'")
    probe = parse_probe(match.group(1) + (match.group(2) or ""), pid=pid)
    probe.bin_cmp = bin_cmp
    rest = match.group(3).strip()
    condition = ""
    if rest.startswith("("):
        depth = 0
        for i, char in enumerate(rest):
            depth += char == "("
            depth -= char == ")"
            if depth == 0:
                condition, rest = rest[1:i], rest[i + 1:].strip()
                break
        else:
            raise ToolError(f"{text!r}: unmatched '(' in the filter")
    message, arguments = "", []
    if rest:
        found = re.match(r'("(?:[^"\\]|\\.)*")\s*(?:,(.*))?$', rest, re.S)
        if found is None:
            raise ToolError(f"{text!r}: expected a \"format string\" after the probe and filter")
        message = found.group(1)[1:-1]
        arguments = _split_arguments(found.group(2) or "")
    conversions = [m for m in _CONVERSION.finditer(message) if m.group(1) != "%"]
    if len(conversions) != len(arguments):
        raise ToolError(f"{text!r}: the format has {len(conversions)} conversions but {len(arguments)} arguments follow")
    translated = []
    for conversion, argument in zip(conversions, arguments):
        expression = probe.expression(argument)
        kind = conversion.group(1)
        if kind == "s" and expression.split("(")[0].strip() not in ("str", "comm", "ksym", "usym", "strerror"):
            expression = f"str({expression}{f', {string_size}' if string_size else ''})"
        elif kind == "K":
            expression = f"ksym({expression})"
        elif kind == "U":
            expression = f"usym({expression})"
        translated.append(expression)
    message = re.sub(r"%([KU])", "%s", message)
    return TraceProbe(probe, probe.expression(condition) if condition else "", message, translated)


#: an event's fields as ``pybpf record`` writes them to CTF
LAYOUT = EventLayout((("pid", "u32"), ("tid", "u32"), ("cpu", "u32"), ("comm", "str:16"), ("func", "str:64"),
                      ("message", "str:256")))


def ring_size(pages: int | None) -> int | None:
    """-b PAGES: BCC gives each CPU a perf buffer of PAGES pages; the one ring buffer here
    holds as much, PAGES pages per possible CPU (rounded up to a power of two, as ring
    buffers are). None: the trace language's default (1 MiB)."""
    if pages is None:
        return None
    if pages <= 0 or pages & (pages - 1):
        raise ToolError(f"-b {pages}: the buffer's pages must be a power of two")
    from pybpf.engine.cpus import possible_cpus

    total = pages * os.sysconf("SC_PAGE_SIZE") * possible_cpus()
    return 1 << (total - 1).bit_length()


class Trace:
    """The trace tool."""

    name = "trace"
    description = DESCRIPTIONS["trace"]
    layout = LAYOUT

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        program_argument(parser, "-v", "--verbose")
        programflags.add_arguments(parser)
        parser.add_argument("-p", "--pid", type=int, help="id of the process to trace")
        parser.add_argument("-L", "--tid", type=int, help="id of the thread to trace")
        parser.add_argument("--uid", type=int, help="id of the user to trace")
        parser.add_argument("-Z", "--string-size", type=int, help="maximum size of strings read (1-64, default 64)")
        parser.add_argument("-S", "--include-self", action="store_true", help="do not filter trace's own pid")
        parser.add_argument("-M", "--max-events", type=int, help="number of events to print before quitting")
        parser.add_argument("-t", "--timestamp", action="store_true", help="print timestamp column (offset from start)")
        parser.add_argument("-T", "--time", action="store_true", help="print time column")
        parser.add_argument("-C", "--print_cpu", action="store_true", help="print CPU id")
        parser.add_argument("-n", "--name", help="only print process names containing this name")
        parser.add_argument("-f", "--msg-filter", dest="msg_filter", help="only print messages containing this text")
        parser.add_argument("-K", "--kernel-stack", action="store_true", help="output kernel stack trace")
        parser.add_argument("-U", "--user-stack", action="store_true", help="output user stack trace")
        parser.add_argument("-c", "--cgroup-path", help="only tasks in this cgroup (v2 path; not its descendants)")
        parser.add_argument("-u", "--unix-timestamp", action="store_true",
                            help="with -t: Unix time instead of the seconds since the start")
        parser.add_argument("-a", "--address", action="store_true", help="print the addresses of stack frames")
        parser.add_argument("-A", "--aggregate", action="store_true",
                            help="count identical events and print each once with its count (needs -M)")
        parser.add_argument("-b", "--buffer-pages", type=int, default=None,
                            help="pages per CPU of the event buffer (a power of two, as BCC's perf buffers)")
        parser.add_argument("-B", "--bin_cmp", action="store_true",
                            help="STRCMP's first argument is a byte array, {0x6c, 0x00, ...}, to compare binary data")
        parser.add_argument("-I", "--include", action="append", metavar="header",
                            help="a C header whose struct/union definitions expressions may use")
        parser.add_argument("--duration", type=float, help="stop after this many seconds")
        parser.add_argument("--json", action="store_true", help="one JSON object per event")
        parser.add_argument("probes", nargs="+", metavar="probe", help="probe specifier (see BCC's trace)")

    def program(self, probes: list[TraceProbe], args: argparse.Namespace) -> str:
        """The trace-language program: one printf per probe (pid, tid, comm, cpu, time,
        stacks, then the message's arguments)."""
        tests = [f"pid == {args.pid}"] if args.pid else []
        tests += [f"tid == {args.tid}"] if args.tid else []
        tests += [f"uid == {args.uid}"] if args.uid is not None else []
        tests += [f"cgroup == cgroupid({quote(args.cgroup_path)})"] if args.cgroup_path else []
        tests += [] if args.include_self else [f"pid != {os.getpid()}"]
        stacks = (["kstack"] if args.kernel_stack else []) + (["ustack"] if args.user_stack else [])
        blocks = [header_definitions(args.include or [])]
        for trace in probes:
            probe = trace.probe
            when = tests + ([f"({trace.predicate})"] if trace.predicate else [])
            guard = probe.entry_guard()
            entry = probe.entry_probe(f"/{' && '.join(tests)}/ " if tests else "") if probe.kind == "r" else ""
            when = ([guard] if guard else []) + when
            fields = ["pid", "tid", "comm", "cpu", "nsecs", *stacks, *trace.arguments]
            text = "%d %d %s %d %d" + " %s" * len(stacks) + trace.message
            blocks.append(entry + f"{probe.point} {'/' + ' && '.join(when) + '/ ' if when else ''}"
                          f"{{ printf({quote(text)}, {', '.join(fields)}); {probe.entry_cleanup()} }}\n")
        return "".join(blocks)

    def events(self, args: argparse.Namespace) -> Iterator[dict[str, Any]]:
        """One event per probe hit that passes the filters (up to ``-M``): pid, tid, cpu,
        comm, func, probe, message, stacks when asked (and ts, time)."""
        if args.string_size is not None and not 0 < args.string_size <= 64:
            raise ToolError(f"-Z {args.string_size}: the trace language reads strings of 1 to 64 bytes")
        probes = [parse_trace_probe(text, args.string_size, args.pid, args.bin_cmp) for text in args.probes]
        stacks = int(args.kernel_stack) + int(args.user_stack)
        wall, printed = monotonic_to_wall(), 0
        with TraceRun(self.program(probes, args), pid=args.pid, name=self.name, show=args.show_program, flags=args,
                      ring_size=ring_size(args.buffer_pages)) as run:
            for record in follow(run, args.duration):
                trace = probes[record.index]
                pid, tid, comm, cpu, ts = record.values[:5]
                message = record.render(trace.message, 5 + stacks)
                if (args.name and args.name not in str(comm)) or (args.msg_filter and args.msg_filter not in message):
                    continue
                ids = record.values[5:5 + stacks]
                event = {"ts": ts, "time": (int(ts) + wall) / 1e9, "pid": pid, "tid": tid, "cpu": cpu, "comm": comm,
                         "func": trace.function, "probe": trace.probe.spec, "message": message}
                for key, kernel in (("kernel_stack", True), ("user_stack", False)):
                    if args.kernel_stack if kernel else args.user_stack:
                        frames = run.frames(ids.pop(0), kernel)
                        event[key] = [name for _, name in frames]
                        event[key + "_addresses"] = [address for address, _ in frames]
                yield event
                printed += 1
                if args.max_events and printed >= args.max_events:
                    return

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        if args.aggregate and not args.max_events:
            raise ToolError("-A counts events up to -M MAX_EVENTS: give -M too")
        start = time.monotonic_ns()
        width = 17 if args.unix_timestamp and args.timestamp else 8
        if not args.json and not args.ebpf:
            header = (f"{'TIME':<{width}} " if args.time or args.timestamp else "") + ("CPU " if args.print_cpu else "")
            trivial = all(not re.search(r'"', text) for text in args.probes)
            out.write(f"{header}{'PID':<7} {'TID':<7} {'COMM':<15} {'FUNC':<16} {'' if trivial else '-'}".rstrip() + "\n")
            out.flush()
        seen: dict[str, int] = {}
        for event in self.events(args):
            if args.json:
                out.write(json.dumps(event) + "\n")
                out.flush()
                continue
            text = self._text(event, args, start, width)
            if args.aggregate:
                seen[text] = seen.get(text, 0) + 1
            else:
                out.write(text)
                out.flush()
        out.writelines(f"{text}-->COUNT {count}\n\n" for text, count in sorted(seen.items(), key=lambda item: -item[1]))
        return 0

    @staticmethod
    def _text(event: dict, args: argparse.Namespace, start: int, width: int) -> str:
        """An event as BCC's trace prints it: its line, then its stacks' frames."""
        stamp = f"{event['time'] if args.unix_timestamp else (int(event['ts']) - start) / 1e9:.6f}"
        when = (f"{stamp[:width]:<{width}} " if args.timestamp else
                f"{time.strftime('%H:%M:%S', time.localtime(event['time'])):<8} " if args.time else "")
        cpu = f"{event['cpu']:<3} " if args.print_cpu else ""
        lines = [f"{when}{cpu}{event['pid']:<7} {event['tid']:<7} {event['comm']:<15} {event['func']:<16} {event['message']}\n"]
        for key in ("kernel_stack", "user_stack"):
            for address, frame in zip(event.get(key + "_addresses", []), event.get(key, [])):
                lines.append(f"        {f'{address:16x} ' if args.address else ''}{frame}\n")
        if "kernel_stack" in event or "user_stack" in event:
            lines.append("\n")
        return "".join(lines)


TOOL = Trace()
