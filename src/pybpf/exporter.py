"""A Prometheus exporter of BPF maps (``pybpf export CONFIG``), in the spirit of
cloudflare/ebpf_exporter: a TOML file names C programs (compiled by pybpf.toolchain,
loaded into the kernel, attached by their section names) and the maps to serve as
metrics; prometheus_client serves them over HTTP, read from the maps at every scrape.

    port = 9435                      # address = "127.0.0.1" by default
    [[program]]
    name = "syscalls"
    source = "syscalls.c"            # relative to the config file
    [[metric]]
    program = "syscalls"
    map = "counts"
    name = "syscalls_total"
    help = "System calls by name"
    type = "counter"                 # counter | gauge | histogram
    labels = [{ name = "syscall", decoder = "syscall" }]

Labels come from the map key, decoded through the map's BTF: a scalar key is one label,
a struct key gives one label per ``field``. Decoders: ``int``, ``string`` (char arrays,
e.g. comm), ``syscall`` (x86-64 syscall names), ``ksym`` (kernel symbol of an address),
``ipv4`` (a u32 in network order). A ``histogram`` map's key has a log2 ``slot`` field (or
is the slot) as ``pybpf.output.log2_bucket`` numbers them; its buckets become cumulative
``le`` bounds of 2^k.
"""

from __future__ import annotations

import ipaddress
import socket
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pybpf.errors import PybpfError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

METRIC_TYPES = ("counter", "gauge", "histogram")


class ExporterError(PybpfError):
    """A configuration the exporter cannot serve, with where and why."""


@dataclass(frozen=True)
class Label:
    name: str
    decoder: str = "int"
    field: str | None = None


@dataclass(frozen=True)
class Metric:
    program: str
    map: str
    name: str
    help: str
    type: str
    labels: tuple[Label, ...]


def _decoders() -> dict[str, Any]:
    from functools import lru_cache

    from pybpf.symbols import SymbolError
    from pybpf.symbols.kallsyms import KernelSymbols
    from pybpf.tools.syscount import syscall_names

    kernel = lru_cache(maxsize=1)(KernelSymbols.load)

    def ksym(value: int) -> str:
        try:
            return str(kernel().locate(int(value))).split(" [")[0].split("+")[0]
        except SymbolError:      # an address outside any symbol still gets a label
            return f"0x{int(value):x}"

    return {
        "int": lambda v: str(int(v)),
        "string": lambda v: v.split(b"\0", 1)[0].decode(errors="replace") if isinstance(v, bytes) else str(v),
        "syscall": lambda v: syscall_names().get(int(v), str(int(v))),
        "ksym": ksym,
        "ipv4": lambda v: str(ipaddress.IPv4Address(socket.ntohl(int(v)))),
    }


DECODERS = ("int", "string", "syscall", "ksym", "ipv4")


def read_config(path: str | Path) -> tuple[dict, list[tuple[str, Path]], list[Metric]]:
    """(server settings, [(program name, C file)], metrics) from a TOML file."""
    path = Path(path)
    try:
        config = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ExporterError(f"{path}: {exc}") from None
    programs = []
    for index, program in enumerate(config.get("program", [])):
        if "name" not in program or "source" not in program:
            raise ExporterError(f"{path}: program {index + 1} needs 'name' and 'source'")
        programs.append((program["name"], (path.parent / program["source"]).resolve()))
    known = {name for name, _ in programs}
    metrics = []
    for index, metric in enumerate(config.get("metric", [])):
        where = f"{path}: metric {index + 1}"
        missing = [key for key in ("program", "map", "name", "help", "type") if key not in metric]
        if missing:
            raise ExporterError(f"{where} needs {', '.join(missing)}")
        if metric["program"] not in known:
            raise ExporterError(f"{where}: no program named {metric['program']!r}")
        if metric["type"] not in METRIC_TYPES:
            raise ExporterError(f"{where}: type {metric['type']!r}, expected one of {', '.join(METRIC_TYPES)}")
        labels = []
        for label in metric.get("labels", []):
            if label.get("decoder", "int") not in DECODERS:
                raise ExporterError(f"{where}: label decoder {label.get('decoder')!r}, expected one of {', '.join(DECODERS)}")
            labels.append(Label(label["name"], label.get("decoder", "int"), label.get("field")))
        metrics.append(Metric(metric["program"], metric["map"], metric["name"], metric["help"], metric["type"],
                              tuple(labels)))
    if not metrics:
        raise ExporterError(f"{path}: no [[metric]] to export")
    return {"port": config.get("port", 9435), "address": config.get("address", "127.0.0.1")}, programs, metrics


class MapCollector:
    """A prometheus_client collector reading every metric's map at each scrape."""

    def __init__(self, metrics: list[Metric], maps: dict[tuple[str, str], Any]):
        self.metrics, self.maps, self.decoders = metrics, maps, _decoders()

    def _labels(self, metric: Metric, key: Any) -> list[str]:
        return [self.decoders[label.decoder](getattr(key, label.field) if label.field else key)
                for label in metric.labels]

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        for metric in self.metrics:
            names = [label.name for label in metric.labels]
            items = list(self.maps[metric.program, metric.map].items())
            family: HistogramMetricFamily | CounterMetricFamily | GaugeMetricFamily
            if metric.type == "histogram":
                family = histogram = HistogramMetricFamily(metric.name, metric.help, labels=names)
                groups: dict[tuple[str, ...], dict[int, int]] = {}
                for key, count in items:
                    slot = int(getattr(key, "slot", key))
                    groups.setdefault(tuple(self._labels(metric, key)), {})[slot] = int(count)
                for labels, slots in sorted(groups.items()):
                    buckets, total = [], 0
                    for slot in range(1, max(slots) + 1):
                        total += slots.get(slot, 0)
                        bound = 0 if slot == 1 else (1 << (slot - 1)) - 1     # the slot's largest value
                        buckets.append((str(float(bound)), total))
                    buckets.append(("+Inf", total))
                    histogram.add_metric(list(labels), buckets, sum_value=None)
            else:
                cls = CounterMetricFamily if metric.type == "counter" else GaugeMetricFamily
                family = scalar = cls(metric.name, metric.help, labels=names)
                for key, value in sorted(items, key=lambda item: str(item[0])):
                    scalar.add_metric(self._labels(metric, key), int(value))
            yield family


def serve(config_path: str | Path, *, port: int | None = None) -> None:
    """Load the programs, register the collector and serve until Ctrl-C."""
    import time

    from prometheus_client import start_http_server
    from prometheus_client.core import CollectorRegistry

    from pybpf.engine import load
    from pybpf.kernel.attach import attach
    from pybpf.object.elf import load_object
    from pybpf.toolchain import compile_c

    settings, programs, metrics = read_config(config_path)
    loaded_all, links, maps = [], [], {}
    try:
        for name, source in programs:
            loaded = load(load_object(compile_c(source), name=name[:15]), engine="kernel")
            loaded_all.append(loaded)
            links += [attach(program) for program in loaded.programs.values()]
            for map_name, bpf_map in loaded.maps.items():
                maps[name, map_name] = bpf_map
        for metric in metrics:
            if (metric.program, metric.map) not in maps:
                raise ExporterError(f"program {metric.program!r} has no map {metric.map!r}")
        registry = CollectorRegistry()
        registry.register(MapCollector(metrics, maps))
        start_http_server(port if port is not None else settings["port"], settings["address"], registry=registry)
        print(f"serving metrics on http://{settings['address']}:{port if port is not None else settings['port']}/metrics",
              flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    finally:
        for link in links:
            link.close()
        for loaded in loaded_all:
            loaded.close()
