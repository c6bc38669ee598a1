"""Python's USDT probes (``python:function__entry``/``function__return``: file name,
function name, line) in a running interpreter, as BCC's ucalls/uflow use them with
``-l python``: where the probes are (the executable, or a mapped libpython), and one C
program for both tools — events per call and return (pythonflow) or per-function counts
and times in a hash map (pythoncalls). Arguments are read with :func:`pybpf.usdt.c_reader`
for each probe site; the site is the attach cookie (:func:`pybpf.kernel.attach.attach_usdt`
raises the probes' semaphore, so the interpreter fires them).

CPython 3.11 (Debian 12's python3) fires ``function__entry`` only while its ``line``
probe's semaphore is raised, which attaching the entry probe does
(:mod:`pybpf.usdt.companions`); calls are counted at their return either way, and
entries give the depths and the times of ``-L``."""

from __future__ import annotations

import os

from pybpf.tools.events import EventLayout, ToolError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
    from typing import Any
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

PROBES = ("function__entry", "function__return")
CLASS_SIZE, METHOD_SIZE = 128, 64
LAYOUT = EventLayout((("pid", "u32"), ("tid", "u32"), ("cpu", "u32"), ("depth", "u64"),
                      ("clazz", f"str:{CLASS_SIZE}"), ("method", f"str:{METHOD_SIZE}")))

_HANDLER = r"""
struct ckey { char clazz[CLASS_SIZE]; char method[METHOD_SIZE]; };
struct cvalue { u64 calls; u64 total_ns; };
struct tkey { u64 tid; u64 depth; };
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, u64); __type(value, u64); } depths SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, struct tkey); __type(value, u64); } starts SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 10240); __type(key, struct ckey); __type(value, struct cvalue); } calls SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, struct ckey); } scratch SEC(".maps");

static __always_inline int handle(struct pt_regs *ctx, int is_return)
{
    u64 id = bpf_get_current_pid_tgid(), zero = 0, *found, depth;
    u32 slot = 0;
    long clazz = 0, method = 0;
    if ((id >> 32) != FILTER_PID)
        return 0;
    if (read_argument(ctx, is_return, 0, &clazz) || read_argument(ctx, is_return, 1, &method))
        return 0;
    found = bpf_map_lookup_elem(&depths, &id);
    depth = found ? *found : 0;
    if (!is_return)
        depth++;
#if FLOW
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (e) {
        e->ts = bpf_ktime_get_ns();
        e->pid = id >> 32;
        e->tid = (u32)id;
        e->cpu = bpf_get_smp_processor_id();
        e->depth = depth | ((u64)is_return << 63);
        bpf_probe_read_user_str(e->clazz, sizeof(e->clazz), (void *)clazz);
        bpf_probe_read_user_str(e->method, sizeof(e->method), (void *)method);
        bpf_ringbuf_submit(e, 0);
    }
#else
    struct ckey *key = bpf_map_lookup_elem(&scratch, &slot);
    if (!key)
        return 0;
    __builtin_memset(key, 0, sizeof(*key));
    bpf_probe_read_user_str(key->clazz, sizeof(key->clazz), (void *)clazz);
    bpf_probe_read_user_str(key->method, sizeof(key->method), (void *)method);
    struct tkey start_key = { .tid = (u32)id, .depth = depth };
    if (!is_return) {
        if (LATENCY) {
            u64 now = bpf_ktime_get_ns();
            bpf_map_update_elem(&starts, &start_key, &now, BPF_ANY);
        }
    } else {
        /* counted at return: the probe that always fires */
        u64 delta = 0, *start;
        if (LATENCY) {
            start = bpf_map_lookup_elem(&starts, &start_key);
            if (!start)
                goto depth;
            delta = bpf_ktime_get_ns() - *start;
            bpf_map_delete_elem(&starts, &start_key);
        }
        struct cvalue *value = bpf_map_lookup_elem(&calls, key), first = { 1, delta };
        if (value) {
            __sync_fetch_and_add(&value->calls, 1);
            __sync_fetch_and_add(&value->total_ns, delta);
        } else {
            bpf_map_update_elem(&calls, key, &first, BPF_NOEXIST);
        }
    }
depth:
#endif
    if (is_return)
        depth = depth ? depth - 1 : 0;
    bpf_map_update_elem(&depths, &id, &depth, BPF_ANY);
    return 0;
}

SEC("usdt")
int on_entry(struct pt_regs *ctx) { return handle(ctx, 0); }

SEC("usdt")
int on_return(struct pt_regs *ctx) { return handle(ctx, 1); }
LICENSE("GPL");
"""


