"""BCC scripts run unmodified under ``python -m pybpf.bcc`` while the test makes the
events they report happen (root only: they attach to the running kernel).

The seed scripts are in tests/bcc/scripts/. BCC's own tools and examples are read as
Debian's bpfcc-tools package installs them (``.ci/run`` installs it: a reference, never
used by pybpf), the examples it does not ship from tests/data/bcc-examples (vendored), or
from a BCC checkout — ``PYBPF_BCC_REPO`` (a work tree or a bare git dir), or the mirror
the research tools fetch to; a script in none of those is skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shared_data import SHARED

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="BCC scripts attach to the kernel: root only")

HERE = Path(__file__).parent
#: BCC checkouts to read scripts from: the examples Debian does not ship are vendored first
_REPOS = [str(SHARED / "bcc-examples"), os.environ.get("PYBPF_BCC_REPO", ""), "/work/.mirror/iovisor+bcc/repo"]


#: where Debian's bpfcc-tools package puts BCC's scripts (``.ci/run`` installs it): the
#: tools as /usr/sbin/NAME-bpfcc, the examples under its doc directory
_DEBIAN = Path(os.environ.get("PYBPF_BCC_DEBIAN_ROOT", "/"))


def _debian_script(path: str) -> Path:
    """Where Debian's bpfcc-tools keeps BCC's ``path`` (tools/NAME.py, examples/...)."""
    if path.startswith("tools/lib/"):     # the language tools' scripts (pythoncalls-bpfcc runs ucalls)
        return _DEBIAN / "usr" / "sbin" / Path(path).stem
    if path.startswith("tools/"):
        return _DEBIAN / "usr" / "sbin" / f"{Path(path).stem}-bpfcc"
    return _DEBIAN / "usr" / "share" / "doc" / "bpfcc-tools" / path


def _bcc_script(path: str, tmp_path: Path) -> Path:
    """BCC's ``path`` (e.g. tools/execsnoop.py): from a checkout, copied into ``tmp_path``,
    or as Debian's bpfcc-tools package installs it."""
    if _debian_script(path).is_file():
        return _debian_script(path)
    for repo in filter(None, _REPOS):
        if (Path(repo) / path).is_file():
            return Path(repo) / path
        if (Path(repo) / "HEAD").is_file():
            shown = subprocess.run(["git", "--git-dir", repo, "show", f"HEAD:{path}"], capture_output=True, check=False)
            if shown.returncode == 0:
                target = tmp_path / Path(path).name
                target.write_bytes(shown.stdout)
                return target
    pytest.skip(f"no BCC script {path}: install Debian's bpfcc-tools (.ci/run does) or set PYBPF_BCC_REPO")


