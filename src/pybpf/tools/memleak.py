"""memleak: the allocations a process (``-p PID``: libc's malloc family, by uprobes) or
the kernel (no ``-p``: the kmem tracepoints) made and has not freed, grouped by the stack
that allocated them, every interval (BCC's memleak; built on the trace language — entry
probes keep the requested size per thread, return probes record (size, time, stack) per
address, frees delete them; Python groups what is left, see :mod:`pybpf.tools.traced`).
Flags as BCC's: ``[interval [count]]``, ``-p PID``, ``-c COMMAND`` (run it, traced from its
first allocation, until it exits), ``-a`` addresses and sizes, ``-o MS``
(only allocations older than this, default 500), ``-T TOP``, ``-z``/``-Z`` size bounds,
``-O OBJ`` (the allocator's library, default libc), ``--sort size|count``, ``-s RATE``
(one allocation in RATE, by the clock as BCC), ``--percpu`` (the kernel's per-CPU allocator,
percpu tracepoints), ``--combined-only`` (totals per stack kept in the kernel's maps as
allocations come and go; the report reads only those), ``--wa-missing-free`` (kernel: an
allocation at a still-recorded address drops that record first), ``--symbols-prefix PREFIX``
(the allocator's functions are PREFIX+malloc, ...); ``--json`` prints
one object per interval. As the other stack tools (:mod:`pybpf.tools.stacks`), ``-f``
prints each report as folded stacks (``outer;...;inner BYTES``, frames without offsets, the
outstanding bytes as the weight; a blank line between reports) instead of BCC's text, and
``--svg FILE`` / ``--speedscope FILE`` write a flame graph / speedscope JSON of the last
report's stacks, rewritten at each report. These take every stack with outstanding
allocations (not only the ``-T`` top ones). The maps hold 4096 live allocations (more are
not tracked)."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time

from pybpf.tools import DESCRIPTIONS, programflags
from pybpf.tools.events import ToolError
from pybpf.tools.probespec import library_path
from pybpf.tools.stacks import add_output_arguments, write_graphs
from pybpf.tools.traced import Ticker, TraceRun, held_command

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import IO

#: user allocators: (function, the size expression at entry)
ALLOCATORS = (("malloc", "arg0"), ("calloc", "arg0 * arg1"), ("realloc", "arg1"), ("aligned_alloc", "arg1"),
              ("memalign", "arg1"), ("valloc", "arg0"), ("pvalloc", "arg0"))

_RECORD = "@asize[{address}] = {size}; @atime[{address}] = nsecs; @astack[{address}] = {stack};"
_FORGET = "delete(@asize[{address}]); delete(@atime[{address}]); delete(@astack[{address}]);"
#: --combined-only: the totals per stack (BCC's combined_allocs), kept in the kernel as
#: allocations are made and freed, of the allocations recorded (the maps had room); a
#: stack's entry goes with its last allocation
_COMBINE = " if (@atime[{address}]) {{ @csize[{stack}] += {size}; @ccount[{stack}] += 1; }}"   # if it was recorded (room)
_UNCOMBINE = ("if (@atime[{address}]) {{ $stack = @astack[{address}]; if (@ccount[$stack] > 1) {{ "
              "@csize[$stack] -= @asize[{address}]; @ccount[$stack] -= 1; }} else {{ "
              "delete(@csize[$stack]); delete(@ccount[$stack]); }} }} ")
#: -t: each allocation and free as a printf record (pid, comm, 1 alloc / 0 free, address, size)
_TRACE_RECORD = ' printf("%d %s %d %d %d", pid, comm, 1, {address}, {size});'
_TRACE_FORGET = 'printf("%d %s %d %d %d", pid, comm, 0, {address}, @asize[{address}]); '


def _templates(trace: bool, combined: bool = False) -> tuple[str, str]:
    """What an allocation and a free do in the program (with ``trace``, also print; with
    ``combined``, also keep the per-stack totals)."""
    record = _RECORD + (_COMBINE if combined else "") + (_TRACE_RECORD if trace else "")
    forget = (_TRACE_FORGET if trace else "") + (_UNCOMBINE if combined else "") + _FORGET
    return record, forget


def user_program(library: str, pid: int, bounds: str, trace: bool = False, combined: bool = False,
                 prefix: str = "") -> str:
    """Probes on ``library``'s allocators for process ``pid`` (named ``prefix`` + the libc
    name: BCC's --symbols-prefix, e.g. ``je_`` for a jemalloc built with that prefix)."""
    from pybpf.symbols import ElfSymbols

    record, forget = _templates(trace, combined)
    symbols = ElfSymbols.cached(library)
    mine = f"pid == {pid}"
    blocks = []
    for function, size in ALLOCATORS:
        function = prefix + function
        if not symbols.address(function):
            continue
        blocks.append(f"uprobe:{library}:{function} /{mine}/ {{ $size = {size}; "
                      f"if ({bounds.format(size='$size')}) {{ @pending[tid] = $size + 1; }} }}\n")
        if function == prefix + "realloc":
            blocks.append(f"uprobe:{library}:{function} /{mine}/ {{ {forget.format(address='arg0')} }}\n")
        blocks.append(f"uretprobe:{library}:{function} /{mine} && @pending[tid]/ {{ if (retval) {{ "
                      f"{record.format(address='retval', size='@pending[tid] - 1', stack='ustack')} }} "
                      f"delete(@pending[tid]); }}\n")
    if symbols.address(prefix + "posix_memalign"):
        blocks.append(f"uprobe:{library}:{prefix}posix_memalign /{mine}/ {{ if ({bounds.format(size='arg2')}) {{ "
                      f"@pending[tid] = arg2 + 1; @memptr[tid] = arg0; }} }}\n"
                      f"uretprobe:{library}:{prefix}posix_memalign /{mine} && @pending[tid]/ {{ if (retval == 0) {{ "
                      f"$address = *(uint64 *)@memptr[tid]; "
                      f"{record.format(address='$address', size='@pending[tid] - 1', stack='ustack')} }} "
                      f"delete(@pending[tid]); delete(@memptr[tid]); }}\n")
    if not blocks or not symbols.address(prefix + "free"):
        raise ToolError(f"{library} has no {prefix}malloc-family allocator or no {prefix}free"
                        + ("" if prefix else " (--symbols-prefix names prefixed ones, e.g. je_)"))
    blocks.append(f"uprobe:{library}:{prefix}free /{mine}/ {{ {forget.format(address='arg0')} }}\n")
    return "".join(blocks)


