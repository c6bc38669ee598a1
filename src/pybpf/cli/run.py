"""``pybpf run FILE``: load a program into an engine and test-run it.

FILE is raw instructions, assembly or an ELF object. ``--engine auto`` uses the kernel
where bpf() is permitted (the program runs through BPF_PROG_TEST_RUN, as a socket filter
unless ``--type`` or the ELF section says otherwise) and pybpf's own vm elsewhere (with
the conformance convention: r1 points at the input memory, r2 holds its length).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from pybpf.cli.program_input import ProgramFile, read_program_file
from pybpf.errors import PybpfError
from pybpf.object import CollectionSpec, ProgramSpec

#: the packet a typed test run gets when none is given (skb programs need at least an
#: Ethernet header), on either engine
_DEFAULT_PACKET = bytes(64)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``run`` to the command line."""
    parser = subparsers.add_parser("run", help="test-run a program on the kernel or the vm",
                                   description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="raw instructions, assembly (.asm/.s), or a BPF ELF object")
    parser.add_argument("--engine", choices=("auto", "kernel", "vm"), default="auto",
                        help="where to run (default: the kernel when permitted, else the vm)")
    parser.add_argument("--type", help="program type for the kernel (socket_filter, xdp, sched_cls, ...)")
    parser.add_argument("--section", help="the ELF program to run (section or function name)")
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--mem", metavar="HEX", help="input memory / packet as hex bytes")
    data.add_argument("--data", "--mem-file", dest="data", metavar="PATH", help="input memory / packet from a file")
    parser.add_argument("--repeat", type=int, default=1, help="run N times (timing is the mean)")
    parser.add_argument("--max-instructions", type=int, default=None,
                        help="vm: stop a program after this many instructions")
    parser.add_argument("--interpreter", action="store_true",
                        help="vm: interpret instead of compiling with the JIT")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def _input(args: argparse.Namespace) -> bytes | None:
    if args.mem is not None:
        try:
            return bytes.fromhex(args.mem.replace(":", " "))
        except ValueError as exc:
            raise PybpfError(f"--mem: not hex bytes ({exc})") from None
    if args.data is not None:
        return Path(args.data).read_bytes()
    return None


def _engine(requested: str) -> str:
    if requested != "auto":
        return requested
    from pybpf.kernel.engine import available

    reason = available()
    if reason is not None:
        print(f"pybpf run: using the vm engine (the kernel refused bpf(): {reason})", file=sys.stderr)
        return "vm"
    return "kernel"


def run(args: argparse.Namespace) -> int:
    """Load, run, print r0 (and trace output)."""
    if args.repeat < 1:
        raise PybpfError("--repeat must be at least 1")
    program = read_program_file(args.file, args.section)
    memory = _input(args)
    engine = _engine(args.engine)
    if engine == "kernel":
        result = _run_kernel(program, args, _DEFAULT_PACKET if memory is None else memory)
    else:
        result = _run_vm(program, args, memory or b"")
    result["engine"] = engine
    if args.json:
        print(json.dumps(result))
    else:
        for line in result.get("output", []):
            print(line, end="" if line.endswith("\n") else "\n")
        print(f"r0 = {result['retval']} ({result['retval']:#x})  [{engine} engine]")
    return 0


def _run_vm(program_file: ProgramFile, args: argparse.Namespace, memory: bytes) -> dict[str, Any]:
    from pybpf.vm import DEFAULT_MAX_INSTRUCTIONS, JIT_DEFAULT, Program, run_program

    if args.type is not None or program_file.collection is not None:
        # a typed program (or an ELF object's, with its maps): the vm engine builds the
        # context BPF_PROG_TEST_RUN would, exactly as the kernel engine's run does
        return _run_engine(program_file, args, memory or _DEFAULT_PACKET, "vm")
    program = Program(program_file.instructions)
    limit = args.max_instructions or DEFAULT_MAX_INSTRUCTIONS
    total = 0
    for _ in range(args.repeat):
        result = run_program(program, memory, max_instructions=limit, jit=JIT_DEFAULT and not args.interpreter)
        total += result.duration_ns
    return {"retval": result.retval, "duration_ns": total // args.repeat, "output": list(result.output),
            "instructions": result.instructions}


def _run_kernel(program_file: ProgramFile, args: argparse.Namespace, memory: bytes) -> dict[str, Any]:
    return _run_engine(program_file, args, memory, "kernel")


def _run_engine(program_file: ProgramFile, args: argparse.Namespace, memory: bytes, engine: str) -> dict[str, Any]:
    """Load the program (with its object's maps) on ``engine`` and test-run it."""
    from pybpf.engine import load

    spec = program_file.program
    if spec is None:
        name = re.sub(r"[^A-Za-z0-9_]", "_", Path(args.file).stem)[:15] or "prog"
        spec = ProgramSpec(name, args.type or "socket_filter", program_file.instructions)
    elif args.type is not None:
        spec = spec.copy(type=args.type)
    collection = program_file.collection or CollectionSpec()
    collection = CollectionSpec(dict(collection.maps), {spec.name: spec})
    with load(collection, engine=engine) as loaded:
        result = loaded.programs[spec.name].test_run(memory, repeat=args.repeat)
    return {"retval": result.retval, "duration_ns": result.duration_ns, "data_out": result.data_out.hex(),
            "output": []}
