"""``pybpf verify FILE [--type T] [--section S] [--log-level 1|2] [--json] [--compare]``:
run pybpf's verifier on one program and say whether the kernel's rules accept it.

FILE is C source, an ELF object (``--section`` picks a program), assembly text or raw
instruction bytes (``--type`` says the program type; default socket_filter). The output
is the verdict, the kernel's message for the failing instruction with its C source line
and an explanation, and the ``processed N insns`` statistics; ``--log-level`` prints the
log in the kernel's format. ``--compare`` (root) loads the program into the kernel too
and shows both verdicts. The exit status is 0 when accepted, 1 when refused (or when
``--compare`` finds the two verifiers disagree).
"""

from __future__ import annotations

import errno
import time

from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse
    from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``verify`` to the command line."""
    parser = subparsers.add_parser("verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="C source, a BPF ELF object, assembly text, or raw instructions (.bin)")
    parser.add_argument("--type", help="program type (default: the object's, else socket_filter)")
    parser.add_argument("--section", help="the program of an object, by section or function name")
    parser.add_argument("--attach", metavar="SECTION",
                        help="how the program attaches, as a section name (tp_btf/sched_switch, fentry/vfs_read, "
                             "iter/task): its type and attach target, for assembly or raw input")
    parser.add_argument("--log-level", type=int, choices=(1, 2), default=0, help="print the verifier log")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--compare", action="store_true", help="also ask the kernel's verifier (root)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pybpf.cli.program_input import read_program_file
    from pybpf.object import ProgramSpec, ProgramType
    from pybpf.verifier import map_info, verify

    found = read_program_file(args.file, args.section)
    spec = found.program
    attach = None
    if args.attach:
        from pybpf.object.sections import section_kind  # the section table: only for --attach

        attach = section_kind(args.attach)
    if args.attach and attach is None:
        raise PybpfError(f"--attach: {args.attach!r} is not a section name pybpf knows (e.g. tp_btf/NAME, "
                         "fentry/FUNCTION, iter/NAME)")
    try:
        default = attach.program_type if attach else (spec.type if spec else ProgramType.SOCKET_FILTER)
        kind = ProgramType.parse(args.type) if args.type else default
    except ValueError as exc:
        raise PybpfError(f"--type: {exc}") from None
    if spec is not None:
        spec.copy(type=kind).require_type()
    maps = {}
    if spec is not None:
        used = sorted(set(spec.references.values()))
        ids = {name: number + 1 for number, name in enumerate(used)}
        collection_maps = found.collection.maps if found.collection is not None else {}
        maps = {ids[name]: map_info(ids[name], collection_maps[name]) for name in used}
        instructions = spec.relocated(lambda name: ids[name])
        spec = spec.copy(type=kind)
    else:
        instructions = found.instructions
        spec = ProgramSpec("verify", kind, instructions)
    if attach is not None:
        spec = spec.copy(expected_attach_type=attach.attach_type, attach_to=attach.target)
    start = time.perf_counter()
    verdict = verify(instructions, kind, maps, log_level=args.log_level,
                     func_info=spec.btf is not None and bool(spec.btf.func_info),
                     attach_type=spec.expected_attach_type, attach_to=spec.attach_to, license=spec.license)
    elapsed = time.perf_counter() - start
    row: dict[str, Any] = {"program": spec.name, "type": str(kind), "accepted": verdict.accepted,
                           "message": verdict.message, "errno": _errno_name(verdict.errno),
                           "instruction": verdict.slot, "why": verdict.why,
                           "source": _source(spec, verdict), "processed": verdict.processed,
                           "microseconds": round(elapsed * 1e6)}
    if args.log_level:
        row["log"] = verdict.log
    status = 0 if verdict.accepted else 1
    if args.compare:
        # maps made for the kernel's verdict alone: never pinned (LIBBPF_PIN_BY_NAME would
        # leave them in bpffs, or reuse a live program's map)
        from pybpf.object import CollectionSpec, Pinning  # (the collection, for --compare only)

        used_maps = {n: m.copy(pinning=Pinning.NONE) for n, m in (found.collection.maps.items() if found.collection
                                                                    else ()) if n in set(spec.references.values())}
        row["kernel"] = _kernel_verdict(CollectionSpec(used_maps, {spec.name: spec}))
        status = 0 if row["kernel"]["accepted"] == verdict.accepted else 1
    if args.json:
        import json  # only for --json (~1.5 ms of a start-up)

        print(json.dumps(row, indent=2))
    else:
        _print(row, verdict)
    return status


def _source(spec, verdict) -> str:
    lines = []
    if verdict.slot is not None and spec.explain(verdict.slot):
        lines.append(spec.explain(verdict.slot))
    lines += [f"(instruction {slot}) {spec.explain(slot)}" for slot in verdict.related if spec.explain(slot)]
    return "\n".join(lines)


def _kernel_verdict(collection) -> dict[str, Any]:
    from pybpf.engine import VerifierError, load

    try:
        with load(collection, engine="kernel"):
            return {"accepted": True, "message": "", "errno": ""}
    except VerifierError as exc:
        lines = [line for line in exc.log.splitlines()
                 if line.strip() and not line.startswith(("processed", "stack depth", "verification time"))]
        return {"accepted": False, "message": lines[-1] if lines else exc.reason or str(exc),
                "errno": _errno_name(exc.errno)}
    except PybpfError as exc:
        return {"accepted": False, "message": str(exc).splitlines()[0],
                "errno": _errno_name(getattr(exc, "errno", 0) or 0)}


def _errno_name(code: int) -> str:
    """``EACCES`` for 13; the kernel's internal ENOTSUPP (524) by name too; '' for 0."""
    if not code:
        return ""
    return {524: "ENOTSUPP"}.get(code) or errno.errorcode.get(code, str(code))


def _print(row: dict[str, Any], verdict) -> None:
    if row.get("log"):
        print(row["log"], end="")
    where = f" at instruction {row['instruction']}" if row["instruction"] is not None else ""
    print(f"{row['program']} ({row['type']}): " + ("accepted" if row["accepted"] else f"refused{where} "
                                                      f"({row['errno']}): {row['message']}"))
    for line in row["source"].splitlines():
        print(f"  {line}")
    if row["why"]:
        print(f"  why: {row['why']}")
    print(f"  processed {row['processed']} insns in {row['microseconds']} us")
    if "kernel" in row:
        kernel = row["kernel"]
        print("kernel: " + ("accepted" if kernel["accepted"] else f"refused ({kernel['errno']}): {kernel['message']}"))
        print("verdicts " + ("agree" if kernel["accepted"] == row["accepted"] else "DIFFER"))
