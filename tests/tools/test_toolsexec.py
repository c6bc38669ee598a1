"""BCC's flags of execsnoop (argv, failures, quoting, line filter, argument count),
opensnoop (full paths, buffer pages) and tcpconnect (DNS names), each run as ``pybpf
tool`` while the test triggers the events."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from test_tools import SRC, _json_lines, run_tool, run_tools
from toolsnet_helpers import netns

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs: root only")


@pytest.fixture
def marker(tmp_path):
    """A shell under a unique name, run with the arguments a test gives it."""
    path = tmp_path / "pybpfexec_t"
    shutil.copy("/bin/sh", path)
    return path


def _rows(out: str) -> list[str]:
    return out.splitlines()[1:]


def _run(*argv) -> None:
    try:
        subprocess.run([str(arg) for arg in argv], check=False)
    except OSError:                     # the failed exec the test wants traced
        pass


def test_execsnoop_shows_failed_execs_with_x(marker, tmp_path):
    missing = tmp_path / "pybpf-no-such-program"

    def trigger():
        _run(marker, "-c", "true")
        _run(missing, "some", "args")

    plain, failing = map(_rows, run_tools([("execsnoop", ["-P", str(os.getpid())]),
                                           ("execsnoop", ["-x", "-P", str(os.getpid())])], trigger))
    assert any(row.endswith(f" 0 {marker} -c true") for row in plain)
    assert not any(str(missing) in row for row in plain)
    assert any(row.endswith(f" 0 {marker} -c true") for row in failing)
    # the child that failed to exec is still the forked Python: its comm, RET -ENOENT
    assert any(row.split()[3] == "-2" and row.endswith(f" -2 {missing} some args") for row in failing)


def test_execsnoop_quotes_and_cuts_arguments(marker):
    arguments = ["-c", ': "$0"', "two words", 'say "hi"', "extra"]
    out, whole, cut = run_tools([("execsnoop", ["-q", "--max-args", "5", "-P", str(os.getpid())]),
                                 ("execsnoop", ["--json", "--max-args", "6", "-P", str(os.getpid())]),
                                 ("execsnoop", ["--json", "--max-args", "2", "-P", str(os.getpid())])],
                                lambda: _run(marker, *arguments))
    quoted = f'"{marker}" "-c" ": \\"$0\\"" "two words" "say \\"hi\\"" "..."'
    assert any(row.endswith(" 0 " + quoted) for row in _rows(out)), out
    events = _json_lines(whole)
    assert events and all(e["argv"] == [str(marker), *arguments] and not e["truncated"] for e in events)
    assert all(e["args"] == " ".join([str(marker), *arguments]) for e in events)
    cut = _json_lines(cut)
    assert cut and all(e["argv"] == [str(marker), "-c"] and e["truncated"] and e["args"] == f"{marker} -c ..." for e in cut)


def test_execsnoop_line_filter(marker):
    def trigger():
        _run(marker, "-c", "true", "pybpf-line-yes")
        _run(marker, "-c", "true", "pybpf-other")

    rows = _rows(run_tool("execsnoop", ["-l", "pybpf-l[i]ne", "-P", str(os.getpid())], trigger))
    assert rows and all(row.endswith(f"{marker} -c true pybpf-line-yes") for row in rows)


@pytest.mark.parametrize("flags, message", [(["--max-args", "0"], "0 arguments: expected 1 to 1024"),
                                            (["-l", "("], "is not a regular expression")])
def test_execsnoop_refuses_bad_flags(flags, message):
    result = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "execsnoop", *flags], capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr


def test_opensnoop_full_path(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "pybpf-relative").write_text("x")
    absolute = tmp_path / "pybpf-absolute"
    absolute.write_text("x")
    directory = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)

    def trigger():
        subprocess.run(["cat", "sub/pybpf-relative"], cwd=tmp_path, check=True, stdout=subprocess.DEVNULL)
        absolute.read_text()
        os.close(os.open("sub/pybpf-relative", os.O_RDONLY, dir_fd=directory))    # openat(dfd, relative)

    try:
        full, short, json_out = run_tools([("opensnoop", ["-F", "-n", "^(cat|python)"]),
                                           ("opensnoop", ["-n", "^(cat|python)"]),
                                           ("opensnoop", ["-F", "--json", "-p", str(os.getpid())])], trigger)
    finally:
        os.close(directory)
    paths, plain = ([row.split()[-1] for row in _rows(out)] for out in (full, short))
    events = _json_lines(json_out)
    relative = str(tmp_path / "sub" / "pybpf-relative")
    assert paths.count(relative) >= 4 and str(absolute) in paths            # cat's and the openat's
    assert "sub/pybpf-relative" not in paths
    assert "sub/pybpf-relative" in plain and relative not in plain
    opened = [e for e in events if e["path"] == relative]
    assert opened and all(e["dir"] == str(tmp_path) for e in opened)
    assert all(e["dir"] == "" for e in events if e["path"] == str(absolute))


def _ring_buffers(pid: int) -> list[int]:
    """The sizes of the ring buffer maps process ``pid`` holds (from its fds' fdinfo;
    several fds may hold one map)."""
    sizes = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") != "anon_inode:bpf-map":
                continue
            info = dict(line.split(":\t", 1) for line in open(f"/proc/{pid}/fdinfo/{fd}").read().splitlines()
                        if ":\t" in line)
        except OSError:
            continue
        if info.get("map_type", "").strip() == "27":                        # BPF_MAP_TYPE_RINGBUF
            sizes[info["map_id"]] = int(info["max_entries"])
    return list(sizes.values())


@pytest.mark.parametrize("flags, size", [(["-b", "2"], 2 * os.sysconf("SC_PAGE_SIZE")), ([], 1 << 20)])
def test_opensnoop_buffer_pages(flags, size):
    process = subprocess.Popen([sys.executable, "-m", "pybpf.cli", "tool", "opensnoop", "-d", "30", *flags],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": SRC})
    try:
        deadline = time.monotonic() + 60
        while not _ring_buffers(process.pid) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _ring_buffers(process.pid) == [size]
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def test_opensnoop_refuses_a_buffer_that_is_no_power_of_two():
    result = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "opensnoop", "-b", "3"], capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert result.returncode != 0 and "3 pages: the ring buffer needs a power of two" in result.stderr


_RESOLVED = r"""
import socket, struct, sys, threading, time
PORT, NAMESERVER = {port}, "{nameserver}"
ANSWERS = {{("pybpf-toolsexec.test", 1): "127.0.0.42", ("late.pybpf-toolsexec.test", 1): "127.0.0.44",
            ("six.pybpf-toolsexec.test", 28): "::1"}}

