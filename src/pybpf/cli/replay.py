"""pybpf replay: run an XDP, tc, socket-filter or cgroup-skb program over every packet of
a capture, in order, with its maps kept from packet to packet, and report the verdicts.

Both engines take the same command (the vm engine needs no root): verdict counts, the
packets the program let through as it left them (-w), one file per verdict
(--split-by-verdict), one JSON object per packet (--json), the maps at the end (--maps).
"""

from __future__ import annotations

import sys

from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import argparse
    from pathlib import Path
    from typing import Any

    from pybpf.capture import CaptureFile, PcapWriter
    from pybpf.engine import Map
    from pybpf.replay import PacketResult, Summary


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``replay`` to the command line."""
    parser = subparsers.add_parser("replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="the program: C source (.c), a BPF ELF object, or assembly (with --type)")
    parser.add_argument("-r", dest="capture", required=True, metavar="CAPTURE", help="the pcap or pcapng file to replay")
    parser.add_argument("--section", help="the ELF program to run (section or function name)")
    parser.add_argument("--type", choices=("xdp", "tc", "sched_cls", "socket_filter", "cgroup_skb"),
                        help="the program type (assembly needs one; overrides an object's section)")
    parser.add_argument("--engine", choices=("auto", "kernel", "vm"), default="auto",
                        help="where to run (default: the kernel when permitted, else the vm)")
    parser.add_argument("-w", dest="write", metavar="OUT", help="write the packets the program let through, as it left them")
    parser.add_argument("--split-by-verdict", metavar="DIR", help="write one capture per verdict into DIR")
    parser.add_argument("--json", action="store_true", help="one JSON object per packet, then the summary")
    parser.add_argument("--maps", action="store_true", help="print the program's maps after the last packet")
    parser.add_argument("-v", dest="verbose", action="store_true", help="a tcpdump-style line per packet with its verdict")
    parser.add_argument("--core-btf", metavar="PATH",
                        help="apply CO-RE relocations against this BTF (default: the running kernel's)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Load the program, replay the capture, print and write what was asked; quietly
    stop where the reader of the output went away (``pybpf replay ... -v | head``)."""
    try:
        return _run(args)
    except BrokenPipeError:
        from pybpf.cli.output import reader_gone

        return reader_gone()


def _run(args: argparse.Namespace) -> int:
    from pybpf.capture import open_capture
    from pybpf.cli.run import engine_name
    from pybpf.engine import load

    program_spec, collection = _program(args)
    engine = engine_name(args.engine, "replay")
    with open_capture(args.capture) as capture, load(collection, engine=engine) as loaded:
        program = loaded.programs[program_spec.name]
        summary = _replay(args, program, capture)
        maps = {name: _map_contents(m) for name, m in loaded.maps.items() if not name.startswith(".")} \
            if args.maps else {}
    if args.json:
        import json  # only for --json (~1.5 ms of a start-up)

        print(json.dumps({"summary": {"packets": summary.packets, "verdicts": dict(summary.counts),
                                      "bytes_in": summary.bytes_in, "bytes_out": summary.bytes_out,
                                      "engine": engine}, **({"maps": maps} if args.maps else {})}, default=str))
    else:
        print(f"{program_spec.name} ({program_spec.type}) on the {engine} engine: " + summary.lines()[0])
        print("\n".join(summary.lines()[1:]))
        for name, contents in maps.items():
            print(f"map {name}:")
            for key, value in contents:
                print(f"  {key}: {value}")
    return 0


def _program(args: argparse.Namespace) -> tuple[Any, Any]:
    """The program's spec (typed as --type says) and a collection holding it and its maps."""
    from pybpf.cli.program_input import read_program_file
    from pybpf.object import CollectionSpec, ProgramSpec

    program_file = read_program_file(args.file, args.section, args.core_btf)
    kind = {"tc": "sched_cls"}.get(args.type, args.type)
    spec = program_file.program
    if spec is None:
        if kind is None:
            raise PybpfError(f"{args.file}: assembly and raw instructions need --type (xdp, tc, socket_filter, cgroup_skb)")
        spec = ProgramSpec("replayed", kind, program_file.instructions)
    elif kind is not None:
        spec = spec.copy(type=kind)
    maps = dict(program_file.collection.maps) if program_file.collection else {}
    return spec, CollectionSpec(maps, {spec.name: spec})


