"""pybpf start-up: each sub-command's trivial invocation (its help, a listing, a
two-instruction program, a two-packet capture), best-of-N wall time beside ``python -c
pass`` and beside the reference tool where one does the same thing (bpftool, bpftrace,
tcpdump), as ratios, in one run.

The runs are interleaved (one of each case per round) so a busy moment of the machine
spreads over all cases. pybpf is started as its console script starts it (``from
pybpf.cli import main``), with its bytecode compiled first, as ``pip install`` leaves it,
and ``PYTHONDONTWRITEBYTECODE`` removed from the children's environment (with it, every
module would be compiled from source on every run). Cases needing root (kernel engine,
prog/map list, trace) are skipped without it; ``load`` needs clang-14 for its object.

    sudo PYTHONPATH=src python benchmarks/startup.py [--runs 9] [--only asm,disasm,...] [--baseline OLD/src] [--cpu]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time

#: how the console script starts pybpf (pyproject.toml's ``pybpf = "pybpf.cli:main"``)
LAUNCH = "import sys; from pybpf.cli import main; sys.argv[0] = 'pybpf'; sys.exit(main())"

SOCKET_FILTER_C = 'int f(void *ctx) __attribute__((section("socket"), used));\nint f(void *ctx) { return 0; }\n'


def write_inputs(directory: str) -> dict[str, str]:
    """The files the cases read: assembly, raw instructions, a two-packet capture, an
    ELF object (when clang-14 is installed)."""
    paths = {name: os.path.join(directory, name) for name in ("x.s", "x.bin", "x.pcap", "x.c", "x.o", "out")}
    with open(paths["x.s"], "w") as f:
        f.write("r0 = 0\nexit\n")
    with open(paths["x.bin"], "wb") as f:   # r0 = 0; exit
        f.write(bytes.fromhex("b700000000000000") + bytes.fromhex("9500000000000000"))
    udp = bytes(12) + bytes.fromhex("0800" "4500001c00000000401100007f0000017f000001" "0035003500080000")
    with open(paths["x.pcap"], "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for second in (1, 2):
            f.write(struct.pack("<IIII", second, 0, len(udp), len(udp)) + udp)
    with open(paths["x.c"], "w") as f:
        f.write(SOCKET_FILTER_C)
    if shutil.which("clang-14"):
        subprocess.run(["clang-14", "-target", "bpf", "-O2", "-c", paths["x.c"], "-o", paths["x.o"]], check=True)
    else:
        del paths["x.o"]
    return paths


def cases(paths: dict[str, str], root: bool) -> list[tuple[str, list[str], list[str] | None]]:
    """(label, pybpf arguments, the reference tool's command or None) for every case."""
    out = paths["out"]
    listed: list[tuple[str, list[str], list[str] | None, bool]] = [
        ("--version", ["--version"], ["tcpdump", "--version"], False),
        ("--help", ["--help"], None, False),
        ("run --engine vm", ["run", paths["x.bin"], "--engine", "vm"], None, False),
        ("run --engine kernel", ["run", paths["x.bin"], "--engine", "kernel"], None, True),
        ("load --engine vm", ["load", paths.get("x.o", ""), "--engine", "vm"], None, False),
        ("asm", ["asm", paths["x.s"], "-o", out], None, False),
        ("disasm", ["disasm", paths["x.bin"]], None, False),
        ("probe --help", ["probe", "--help"], None, False),
        ("prog list", ["prog", "list"], ["bpftool", "prog", "list"], True),
        ("map list", ["map", "list"], ["bpftool", "map", "list"], True),
        ("filter -d", ["filter", "-r", paths["x.pcap"], "-d", "udp"], ["tcpdump", "-r", paths["x.pcap"], "-d", "udp"],
         False),
        ("filter -r -w", ["filter", "-r", paths["x.pcap"], "-w", out, "udp"],
         ["tcpdump", "-r", paths["x.pcap"], "-w", out, "udp"], False),
        ("cc --help", ["cc", "--help"], None, False),
        ("btf dump --help", ["btf", "dump", "--help"], None, False),
        ("verify", ["verify", paths["x.bin"]], None, False),
        ("replay", ["replay", paths["x.bin"], "--type", "socket_filter", "-r", paths["x.pcap"]], None, False),
        ("trace BEGIN{exit()}", ["trace", "-e", "BEGIN { exit(); }"], ["bpftrace", "-e", "BEGIN { exit(); }"], True),
        ("tool --list", ["tool", "--list"], None, False),
        ("record --help", ["record", "--help"], None, False),
        ("report --help", ["report", "--help"], None, False),
        ("export --help", ["export", "--help"], None, False),
    ]
    chosen = []
    for label, arguments, reference, needs_root in listed:
        if (needs_root and not root) or "" in arguments:
            continue
        if reference is not None and not shutil.which(reference[0]):
            reference = None
        chosen.append((label, arguments, reference))
    return chosen


def wall(command: list[str], env: dict[str, str] | None, cpu: bool = False) -> float:
    """Seconds from start to exit of one run (``cpu``: the CPU seconds it used, user and
    system, which the machine's other work moves less); a failing run stops the benchmark."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, error = process.communicate()
    elapsed = time.perf_counter() - start
    if process.returncode != 0:
        raise SystemExit(f"failed ({process.returncode}): {' '.join(command)}\n{error.decode(errors='replace')}")
    if cpu:
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return after.ru_utime - used.ru_utime + after.ru_stime - used.ru_stime
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9, help="runs of each case (the best is kept)")
    parser.add_argument("--only", help="comma-separated labels' first words (e.g. asm,disasm,prog)")
    parser.add_argument("--baseline", metavar="SRC",
                        help="also run each pybpf case with PYTHONPATH=SRC (another checkout's src, e.g. an "
                             "older commit's), in the same rounds, and print the ratio to it")
    parser.add_argument("--cpu", action="store_true",
                        help="best CPU time (user + system) of each case instead of wall time")
    args = parser.parse_args()
    import compileall

    import pybpf
    compileall.compile_dir(os.path.dirname(pybpf.__file__), quiet=1)
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    envs: dict[str, dict[str, str]] = {}
    python = [sys.executable, "-c", LAUNCH]
    with tempfile.TemporaryDirectory(prefix="pybpf-startup-") as directory:
        if args.baseline:   # its own disk cache: entries keyed by the sources would evict each other's
            compileall.compile_dir(os.path.join(args.baseline, "pybpf"), quiet=1)
            envs["baseline"] = dict(env, PYTHONPATH=args.baseline, PYBPF_CACHE=os.path.join(directory, "cache"))
        chosen = cases(write_inputs(directory), os.geteuid() == 0)
        if args.only:
            wanted = set(args.only.split(","))
            chosen = [case for case in chosen if case[0].split()[0] in wanted or case[0] in wanted]
        commands: dict[str, list[str]] = {"python -c pass": [sys.executable, "-c", "pass"]}
        for label, arguments, reference in chosen:
            commands[label] = [*python, *arguments]
            if args.baseline:
                commands[f"baseline: {label}"] = [*python, *arguments]
            if reference is not None:
                commands[f"ref: {label}"] = reference
        best = {label: float("inf") for label in commands}
        for _ in range(args.runs):
            for label, command in commands.items():
                best[label] = min(best[label], wall(command, envs.get(label.partition(":")[0], env), args.cpu))
    base = best["python -c pass"]
    print(f"best of {args.runs}, {'CPU' if args.cpu else 'wall'}; python -c pass {base * 1e3:.1f} ms")
    print(f"{'pybpf ...':<22} {'ms':>6} {'x python':>9}" + ("   baseline" if args.baseline else "") + "   reference")
    for label, _, reference in chosen:
        ours = best[label]
        line = f"{label:<22} {ours * 1e3:6.1f} {ours / base:8.2f}x"
        if args.baseline:
            before = best[f"baseline: {label}"]
            line += f"   {before * 1e3:6.1f} ms: {ours / before:.2f}x"
        if reference is not None:
            theirs = best[f"ref: {label}"]
            shown = " ".join(os.path.basename(part) if os.sep in part else part for part in reference)
            line += f"   {shown} {theirs * 1e3:.1f} ms: {ours / theirs:.2f}x"
        print(line)

if __name__ == "__main__":
    main()