def answer(query):
    end = query.index(b"\0", 12) + 5                       # the question: its name, type and class
    name = ".".join(label.decode() for label in _labels(query[12:end - 4]))
    kind = struct.unpack_from("!H", query, end - 4)[0]
    found = [ANSWERS[name, kind]] if (name, kind) in ANSWERS else []
    family = socket.AF_INET if kind == 1 else socket.AF_INET6
    return (struct.pack("!HHHHHH", struct.unpack_from("!H", query)[0], 0x8580, 1, len(found), 0, 0) + query[12:end]
            + b"".join(struct.pack("!HHHIH", 0xC00C, kind, 1, 60, 4 if kind == 1 else 16) + socket.inet_pton(family, a)
                       for a in found))

def _labels(raw):
    while raw[0]:
        yield raw[1:1 + raw[0]]
        raw = raw[1 + raw[0]:]

def respond(server):
    while True:
        query, peer = server.recvfrom(512)
        server.sendto(answer(query), peer)

def resolve(name, family):
    return socket.getaddrinfo(name, PORT, family, socket.SOCK_STREAM)[0][4][0]

def connect(address):
    client = socket.create_connection((address, PORT))
    accepted, _ = listener.accept()
    client.close()
    accepted.close()

dns = socket.socket(socket.AF_INET6 if ":" in NAMESERVER else socket.AF_INET, socket.SOCK_DGRAM)
dns.bind((NAMESERVER, 53))
threading.Thread(target=respond, args=(dns,), daemon=True).start()
listener = socket.socket(socket.AF_INET6)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("::", PORT))                                 # IPv4 too, as mapped addresses
listener.listen(16)
while True:
    if ":" in NAMESERVER:
        connect(resolve("six.pybpf-toolsexec.test", socket.AF_INET6))
    else:
        connect(resolve("pybpf-toolsexec.test", socket.AF_INET))
        late = resolve("late.pybpf-toolsexec.test", socket.AF_INET)
        time.sleep(0.25)
        connect(late)
        connect("127.0.0.43")
        connect("127.0.0.1")
    time.sleep(0.2)
