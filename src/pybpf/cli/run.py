"""``pybpf run FILE``: load a program into an engine and test-run it.

FILE is raw instructions, assembly, an ELF object or C source (compiled first, as
``pybpf cc`` would). ``--engine auto`` uses the kernel where bpf() is permitted and
pybpf's own vm elsewhere, and both engines run the program the same way: through
BPF_PROG_TEST_RUN's test run, as a socket filter unless ``--type`` or the ELF section says
otherwise, with the packet (``--data``) and the context built as the kernel builds them.
So the same command answers the same on either engine: the test run's (32-bit) return
value, mean duration per run and output packet (``data_out``), in the same JSON fields.

``--conformance`` runs on the vm alone with the conformance suite's convention instead
(r1 points at the input memory, r2 holds its length, the whole 64-bit r0 is the answer,
bpf_trace_printk's text is printed); ``--max-instructions`` and ``--interpreter`` apply
to such runs.
"""

from __future__ import annotations

import os
import sys

from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from pybpf.cli.program_input import ProgramFile
    from pybpf.object import ProgramSpec

# Imports of what the handler uses are inside it: ``pybpf`` registers every command's
# parser on each run, and registering must not load what only this command needs.

#: the packet a typed test run gets when none is given (skb programs need at least an
#: Ethernet header), on either engine
_DEFAULT_PACKET = bytes(64)
ETH_HLEN = 14
#: program types whose test run takes a packet, which BPF_PROG_TEST_RUN refuses (EINVAL)
#: when it is shorter than an Ethernet header
_PACKET_TYPES = {"socket_filter", "sched_cls", "sched_act", "cgroup_skb", "lwt_in", "lwt_out", "lwt_xmit",
                 "lwt_seg6local", "xdp", "flow_dissector"}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``run`` to the command line."""
    parser = subparsers.add_parser("run", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="raw instructions, assembly (.asm/.s), a BPF ELF object, or C source (.c)")
    parser.add_argument("--engine", choices=("auto", "kernel", "vm"), default="auto",
                        help="where to run (default: the kernel when permitted, else the vm)")
    parser.add_argument("--type", help="program type for the kernel (socket_filter, xdp, sched_cls, ...)")
    parser.add_argument("--section", help="the ELF program to run (section or function name)")
    parser.add_argument("--core-btf", metavar="PATH",
                        help="apply CO-RE relocations against this BTF (default: the running kernel's)")
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--mem", metavar="HEX", help="input memory / packet as hex bytes")
    data.add_argument("--data", "--mem-file", dest="data", metavar="PATH", help="input memory / packet from a file")
    parser.add_argument("--repeat", type=int, default=1, help="run N times (timing is the mean)")
    parser.add_argument("--conformance", action="store_true",
                        help="vm only: r1 = the input memory, r2 = its length, 64-bit r0 (not a test run)")
    parser.add_argument("--max-instructions", type=int, default=None,
                        help="with --conformance: stop a program after this many instructions")
    parser.add_argument("--interpreter", action="store_true",
                        help="with --conformance: interpret instead of compiling with the JIT")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def _input(args: argparse.Namespace) -> bytes | None:
    if args.mem is not None:
        try:
            return bytes.fromhex(args.mem.replace(":", " "))
        except ValueError as exc:
            raise PybpfError(f"--mem: not hex bytes ({exc})") from None
    if args.data is not None:
        from pathlib import Path

        return Path(args.data).read_bytes()
    return None


def engine_name(requested: str, command: str = "run") -> str:
    """The engine ``--engine`` names; for "auto" the kernel where bpf() is permitted,
    else the vm, saying so on stderr (``pybpf load`` shares this)."""
    from pybpf.engine.loading import resolve_engine

    name, why = resolve_engine(requested)
    if why is not None:
        print(f"pybpf {command}: using the vm engine ({why})", file=sys.stderr)
    return name


def run(args: argparse.Namespace) -> int:
    """Load, run, print r0 (and trace output)."""
    from pybpf.cli.program_input import read_program_file
    from pybpf.engine.program import Program

    if not 1 <= args.repeat <= Program.MAX_REPEAT:
        raise PybpfError(f"--repeat must be between 1 and {Program.MAX_REPEAT} (BPF_PROG_TEST_RUN counts in 32 bits), "
                         f"not {args.repeat}")
    if args.max_instructions is not None and args.max_instructions < 1:
        raise PybpfError(f"--max-instructions must be at least 1, not {args.max_instructions}")
    _check_conformance_options(args)
    program = read_program_file(args.file, args.section, args.core_btf)
    memory = _input(args)
    if args.conformance:
        engine = "vm"
        result = _run_vm(program, args, memory)
    else:
        engine = engine_name(args.engine)
        result = _run_engine(program, args, _DEFAULT_PACKET if memory is None else memory, engine)
    result["engine"] = engine
    if args.json:
        import json  # only for --json (~1.5 ms of a start-up)

        print(json.dumps(result))
    else:
        for line in result.get("output", []):
            print(line, end="" if line.endswith("\n") else "\n")
        print(f"r0 = {result['retval']} ({result['retval']:#x})  [{engine} engine]")
        if "data_out" in result:   # a test run: what BPF_PROG_TEST_RUN reports besides r0
            runs = f"{args.repeat} run{'s' if args.repeat > 1 else ''}"
            print(f"duration {result['duration_ns']} ns per run ({runs}), "
                  f"data_out {result['data_out_len']} bytes")
    return 0


def _check_conformance_options(args: argparse.Namespace) -> None:
    """The vm-only options go with --conformance, which goes with the vm alone."""
    if args.conformance:
        if args.engine == "kernel":
            raise PybpfError("--conformance runs on the vm only (the kernel runs programs through its test run)")
        if args.type is not None or args.section is not None:
            raise PybpfError("--conformance runs raw instructions or assembly, without --type or --section")
        return
    for option, given in (("--max-instructions", args.max_instructions is not None),
                          ("--interpreter", args.interpreter)):
        if given:
            raise PybpfError(f"{option} applies to --conformance runs on the vm (a test run has the kernel's limits)")


def _run_vm(program_file: ProgramFile, args: argparse.Namespace, memory: bytes | None) -> dict[str, Any]:
    """A --conformance run: r1 = the input memory, r2 = its length, r0 as it is."""
    from pybpf.vm import DEFAULT_MAX_INSTRUCTIONS, JIT_DEFAULT, CheckedProgram, run_program

    if program_file.collection is not None:
        raise PybpfError("--conformance runs raw instructions or assembly; an object's programs run as test runs")
    memory = memory or b""
    program = CheckedProgram(program_file.instructions)
    limit = args.max_instructions or DEFAULT_MAX_INSTRUCTIONS
    total = 0
    for _ in range(args.repeat):
        result = run_program(program, memory, max_instructions=limit, jit=JIT_DEFAULT and not args.interpreter)
        total += result.duration_ns
    return {"retval": result.retval, "duration_ns": total // args.repeat, "output": list(result.output),
            "instructions": result.instructions}


def _run_engine(program_file: ProgramFile, args: argparse.Namespace, memory: bytes, engine: str) -> dict[str, Any]:
    """Load the program (with its object's maps) on ``engine`` and test-run it."""
    from pybpf.engine import load
    from pybpf.object import CollectionSpec, ProgramSpec

    spec = program_file.program
    if spec is None:
        stem = os.path.splitext(os.path.basename(args.file))[0]
        name = "".join(ch if ch.isascii() and (ch.isalnum() or ch == "_") else "_" for ch in stem)[:15] or "prog"
        spec = ProgramSpec(name, args.type or "socket_filter", program_file.instructions)
    elif args.type is not None:
        spec = spec.copy(type=args.type)
    _check_packet(spec, memory)
    collection = program_file.collection or CollectionSpec()
    collection = CollectionSpec(dict(collection.maps), {spec.name: spec})
    with load(collection, engine=engine) as loaded:
        result = loaded.programs[spec.name].test_run(memory, repeat=args.repeat)
    return {"retval": result.retval, "duration_ns": result.duration_ns, "data_out": result.data_out.hex(),
            "data_out_len": len(result.data_out), "repeat": args.repeat, "output": []}


def _check_packet(spec: ProgramSpec, memory: bytes) -> None:
    """Refuse a packet the kernel's test run would refuse, on both engines alike, saying
    why (the kernel only answers EINVAL)."""
    if str(spec.type) in _PACKET_TYPES and len(memory) < ETH_HLEN:
        raise PybpfError(f"the packet is {len(memory)} bytes; a {spec.type} program's test run needs at least "
                         f"an Ethernet header ({ETH_HLEN} bytes)")