def _run(script: Path, args: list[str], trigger, ready: str, stop_after: float = 4.0, interrupt: bool = True,
         netns: str = "", until=None, cwd: Path | None = None) -> str:
    """Run the script (in network namespace ``netns``, from ``cwd`` or the script's directory),
    trigger events once it printed ``ready``, stop it with SIGINT ``stop_after``
    seconds later (as a user's Ctrl-C) — or as soon as what it printed satisfies
    ``until(text)``, for a script that prints each event as it comes — or, without
    ``interrupt``, let it end by itself; return what it printed."""
    import pybpf  # the script runs with this pybpf, wherever its directory is

    path = os.pathsep.join([str(Path(pybpf.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}
    prefix = ["ip", "netns", "exec", netns] if netns else []
    process = subprocess.Popen([*prefix, sys.executable, "-m", "pybpf.bcc", str(script), *args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                               cwd=cwd or script.parent)
    lines: list[str] = []
    started = threading.Event()

    def read() -> None:
        for line in process.stdout:
            lines.append(line)
            if ready in line:
                started.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if ready:                 # a script that prints nothing before its first event is triggered at once,
            assert started.wait(90), "".join(lines)
        else:                     # for as long as it takes to compile, attach and print
            deadline = time.time() + 90
            while not lines and time.time() < deadline and process.poll() is None:
                trigger()
                time.sleep(0.3)
        deadline = time.time() + stop_after
        while time.time() < deadline and not (until and until("".join(lines))):
            trigger()
            time.sleep(0.3)
        if interrupt:
            process.send_signal(signal.SIGINT)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
        reader.join(10)
    return "".join(lines)


def test_hello_world():
    out = _run(HERE / "scripts" / "hello_world.py", [], lambda: subprocess.run(["sh", "-c", "true & wait"], check=True),
               ready="", stop_after=3, until=lambda out: "bpf_trace_printk: Hello, World!" in out)
    assert "bpf_trace_printk: Hello, World!" in out


def test_tracepoint_program(tmp_path):
    probe = tmp_path / "bcc-tracepoint-probe"
    probe.write_text("x")
    out = _run(HERE / "scripts" / "tracepoint_open.py", ["3"], lambda: probe.read_text(), ready="PID", stop_after=1,
               interrupt=False)
    assert any(line.split()[-1] == str(probe) for line in out.splitlines() if line.split())
    assert "     flags               : count     distribution" in out


def test_bash_readline_uretprobe():
    if shutil.which("script") is None or not os.path.exists("/bin/bash"):
        pytest.skip("needs bash and script (util-linux) to type into an interactive bash")
    typed = "echo pybpf-bcc-readline"
    out = _run(HERE / "scripts" / "bash_readline.py", ["3"], lambda: subprocess.run(
        ["script", "-q", "-c", "bash --norc --noprofile -i", "/dev/null"], input=f"{typed}\nexit\n",
        capture_output=True, text=True, timeout=10, check=True), ready="COMMAND", stop_after=1, interrupt=False)
    assert any(line.endswith(typed) for line in out.splitlines())


def test_usdt_probe():
    python = "/usr/bin/python3.11"
    if not os.path.exists(python):
        pytest.skip(f"{python} (with USDT probes) is not installed")
    out = _run(HERE / "scripts" / "usdt_imports.py", [python, "3"],
               lambda: subprocess.run([python, "-c", "import json, csv"], check=True), ready="MODULE", stop_after=1, interrupt=False)
    modules = {line.split()[-1] for line in out.splitlines()[1:] if len(line.split()) == 2}
    assert {"json", "csv"} <= modules


def test_ucalls_counts_python_function_entries(tmp_path, python_calls):
    out = _run(_bcc_script("tools/lib/ucalls.py", tmp_path), ["-l", "python", str(python_calls.pid)],
               lambda: python_calls.ask_once(1000, 500), ready="Ctrl-C", stop_after=0.7)
    script = python_calls.script
    counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert counts.get(f"{script}.pybpf_outer") == 1000 and counts.get(f"{script}.pybpf_inner") == 1500, out


def test_execsnoop(tmp_path):
    def execs(out: str) -> list[list[str]]:
        return [row for row in map(str.split, out.splitlines()) if row[:1] == ["echo"] and row[-1] == "pybpf-bcc-exec"]

    out = _run(_bcc_script("tools/execsnoop.py", tmp_path), [], lambda: subprocess.run(
        ["/bin/echo", "pybpf-bcc-exec"], capture_output=True, check=True), ready="ARGS", until=execs)
    ours = execs(out)
    assert ours, out
    assert ours[0][3] == "0" and ours[0][4] == "/bin/echo" and int(ours[0][2]) == os.getpid()


def test_opensnoop(tmp_path):
    probe = tmp_path / "bcc-opensnoop-probe"
    probe.write_text("x")
    def opened(out: str) -> bool:
        return any(line.split()[-1] == str(probe) and line.split()[0] == str(os.getpid())
                   for line in out.splitlines() if line.split())

    out = _run(_bcc_script("tools/opensnoop.py", tmp_path), ["-p", str(os.getpid())], lambda: probe.read_text(),
               ready="PATH", until=opened)
    assert opened(out)


def test_syscount(tmp_path):
    out = _run(_bcc_script("tools/syscount.py", tmp_path), ["-p", str(os.getpid())],
               lambda: [os.getppid() for _ in range(500)], ready="Ctrl+C", stop_after=0.7)
    counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert counts.get("getppid", 0) >= 500, out


def test_killsnoop(tmp_path):
    def trigger() -> None:
        child = subprocess.Popen(["sleep", "30"])
        child.send_signal(signal.SIGTERM)
        child.wait()

    def killed(out: str) -> bool:
        return any(line.split()[3:4] == ["15"] and line.split()[1] == str(os.getpid()) and line.split()[-1] == "0"
                   for line in out.splitlines() if len(line.split()) >= 6)

    out = _run(_bcc_script("tools/killsnoop.py", tmp_path), [], trigger, ready="RESULT", until=killed)
    assert killed(out)


def test_hello_perf_output(tmp_path):
    out = _run(_bcc_script("examples/tracing/hello_perf_output.py", tmp_path), [],
               lambda: subprocess.run(["sh", "-c", "true & wait"], check=True), ready="MESSAGE", stop_after=3,
               until=lambda out: "Hello, perf_output!" in out)
    assert "Hello, perf_output!" in out


def _getppids() -> None:
    for _ in range(300):
        os.getppid()


def test_trace_uretprobe_with_return_value(tmp_path):
    def returns(out: str) -> list[list[str]]:
        return [line.split() for line in out.splitlines()[1:] if len(line.split()) == 5]

    out = _run(_bcc_script("tools/trace.py", tmp_path), ["-p", str(os.getpid()), 'r:c:getppid "%d", retval'],
               _getppids, ready="FUNC", until=returns)
    rows = returns(out)
    assert rows and all(row[0] == str(os.getpid()) and row[3] == "getppid" for row in rows), out
    assert {row[4] for row in rows} == {str(os.getppid())}


def test_trace_prints_a_syscall_tracepoints_user_string(tmp_path):
    # "%s" of args->filename: trace.py reads it with bpf_probe_read_kernel (empty in BCC)
    target = Path(f"/tmp/bcc-trace-openat-{os.getpid()}")   # shorter than trace.py's 80-byte strings
    target.write_text("x")
    try:
        out = _run(_bcc_script("tools/trace.py", tmp_path),
                   ["-p", str(os.getpid()), f't:syscalls:sys_enter_openat (STRCMP("{target}", args->filename)) '
                                            '"%s", args->filename'],
                   target.read_text, ready="FUNC", until=lambda out: "sys_enter_openat" in out.split("\n", 1)[-1])
    finally:
        target.unlink()
    rows = [line.split() for line in out.splitlines()[1:] if "sys_enter_openat" in line]
    assert rows and all(row[0] == str(os.getpid()) and row[-1] == str(target) for row in rows), out


def test_funccount_on_tracepoints_by_pattern(tmp_path):
    out = _run(_bcc_script("tools/funccount.py", tmp_path), ["-p", str(os.getpid()), "t:syscalls:sys_enter_getpp*"],
               _getppids, ready="Ctrl-C", stop_after=0.7)
    counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert counts.get("syscalls:sys_enter_getppid", 0) >= 300, out


def test_funccount_on_an_ifunc_symbol(tmp_path):
    # strlen is an IFUNC in glibc: funccount attaches at get_user_functions_and_addresses'
    # address, which must be the implementation the loader picked, not the resolver
    import ctypes

    libc, text = ctypes.CDLL(None), ctypes.create_string_buffer(b"pybpf-bcc")
    out = _run(_bcc_script("tools/funccount.py", tmp_path), ["-p", str(os.getpid()), "c:strlen"],
               lambda: [libc.strlen(text) for _ in range(300)], ready="Ctrl-C", stop_after=0.7)
    counts = {line.split()[0]: int(line.split()[1]) for line in out.splitlines()
              if len(line.split()) == 2 and line.split()[1].isdigit()}
    assert counts.get("strlen", 0) >= 300, out


def test_funclatency_on_a_uprobe(tmp_path):
    out = _run(_bcc_script("tools/funclatency.py", tmp_path), ["-u", "-p", str(os.getpid()), "c:getppid"],
               _getppids, ready="Ctrl-C", stop_after=0.7)
    counts = [int(line.split(":")[1].split()[0]) for line in out.splitlines() if "->" in line and ":" in line]
    assert sum(counts) >= 300, out


def test_argdist_histogram_of_a_tracepoint_field(tmp_path):
    def reads() -> None:
        with open("/proc/self/stat", "rb", buffering=0) as f:
            for _ in range(50):
                f.seek(0)
                f.read(100)

    def reads_of_64_to_127(out: str) -> int:      # 100-byte reads land in the 64 -> 127 bucket
        rows = {line.split("->")[0].strip(): int(line.split(":")[1].split()[0]) for line in out.splitlines()
                if "->" in line and ":" in line and "args" not in line}
        return rows.get("64", 0)

    out = _run(_bcc_script("tools/argdist.py", tmp_path),
               ["-p", str(os.getpid()), "-i", "1", "-H", "t:syscalls:sys_enter_read():u64:args->count"],
               reads, ready="args->count", until=lambda out: reads_of_64_to_127(out) >= 50)
    assert reads_of_64_to_127(out) >= 50, out


@pytest.fixture
def bcc_veth():
    """A veth pair pbbccNa/pbbccNb (10.79.0.1/24 on the first; the second's MAC as its
    neighbour), removed afterwards."""
    if shutil.which("ip") is None:
        pytest.skip("needs iproute2's ip")
    a, b = f"pbbcc{os.getpid() % 10000}a", f"pbbcc{os.getpid() % 10000}b"
    subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b], check=True)
    try:
        subprocess.run(["ip", "addr", "add", "10.79.0.1/24", "dev", a], check=True)
        for name in (a, b):
            subprocess.run(["ip", "link", "set", name, "up"], check=True)
        mac = Path(f"/sys/class/net/{b}/address").read_text().strip()
        subprocess.run(["ip", "neigh", "replace", "10.79.0.2", "lladdr", mac, "dev", a], check=True)
        yield a, b
    finally:
        subprocess.run(["ip", "link", "del", a], check=False)


def test_xdp_drop_count_on_a_veth(tmp_path, bcc_veth):
    import socket

    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def udp() -> None:
        for _ in range(20):
            sender.sendto(b"x", ("10.79.0.2", 9))

    def udp_drops(out: str) -> int:        # UDP (IP protocol 17) packets dropped on the peer, a line a second
        return sum(int(line.split()[1]) for line in out.splitlines() if line.startswith("17: "))

    try:
        out = _run(_bcc_script("examples/networking/xdp/xdp_drop_count.py", tmp_path), ["-S", bcc_veth[1]], udp,
                   ready="Printing drops", until=lambda out: udp_drops(out) >= 20)
    finally:
        sender.close()
    assert udp_drops(out) >= 20, out
    assert "Removing filter from device" in out


@pytest.fixture
def bcc_netns_pair():
    """Network namespaces pbbccN-a and pbbccN-b joined by a veth pair (an end in each:
    veth-a 10.79.1.1/24, veth-b 10.79.1.2/24), removed afterwards."""
    if shutil.which("ip") is None:
        pytest.skip("needs iproute2's ip")
    ns_a, ns_b = (f"pbbcc{os.getpid() % 10000}-{side}" for side in "ab")
    created = []
    try:
        for ns in (ns_a, ns_b):
            subprocess.run(["ip", "netns", "add", ns], check=True)
            created.append(ns)
        subprocess.run(["ip", "link", "add", "veth-a", "netns", ns_a, "type", "veth", "peer", "name", "veth-b",
                        "netns", ns_b], check=True)
        for ns, dev, address in ((ns_a, "veth-a", "10.79.1.1/24"), (ns_b, "veth-b", "10.79.1.2/24")):
            subprocess.run(["ip", "-n", ns, "addr", "add", address, "dev", dev], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", dev, "up"], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        yield ns_a, ns_b
    finally:
        for ns in created:
            subprocess.run(["ip", "netns", "del", ns], check=False)


HTTP_SERVER = """
import socket
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("10.79.1.1", 8080))
server.listen(16)
print("listening", flush=True)
while True:
    conn, _ = server.accept()
    conn.recv(4096)
    conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n")
    conn.close()
"""

HTTP_CLIENT = """
import socket
with socket.create_connection(("10.79.1.1", 8080), timeout=5) as c:
    c.sendall(b"GET /pybpf-bcc-http HTTP/1.1\\r\\nHost: bcc\\r\\n\\r\\n")
    c.recv(4096)
"""


@pytest.mark.parametrize("example", ["http-parse-simple", "http-parse-complete"])
def test_http_filter_on_a_veth_between_namespaces(tmp_path, bcc_netns_pair, example):
    # BCC's packet-cursor dialect: cursor_advance, proto.h's ethernet_t/ip_t/tcp_t
    ns_a, ns_b = bcc_netns_pair
    script = _bcc_script(f"examples/networking/http_filter/{example}.py", tmp_path)
    program = _bcc_script(f"examples/networking/http_filter/{example}.c", tmp_path)
    if program.parent != script.parent:
        shutil.copy(program, script.parent / program.name)
    server = subprocess.Popen(["ip", "netns", "exec", ns_a, sys.executable, "-c", HTTP_SERVER],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "listening"
        out = _run(script, ["-i", "veth-a"], lambda: subprocess.run(
            ["ip", "netns", "exec", ns_b, sys.executable, "-c", HTTP_CLIENT], check=True, timeout=10),
            ready="binding socket", stop_after=3, netns=ns_a)
    finally:
        server.kill()
        server.wait()
    lines = [line.strip() for line in out.splitlines()]
    assert "GET /pybpf-bcc-http HTTP/1.1" in lines, out
    assert "HTTP/1.1 200 OK" in lines, out
    assert not any(line.startswith(("Traceback", "pybpf")) for line in lines[:lines.index("GET /pybpf-bcc-http HTTP/1.1")]), out