"""


@contextlib.contextmanager
def _resolving_netns(nameserver: str):
    """A network namespace whose resolver asks ``nameserver`` (its own loopback's), where
    the workload answers made-up names (``ip netns exec`` puts the files of
    /etc/netns/NAME over /etc's)."""
    name = f"pybpf-toolsexec-dns-{os.getpid()}"
    made_parent = not os.path.isdir("/etc/netns")
    config = f"/etc/netns/{name}"
    os.makedirs(config)
    try:
        with open(f"{config}/resolv.conf", "w") as out:
            out.write(f"nameserver {nameserver}\noptions attempts:1 timeout:1\n")
        with open(f"{config}/nsswitch.conf", "w") as out:
            out.write("hosts: files dns\n")
        with netns(name):
            yield name
    finally:
        shutil.rmtree(config)
        if made_parent:
            try:
                os.rmdir("/etc/netns")
            except OSError:                 # another test's namespace has its files there now
                pass


@pytest.fixture
def resolving_netns():
    with _resolving_netns("127.0.0.1") as name:
        yield name


def _tcpconnect_beside(namespace: str, port: int, *arguments: list[str], nameserver: str = "127.0.0.1") -> list[str]:
    """The outputs of tcpconnect with each of ``arguments``, side by side while the workload
    resolves and connects in ``namespace``."""
    code = _RESOLVED.format(port=port, nameserver=nameserver)
    workload = subprocess.Popen(["ip", "netns", "exec", namespace, sys.executable, "-c", code],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        return run_tools([("tcpconnect", ["-P", str(port), *a]) for a in arguments], lambda: None)
    finally:
        workload.kill()
        _, err = workload.communicate(timeout=30)
        assert "Traceback" not in err, err


def _queries(out: str) -> dict[str, set[str]]:
    """The QUERY texts of each destination address; an address's first connect is left
    out (its answer may have come before the tool attached)."""
    by_address: dict[str, set[str]] = {}
    seen: set[str] = set()
    for row in _rows(out):
        fields = row.split(None, 6)
        if fields[4] in seen:
            by_address.setdefault(fields[4], set()).add(fields[6])
        seen.add(fields[4])
    return by_address


def test_tcpconnect_dns_names_the_query_behind_each_connect(resolving_netns):
    port = 40000 + os.getpid() % 20000
    out, json_out = _tcpconnect_beside(resolving_netns, port, ["--dns"], ["--dns", "--json"])
    by_address = _queries(out)
    assert by_address["127.0.0.42"] == {"pybpf-toolsexec.test"}, out
    late = by_address["127.0.0.44"]
    assert late and all(query.startswith("late.pybpf-toolsexec.test (") and 250 <= float(query[27:-3]) < 5000
                        for query in late), out
    assert by_address["127.0.0.43"] == {"No DNS Query"} and by_address["127.0.0.1"] == {"localhost"}, out
    events = _json_lines(json_out)
    answered = [e for e in events if e["daddr"] == "127.0.0.42"][1:]
    assert answered and all(e["query"] == "pybpf-toolsexec.test" and 0 <= e["query_ms"] < 100 for e in answered), events
    assert all(e["query"] is None for e in events if e["daddr"] == "127.0.0.43")


def test_tcpconnect_dns_over_ipv6():
    """An AAAA answer from a name server on ::1 (the datagram in IPv6), and a connect to it."""
    port = 40000 + os.getpid() % 20000
    with _resolving_netns("::1") as namespace:
        (out,) = _tcpconnect_beside(namespace, port, ["--dns", "-6"], nameserver="::1")
    assert _queries(out)["::1"] == {"six.pybpf-toolsexec.test"}, out


def test_tcpconnect_without_dns_has_no_query_column(resolving_netns):
    port = 40000 + os.getpid() % 20000
    (out,) = _tcpconnect_beside(resolving_netns, port, [])
    assert out.splitlines()[0].split() == ["PID", "COMM", "IP", "SADDR", "DADDR", "DPORT"]
    assert any(row.split()[4] == "127.0.0.42" for row in _rows(out))


def test_tcpconnect_refuses_dns_with_counts():
    result = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "tcpconnect", "--dns", "-c"], capture_output=True,
                            text=True, env={**os.environ, "PYTHONPATH": SRC}, timeout=60)
    assert result.returncode != 0 and "--dns cannot go with -c/--count" in result.stderr
    assert "Traceback" not in result.stderr