#: the kernel's allocation tracepoints: (allocations, the size field, frees)
KMEM = (("kmem:kmalloc", "kmem:kmem_cache_alloc"), "bytes_alloc", ("kmem:kfree", "kmem:kmem_cache_free"))
PERCPU = (("percpu:percpu_alloc_percpu",), "size", ("percpu:percpu_free_percpu",))


def kernel_program(bounds: str, tracepoints=KMEM, trace: bool = False, combined: bool = False,
                   missing_free: bool = False) -> str:
    """Kernel allocations: the kmem tracepoints (kmalloc and kmem_cache_alloc, with kfree
    and kmem_cache_free), or with ``PERCPU`` the per-CPU allocator's. ``missing_free``
    (BCC's --wa-missing-free): an allocation at an address still recorded first frees the
    record there — its free was missed — so the per-stack totals drop it."""
    allocations, size, frees = tracepoints
    record, forget = _templates(trace, combined)
    blocks = []
    for event in allocations:
        address = "(uint64)args->ptr"
        replace = f"if (@atime[{address}]) {{ {forget.format(address=address)} }} " if missing_free else ""
        blocks.append(f"tracepoint:{event} /args->ptr && {bounds.format(size=f'args->{size}')}/ {{ {replace}"
                      f"{record.format(address=address, size=f'args->{size}', stack='kstack')} }}\n")
    for event in frees:
        blocks.append(f"tracepoint:{event} {{ {forget.format(address='(uint64)args->ptr')} }}\n")
    return "".join(blocks)


