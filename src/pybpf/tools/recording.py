"""Recording a tool's events to a file (``pybpf record``) and summarising one
(``pybpf report``). Three formats:

* ``jsonl``: a header line ``{"pybpf_record": 1, "tool": ..., "argv": [...]}``, then one
  JSON object per event;
* ``ctf``: a CTF 1.8 trace directory (one event class named after the tool, its fields
  from the tool's event layout, timestamps on a clock whose offset makes them Unix time);
* ``chrome``: Chrome trace-event JSON, one instant per event on its process and thread.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from pybpf.output import ChromeTrace, CtfWriter
from pybpf.tools.events import ToolError, monotonic_to_wall

FORMATS = ("ctf", "chrome", "jsonl")


def record(tool, events: Iterable[dict], path: str | Path, fmt: str, argv: Sequence[str]) -> int:
    """Write ``events`` of ``tool`` to ``path`` in ``fmt``; returns how many were written."""
    path = Path(path)
    count = 0
    if fmt == "jsonl":
        with open(path, "w") as out:
            out.write(json.dumps({"pybpf_record": 1, "tool": tool.name, "argv": list(argv)}) + "\n")
            for event in events:
                out.write(json.dumps(event) + "\n")
                out.flush()
                count += 1
    elif fmt == "ctf":
        layout = tool.layout.ctf_fields()
        with CtfWriter(path, offset_ns=monotonic_to_wall(), environment={"tool": tool.name}) as trace:
            trace.event_class(tool.name, layout)
            for event in events:
                trace.write(tool.name, event["ts"], {key: event[key] for key in layout})
                count += 1
    elif fmt == "chrome":
        trace = ChromeTrace()
        wall = monotonic_to_wall()
        for event in events:
            pid = int(event.get("pid", 0))
            args = {k: v for k, v in event.items() if k not in ("ts", "time")}
            trace.instant(tool.name, event["ts"] + wall, pid=pid, tid=int(event.get("tid", pid)), args=args)
            count += 1
        path.write_text(trace.dumps())
    else:
        raise ToolError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    return count


def _read(path: Path) -> tuple[str, str, list[tuple[float, str, dict]]]:
    """(format, tool, [(unix time, event name, fields)]) of a recording."""
    if path.is_dir():
        if not (path / "metadata").exists():
            raise ToolError(f"{path}: a directory without CTF metadata")
        if shutil.which("babeltrace2") is None:
            raise ToolError(f"{path}: reading CTF needs babeltrace2, which is not installed")
        result = subprocess.run(["babeltrace2", "--clock-seconds", "--no-delta", str(path)], check=False,
                                capture_output=True, text=True)
        if result.returncode:
            raise ToolError(f"{path}: babeltrace2 could not read it: {result.stderr.strip().splitlines()[-1:]}")
        named = re.search(r'^\s*tool = "([^"]*)";', (path / "metadata").read_text(), re.MULTILINE)
        events = []
        for line in result.stdout.splitlines():
            m = re.match(r"\[(\d+\.\d+)\] (\S+): \{ (.*) \}$", line)
            if m:
                fields = dict(re.findall(r'(\w+) = ("(?:[^"\\]|\\.)*"|[^,]+)', m.group(3)))
                events.append((float(m.group(1)), m.group(2), {k: v.strip('"') for k, v in fields.items()}))
        return "ctf", named.group(1) if named else "?", events
    try:
        text = path.read_text()
    except OSError as exc:
        raise ToolError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ToolError(f"{path}: byte {exc.start}: not a pybpf recording (not UTF-8 text)") from None
    if text.startswith("{\"traceEvents\""):
        try:
            document = json.loads(text)
            events = [(e["ts"] / 1e6, e["name"], e.get("args", {})) for e in document["traceEvents"] if e["ph"] != "M"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ToolError(f"{path}: not a Chrome trace pybpf wrote ({type(exc).__name__}: {exc})") from None
        return "chrome", events[0][1] if events else "?", events
    lines = text.splitlines()
    try:
        header = json.loads(lines[0]) if lines else {}
    except json.JSONDecodeError:
        header = {}
    if not isinstance(header, dict) or "pybpf_record" not in header or "tool" not in header:
        raise ToolError(f"{path}: not a pybpf recording (CTF directory, Chrome JSON or pybpf JSON lines)")
    events = []
    for number, line in enumerate(lines[1:], 2):
        try:
            event = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ToolError(f"{path}:{number}: not JSON: {exc.msg}") from None
        if not isinstance(event, dict):
            raise ToolError(f"{path}:{number}: not an event (a JSON object)")
        events.append((event.get("time", 0.0), header["tool"], event))
    return "jsonl", header["tool"], events


def summarize(path: str | Path, top: int = 5) -> str:
    """A short text summary: format, tool, events, time span, busiest commands and pids."""
    fmt, tool, events = _read(Path(path))
    lines = [f"file:     {path} ({fmt})", f"tool:     {tool}", f"events:   {len(events)}"]
    if events:
        times = [t for t, _, _ in events]
        lines.append(f"span:     {max(times) - min(times):.3f} s")
        for key in ("comm", "pid", "path", "syscall"):
            counts = Counter(str(fields[key]) for _, _, fields in events if key in fields)
            if counts:
                lines.append(f"top {key}:")
                lines += [f"  {count:>8}  {value}" for value, count in counts.most_common(top)]
    return "\n".join(lines) + "\n"
