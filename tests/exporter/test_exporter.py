"""``pybpf export``: a config with a counter (syscalls by name), a gauge keyed by a
struct (comm), and a log2 histogram, served over HTTP, scraped and parsed by
prometheus_client's own text parser."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from pybpf.exporter import ExporterError, read_config

parser = pytest.importorskip("prometheus_client.parser", reason="prometheus_client is not installed")
SRC = str(Path(__file__).resolve().parents[2] / "src")

PROGRAM = r"""
#include <pybpf/bpf.h>
struct comm_key { char comm[16]; };
struct slot_key { u32 slot; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1024); __type(key, u32); __type(value, u64); } by_syscall SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1024); __type(key, struct comm_key); __type(value, u64); } by_comm SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 64); __type(key, struct slot_key); __type(value, u64); } sizes SEC(".maps");

static __always_inline void bump(void *map, void *key)
{
    u64 one = 1, *count = bpf_map_lookup_elem(map, key);
    if (count)
        __sync_fetch_and_add(count, 1);
    else
        bpf_map_update_elem(map, key, &one, BPF_NOEXIST);
}

SEC("tracepoint/raw_syscalls/sys_enter")
int on_enter(void *ctx)
{
    if ((bpf_get_current_pid_tgid() >> 32) != TARGET)
        return 0;
    u32 nr = *(long *)((char *)ctx + 8);
    bump(&by_syscall, &nr);
    struct comm_key c = {};
    bpf_get_current_comm(c.comm, sizeof(c.comm));
    bump(&by_comm, &c);
    u64 size = *(u64 *)((char *)ctx + 16 + 2 * 8);   /* args[2]: the count of read/write */
    struct slot_key s = { .slot = 1 };
    for (int i = 0; i < 64 && size; i++) { size >>= 1; s.slot++; }
    if (nr == 0)                                       /* read */
        bump(&sizes, &s);
    return 0;
}
LICENSE("GPL");
"""

CONFIG = """
address = "127.0.0.1"
[[program]]
name = "demo"
source = "demo.c"

[[metric]]
program = "demo"
map = "by_syscall"
name = "pybpf_output_syscalls"
help = "syscalls of the test process by name"
type = "counter"
labels = [{ name = "syscall", decoder = "syscall" }]

[[metric]]
program = "demo"
map = "by_comm"
name = "pybpf_output_comm_syscalls"
help = "syscalls by command"
type = "gauge"
labels = [{ name = "comm", decoder = "string", field = "comm" }]

[[metric]]
program = "demo"
map = "sizes"
name = "pybpf_output_read_bytes"
help = "read() sizes"
type = "histogram"
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(os.geteuid() != 0, reason="the exporter loads BPF programs: root only")
def test_scrape(tmp_path):
    (tmp_path / "demo.c").write_text(PROGRAM.replace("TARGET", str(os.getpid())))
    (tmp_path / "export.toml").write_text(CONFIG)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "pybpf.cli", "export", str(tmp_path / "export.toml"),
                               "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": SRC})
    try:
        assert server.stdout.readline().startswith("serving metrics"), server.stderr.read()
        with open("/dev/zero", "rb") as zero:
            for _ in range(20):
                os.getppid()
                os.read(zero.fileno(), 100)                  # slot of 64..127
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    finally:
        server.terminate()
        server.wait(timeout=30)
    families = {f.name: f for f in parser.text_string_to_metric_families(text)}
    calls = {s.labels["syscall"]: s.value for s in families["pybpf_output_syscalls"].samples
             if s.name == "pybpf_output_syscalls_total"}
    assert calls["getppid"] == 20 and calls["read"] >= 20
    assert families["pybpf_output_syscalls"].type == "counter"
    comms = {s.labels["comm"]: s.value for s in families["pybpf_output_comm_syscalls"].samples}
    assert families["pybpf_output_comm_syscalls"].type == "gauge"
    assert list(comms) == [Path(f"/proc/{os.getpid()}/comm").read_text().strip()] and comms[list(comms)[0]] >= 40
    buckets = {s.labels["le"]: s.value for s in families["pybpf_output_read_bytes"].samples if s.name.endswith("_bucket")}
    assert buckets["63.0"] < buckets["127.0"] and buckets["127.0"] - buckets["63.0"] >= 20
    assert buckets["+Inf"] == max(buckets.values())


def test_config_errors(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[program]]\nname = "p"\nsource = "p.c"\n[[metric]]\nprogram = "q"\nmap = "m"\nname = "n"\nhelp = "h"\ntype = "counter"\n')
    with pytest.raises(ExporterError, match="metric 1: no program named 'q'"):
        read_config(path)
    path.write_text('[[program]]\nname = "p"\nsource = "p.c"\n[[metric]]\nprogram = "p"\nmap = "m"\nname = "n"\nhelp = "h"\ntype = "summary"\n')
    with pytest.raises(ExporterError, match="type 'summary', expected one of counter, gauge, histogram"):
        read_config(path)
    path.write_text("port = \n")
    with pytest.raises(ExporterError, match="bad.toml"):
        read_config(path)