class Memleak:
    """The memleak tool."""

    name = "memleak"
    description = DESCRIPTIONS["memleak"]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        target = parser.add_mutually_exclusive_group()
        target.add_argument("-p", "--pid", type=int, help="the PID to trace; if not given, trace kernel allocations")
        target.add_argument("-c", "--command", help="execute and trace the specified command")
        parser.add_argument("interval", nargs="?", type=float, default=5, help="seconds between reports (default 5)")
        parser.add_argument("count", nargs="?", type=int, help="number of reports before exiting")
        parser.add_argument("-a", "--show-allocs", action="store_true", help="show allocation addresses and sizes too")
        parser.add_argument("-o", "--older", type=int, default=500, help="only allocations older than this (ms, default 500)")
        parser.add_argument("-T", "--top", type=int, default=10, help="display only this many top stacks (default 10)")
        parser.add_argument("-z", "--min-size", type=int, help="capture only allocations of at least this size")
        parser.add_argument("-Z", "--max-size", type=int, help="capture only allocations of at most this size")
        parser.add_argument("-O", "--obj", default="c", help="the allocator's library or binary (default libc)")
        parser.add_argument("--sort", choices=("size", "count"), default="size", help="order of the stacks (default size)")
        parser.add_argument("-s", "--sample-rate", type=int, default=1,
                            help="sample about one allocation in this many (default 1: all)")
        parser.add_argument("--percpu", action="store_true", help="the kernel's per-CPU allocations (without -p)")
        parser.add_argument("-t", "--trace", action="store_true", help="also print each allocation and free as it happens")
        parser.add_argument("-d", "--duration", type=float, help="stop after this many seconds")
        parser.add_argument("--combined-only", action="store_true",
                            help="only the totals per stack, kept in the kernel (not per allocation)")
        parser.add_argument("--wa-missing-free", action="store_true",
                            help="kernel allocators: an allocation at a recorded address first frees the record "
                                 "there (its free was missed)")
        parser.add_argument("--symbols-prefix", metavar="PREFIX", default="",
                            help="the allocator's functions are PREFIX+malloc, ... (e.g. je_ for jemalloc)")
        add_output_arguments(parser, json_help="one JSON object per interval")
        programflags.add_arguments(parser)

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        if args.min_size is not None and args.max_size is not None and args.min_size > args.max_size:
            raise ToolError(f"-z {args.min_size} -Z {args.max_size}: the minimum size is above the maximum")
        if args.sample_rate < 1:
            raise ToolError(f"-s {args.sample_rate}: the sample rate is one allocation in N, N at least 1")
        if args.percpu and (args.pid or args.command):
            raise ToolError("--percpu traces the kernel's per-CPU allocator: it goes without -p and -c")
        if args.wa_missing_free and (args.pid or args.command):
            raise ToolError("--wa-missing-free is for the kernel's allocators: it goes without -p and -c")
        if args.symbols_prefix and not (args.pid or args.command):
            raise ToolError("--symbols-prefix names a process's allocator functions: it goes with -p or -c")
        if args.folded and args.trace:
            raise ToolError("-f prints only folded stacks: it goes without -t")
        tests = ([f"{{size}} >= {args.min_size}"] if args.min_size is not None else []) + \
            ([f"{{size}} <= {args.max_size}"] if args.max_size is not None else []) + \
            ([f"nsecs % {args.sample_rate} == 0"] if args.sample_rate > 1 else [])   # BCC's sampling, by the clock
        bounds = " && ".join(tests) or "1"
        child = held_command(args.command) if args.command else None
        pid = child.pid if child else args.pid
        try:
            source = (user_program(library_path(args.obj, pid), pid, bounds, args.trace, args.combined_only,
                                   args.symbols_prefix) if pid else
                      kernel_program(bounds, PERCPU if args.percpu else KMEM, args.trace, args.combined_only,
                                     args.wa_missing_free))
            reports = 0
            with TraceRun(source, pid=pid, name=self.name, flags=args) as run:
                if child is not None:
                    child.release()
                if not args.json and not args.folded:
                    out.write(f"Attaching to pid {pid}, Ctrl+C to quit.\n" if pid else
                              "Attaching to kernel allocators, Ctrl+C to quit.\n")
                    out.flush()
                pause = (lambda seconds: self._trace(run.records(seconds), args, out)) if args.trace else time.sleep
                for last in Ticker(args.interval, args.duration, until=child.exited if child else None, pause=pause):
                    stacks = self._combined(run, args, kernel=not pid) if args.combined_only else \
                        self._outstanding(run, args, kernel=not pid)
                    self._print(stacks, args, out, first=reports == 0)
                    reports += 1
                    if last or (args.count and reports >= args.count):
                        break
        finally:
            if child is not None:
                child.stop()
        return 0

    @staticmethod
    def _trace(records, args: argparse.Namespace, out: IO[str]) -> None:
        """-t: each allocation and free, as BCC words them (one JSON object each with --json)."""
        for record in records:
            pid, comm, allocated, address, size = record.values
            if args.json:
                out.write(json.dumps({"event": "alloc" if allocated else "free", "pid": pid, "comm": comm,
                                      "address": address, "size": size}) + "\n")
            elif allocated:
                out.write(f"{comm} {pid}: alloc exited, size = {size}, result = {address:x}\n")
            else:
                out.write(f"{comm} {pid}: free entered, address = {address:x}, size = {size}\n")
        out.flush()

    def _print(self, stacks: list[dict], args: argparse.Namespace, out: IO[str], *, first: bool) -> None:
        """A report of ``stacks`` (every stack with outstanding allocations, fewest bytes
        or allocations first): the ``-T`` top ones as text or JSON, or all as folded lines,
        and all in the ``--svg``/``--speedscope`` files."""
        from pybpf.output import fold

        weighted = [(folded_frames(stack["stack"]), stack["bytes"]) for stack in stacks]
        write_graphs(weighted, args, title="memleak outstanding bytes")
        top = stacks[-args.top:]
        if not args.show_allocs:
            top = [{key: value for key, value in stack.items() if key != "allocations"} for stack in top]
        if args.json:
            out.write(json.dumps({"time": time.time(), "stacks": top}) + "\n")
        elif args.folded:
            out.write(("" if first else "\n") + fold(weighted))
        else:
            out.write(f"[{time.strftime('%H:%M:%S')}] Top {args.top} stacks with outstanding allocations:\n")
            for stack in top:
                if "allocations" in stack:
                    out.writelines(f"\taddr = {a['address']:x} size = {a['size']}\n" for a in stack["allocations"])
                frames = "\n\t\t".join(stack["stack"])
                out.write(f"\t{stack['bytes']} bytes in {stack['count']} allocations from stack\n\t\t{frames}\n")
        out.flush()

    def _combined(self, run: TraceRun, args: argparse.Namespace, kernel: bool) -> list[dict]:
        """--combined-only: the top stacks by the totals the kernel keeps per stack (all
        outstanding allocations, whatever their age, as BCC's combined report)."""
        sizes, counts = run.values("@csize", clear=False), run.values("@ccount", clear=False)
        found = []
        for key, size in sizes.items():
            frames = [name for _, name in run.frames(key[0], kernel=kernel, offsets=True)]
            found.append({"bytes": int(size), "count": int(counts.get(key, 0)),
                          "stack": frames or ["stack information lost"]})
        return sorted(found, key=_order(args))

    def _outstanding(self, run: TraceRun, args: argparse.Namespace, kernel: bool) -> list[dict]:
        """The stacks of allocations older than ``-o`` ms, as dicts, in ``--sort``'s order."""
        sizes, times, stacks = (run.values(m, clear=False) for m in ("@asize", "@atime", "@astack"))
        oldest = time.monotonic_ns() - args.older * 1_000_000
        grouped: dict[tuple[str, ...], dict] = {}
        symbolised: dict[object, tuple[str, ...]] = {}
        for key, size in sizes.items():
            born, stack = times.get(key), stacks.get(key)
            if born is None or stack is None or int(born) > oldest:
                continue
            if stack not in symbolised:                 # once per recorded stack, not per allocation
                symbolised[stack] = tuple(name for _, name in run.frames(stack, kernel=kernel, offsets=True))
            frames = symbolised[stack]
            if not frames:                              # the stack was not recorded (stack map full): as BCC, skip
                continue
            entry = grouped.setdefault(frames, {"bytes": 0, "count": 0, "stack": list(frames), "allocations": []})
            entry["bytes"] += int(size)
            entry["count"] += 1
            entry["allocations"].append({"address": int(key[0]), "size": int(size)})
        return sorted(grouped.values(), key=_order(args))


def _order(args: argparse.Namespace):
    """``--sort``'s key: outstanding bytes then allocations, or the other way round."""
    return (lambda s: (s["bytes"], s["count"])) if args.sort == "size" else (lambda s: (s["count"], s["bytes"]))


def folded_frames(stack: list[str]) -> tuple[str, ...]:
    """A report's stack (innermost first, ``name+0xOFFSET``) as a flame graph's frames:
    outermost first, names without their offsets (so calls from one function merge)."""
    return tuple(re.sub(r"\+0x[0-9a-f]+$", "", frame) for frame in reversed(stack))


TOOL = Memleak()
