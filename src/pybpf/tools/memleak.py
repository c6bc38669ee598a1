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
percpu tracepoints); ``--json`` prints
one object per interval. The maps hold 4096 live allocations (more are not tracked)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import IO

from pybpf.tools import programflags
from pybpf.tools.events import ToolError
from pybpf.tools.probespec import library_path
from pybpf.tools.traced import Ticker, TraceRun, held_command

#: user allocators: (function, the size expression at entry)
ALLOCATORS = (("malloc", "arg0"), ("calloc", "arg0 * arg1"), ("realloc", "arg1"), ("aligned_alloc", "arg1"),
              ("memalign", "arg1"), ("valloc", "arg0"), ("pvalloc", "arg0"))

_RECORD = "@asize[{address}] = {size}; @atime[{address}] = nsecs; @astack[{address}] = {stack};"
_FORGET = "delete(@asize[{address}]); delete(@atime[{address}]); delete(@astack[{address}]);"
#: -t: each allocation and free as a printf record (pid, comm, 1 alloc / 0 free, address, size)
_TRACE_RECORD = ' printf("%d %s %d %d %d", pid, comm, 1, {address}, {size});'
_TRACE_FORGET = 'printf("%d %s %d %d %d", pid, comm, 0, {address}, @asize[{address}]); '


def _templates(trace: bool) -> tuple[str, str]:
    """What an allocation and a free do in the program (with ``-t``, also print)."""
    return (_RECORD + _TRACE_RECORD, _TRACE_FORGET + _FORGET) if trace else (_RECORD, _FORGET)


def user_program(library: str, pid: int, bounds: str, trace: bool = False) -> str:
    """Probes on ``library``'s allocators for process ``pid``."""
    from pybpf.symbols import ElfSymbols

    record, forget = _templates(trace)
    symbols = ElfSymbols.cached(library)
    mine = f"pid == {pid}"
    blocks = []
    for function, size in ALLOCATORS:
        if not symbols.address(function):
            continue
        blocks.append(f"uprobe:{library}:{function} /{mine}/ {{ $size = {size}; "
                      f"if ({bounds.format(size='$size')}) {{ @pending[tid] = $size + 1; }} }}\n")
        if function == "realloc":
            blocks.append(f"uprobe:{library}:realloc /{mine}/ {{ {forget.format(address='arg0')} }}\n")
        blocks.append(f"uretprobe:{library}:{function} /{mine} && @pending[tid]/ {{ if (retval) {{ "
                      f"{record.format(address='retval', size='@pending[tid] - 1', stack='ustack')} }} "
                      f"delete(@pending[tid]); }}\n")
    if symbols.address("posix_memalign"):
        blocks.append(f"uprobe:{library}:posix_memalign /{mine}/ {{ if ({bounds.format(size='arg2')}) {{ "
                      f"@pending[tid] = arg2 + 1; @memptr[tid] = arg0; }} }}\n"
                      f"uretprobe:{library}:posix_memalign /{mine} && @pending[tid]/ {{ if (retval == 0) {{ "
                      f"$address = *(uint64 *)@memptr[tid]; "
                      f"{record.format(address='$address', size='@pending[tid] - 1', stack='ustack')} }} "
                      f"delete(@pending[tid]); delete(@memptr[tid]); }}\n")
    blocks.append(f"uprobe:{library}:free /{mine}/ {{ {forget.format(address='arg0')} }}\n")
    return "".join(blocks)


#: the kernel's allocation tracepoints: (allocations, the size field, frees)
KMEM = (("kmem:kmalloc", "kmem:kmem_cache_alloc"), "bytes_alloc", ("kmem:kfree", "kmem:kmem_cache_free"))
PERCPU = (("percpu:percpu_alloc_percpu",), "size", ("percpu:percpu_free_percpu",))