def probes_of(pid: int) -> tuple[str, dict[str, list[Any]]]:
    """The file of process ``pid`` holding Python's function probes (its executable, else
    a mapped libpython), and each probe's sites."""
    from pybpf.usdt import UsdtError, read_probes

    try:
        executable = os.readlink(f"/proc/{pid}/exe")
        with open(f"/proc/{pid}/maps") as file:
            maps = file.read()
    except OSError:
        raise ToolError(f"no process {pid}") from None
    candidates = [executable] + sorted({line.split(None, 5)[5] for line in maps.splitlines()
                                        if line.count(" ") >= 5 and "libpython" in line.rsplit("/", 1)[-1]})
    for path in candidates:
        try:
            found = [p for p in read_probes(f"/proc/{pid}/root{path}") if p.provider == "python"]
        except (UsdtError, OSError):
            continue
        sites = {name: [p for p in found if p.name == name] for name in PROBES}
        if all(sites.values()):
            return f"/proc/{pid}/root{path}", sites
    raise ToolError(f"process {pid} ({executable}) has no python:function__entry USDT probes "
                    f"(a Python built with --with-dtrace has them, as Debian's /usr/bin/python3.11 does)")


@dataclass(frozen=True)
class PythonProbes:
    """The C program tracing process ``pid``'s function calls, its defines, the binary
    with the probes and how many sites each probe has."""

    pid: int
    program: str
    defines: dict[str, int]
    binary: str
    sites: dict[str, int]

    def attach(self, loaded: Any) -> list[Any]:
        """Entry and return programs at every site of their probes, the site's index as
        cookie (what ``read_argument`` dispatches on)."""
        from pybpf.kernel.attach import attach_usdt

        links: list[Any] = []
        try:
            for program, name in (("on_entry", PROBES[0]), ("on_return", PROBES[1])):
                links.append(attach_usdt(loaded.programs[program].fd, self.binary, name, "python", pid=self.pid,
                                         cookies=range(self.sites[name])))
        except BaseException:
            for link in links:
                link.close()
            raise
        return links


def python_probes(pid: int, flow: bool, latency: bool = False) -> PythonProbes:
    """The program for process ``pid``: events (``flow``) or counts (and times)."""
    from pybpf.usdt import c_reader

    binary, sites = probes_of(pid)
    readers: list[str] = []
    cases: dict[int, list[str]] = {0: [], 1: []}
    for is_return, name in enumerate(PROBES):
        for index, site in enumerate(sites[name]):
            reader = f"arg_{'return' if is_return else 'entry'}_{index}"
            readers.append(c_reader(site, reader))
            cases[is_return].append(f"        case {index}: return {reader}(ctx, n, value);\n")
    dispatch = ("static __always_inline long read_argument(struct pt_regs *ctx, int is_return, int n, long *value)\n{\n"
                "    u64 site = bpf_get_attach_cookie(ctx);\n    if (is_return) {\n        switch (site) {\n"
                + "".join(cases[1]) + "        }\n    } else {\n        switch (site) {\n" + "".join(cases[0]) +
                "        }\n    }\n    return -2;\n}\n")
    # the event tools' stream() adds the includes and struct event; the counting program needs its own
    prefix = "" if flow else "#include <vmlinux.h>\n#include <pybpf/bpf.h>\n"
    defines = {"FILTER_PID": pid, "FLOW": int(flow), "LATENCY": int(latency), "CLASS_SIZE": CLASS_SIZE,
               "METHOD_SIZE": METHOD_SIZE}
    return PythonProbes(pid, prefix + "\n".join(readers) + dispatch + _HANDLER, defines, binary,
                        {name: len(found) for name, found in sites.items()})