def _replay(args: argparse.Namespace, program: Any, capture: CaptureFile) -> Summary:
    from pybpf.replay import Summary, replay, replay_summary

    if not (args.json or args.verbose or args.write or args.split_by_verdict):   # counts only: natively
        counted = replay_summary(program, capture, args.capture)
        if counted is not None:
            return counted
    summary = Summary()
    writers: dict[str, Any] = {}
    split = None
    if args.split_by_verdict:
        from pathlib import Path

        split = Path(args.split_by_verdict)
        split.mkdir(parents=True, exist_ok=True)
    passed = _writer(args.write) if args.write else None
    try:
        packets = _ethernet_packets(capture, args.capture)
        for result in replay(program, packets):
            summary.add(result)
            if args.json:
                _print_json(result)
            if args.verbose:
                _print_verbose(result)
            if passed is not None and result.passed:
                passed.write(result.data, result.timestamp_ns)
            if split is not None:
                writer = writers.get(result.verdict)
                if writer is None:
                    writer = writers[result.verdict] = _writer(split / f"{result.verdict}.pcap")
                writer.write(result.data if result.passed else result.data_in, result.timestamp_ns)
    except BaseException:
        for writer in [passed, *writers.values()]:
            if writer is not None:
                writer.abort()
        raise
    for writer in [passed, *writers.values()]:
        if writer is not None:
            writer.close()
    return summary


def _writer(path: str | Path) -> PcapWriter:
    """A pcap file of Ethernet frames with nanosecond times (the capture writer is
    imported only when something is written)."""
    from pybpf.capture import LinkType, PcapWriter

    return PcapWriter(path, LinkType.EN10MB, nanosecond=True)


def _print_json(result: PacketResult) -> None:
    import json  # only for --json (~1.5 ms of a start-up)

    print(json.dumps(result.as_json()))


def _ethernet_packets(capture: CaptureFile, path: str) -> Any:
    """The capture's packets, which must be Ethernet frames (what XDP and skb test runs take)."""
    from pybpf.capture import LinkType

    for index, packet in enumerate(capture):
        if packet.linktype != LinkType.EN10MB:
            raise PybpfError(f"{path}: packet {index + 1} has link type {packet.linktype}; "
                             "replay runs Ethernet captures (what XDP and tc see)")
        yield packet


def _print_verbose(result: PacketResult) -> None:
    from pybpf.capture import LinkType, format_timestamp, summarize  # (summarize imports socket: -v only)

    data = result.data or result.data_in
    line = summarize(data, LinkType.EN10MB, numeric=True) if data else "(no data)"
    print(f"{format_timestamp(result.timestamp_ns)} {result.verdict:<14} {line}")
    if result.error:
        print(f"    error: {result.error}", file=sys.stderr)


def _map_contents(m: Map) -> list[tuple[Any, Any]]:
    """A map's entries, decoded through its BTF types where it has them: every entry of a
    hash map, the non-zero ones of an array (whose every slot always exists); nothing for
    maps without entries to list (ring buffers, perf event arrays). Sorted by key (integers
    by value, other keys by their bytes): a hash map's own order is its buckets', which
    differs between the engines and from run to run, and the output should not."""
    from pybpf.object import MapType

    try:
        entries = list(m.items())
    except PybpfError:
        return []
    if m.type in (MapType.ARRAY, MapType.PERCPU_ARRAY):
        entries = [(key, value) for key, value in entries if _nonzero(value)]
    encode = m.key_codec.encode
    return sorted(entries, key=lambda entry: (0, entry[0], b"") if isinstance(entry[0], int)
                  else (1, 0, encode(entry[0])))


def _nonzero(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(_nonzero(v) for v in value)
    if isinstance(value, (bytes, bytearray)):
        return any(value)
    return bool(value) if isinstance(value, (int, float)) else True