def kernel_program(bounds: str, tracepoints=KMEM, trace: bool = False) -> str:
    """Kernel allocations: the kmem tracepoints (kmalloc and kmem_cache_alloc, with kfree
    and kmem_cache_free), or with ``PERCPU`` the per-CPU allocator's."""
    allocations, size, frees = tracepoints
    record, forget = _templates(trace)
    blocks = []
    for event in allocations:
        blocks.append(f"tracepoint:{event} /args->ptr && {bounds.format(size=f'args->{size}')}/ {{ "
                      f"{record.format(address='(uint64)args->ptr', size=f'args->{size}', stack='kstack')} }}\n")
    for event in frees:
        blocks.append(f"tracepoint:{event} {{ {forget.format(address='(uint64)args->ptr')} }}\n")
    return "".join(blocks)


class Memleak:
    """The memleak tool."""

    name = "memleak"
    description = "Outstanding (not freed) allocations by allocating stack: libc for a process, kmem for the kernel."

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
        parser.add_argument("--json", action="store_true", help="one JSON object per interval")
        programflags.add_arguments(parser)

    def run(self, args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
        if args.min_size is not None and args.max_size is not None and args.min_size > args.max_size:
            raise ToolError(f"-z {args.min_size} -Z {args.max_size}: the minimum size is above the maximum")
        if args.sample_rate < 1:
            raise ToolError(f"-s {args.sample_rate}: the sample rate is one allocation in N, N at least 1")
        if args.percpu and (args.pid or args.command):
            raise ToolError("--percpu traces the kernel's per-CPU allocator: it goes without -p and -c")
        tests = ([f"{{size}} >= {args.min_size}"] if args.min_size is not None else []) + \
            ([f"{{size}} <= {args.max_size}"] if args.max_size is not None else []) + \
            ([f"nsecs % {args.sample_rate} == 0"] if args.sample_rate > 1 else [])   # BCC's sampling, by the clock
        bounds = " && ".join(tests) or "1"
        child = held_command(args.command) if args.command else None
        pid = child.pid if child else args.pid
        try:
            source = (user_program(library_path(args.obj, pid), pid, bounds, args.trace) if pid else
                      kernel_program(bounds, PERCPU if args.percpu else KMEM, args.trace))
            reports = 0
            with TraceRun(source, pid=pid, name=self.name, flags=args) as run:
                if child is not None:
                    child.release()
                if not args.json:
                    out.write(f"Attaching to pid {pid}, Ctrl+C to quit.\n" if pid else
                              "Attaching to kernel allocators, Ctrl+C to quit.\n")
                    out.flush()
                pause = (lambda seconds: self._trace(run.records(seconds), args, out)) if args.trace else time.sleep
                for last in Ticker(args.interval, args.duration, until=child.exited if child else None, pause=pause):
                    self._print(self._outstanding(run, args, kernel=not pid), args, out)
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

    def _print(self, stacks: list[dict], args: argparse.Namespace, out: IO[str]) -> None:
        if args.json:
            out.write(json.dumps({"time": time.time(), "stacks": stacks}) + "\n")
        else:
            out.write(f"[{time.strftime('%H:%M:%S')}] Top {args.top} stacks with outstanding allocations:\n")
            for stack in stacks:
                if args.show_allocs:
                    out.writelines(f"\taddr = {a['address']:x} size = {a['size']}\n" for a in stack["allocations"])
                frames = "\n\t\t".join(stack["stack"])
                out.write(f"\t{stack['bytes']} bytes in {stack['count']} allocations from stack\n\t\t{frames}\n")
        out.flush()

    def _outstanding(self, run: TraceRun, args: argparse.Namespace, kernel: bool) -> list[dict]:
        """The top stacks of allocations older than ``-o`` ms, as dicts."""
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
        order = (lambda s: (s["bytes"], s["count"])) if args.sort == "size" else (lambda s: (s["count"], s["bytes"]))
        top = sorted(grouped.values(), key=order)[-args.top:]
        if not args.show_allocs:
            for entry in top:
                del entry["allocations"]
        return top


TOOL = Memleak()
