"""BCC's networking examples and tools run unmodified under ``python -m pybpf.bcc`` (root
only), each in a network namespace of the test's own (``pybpf-bccnet-PID``, deleted with
everything in it afterwards), where their fixed interface names (``me``/``you``) and the
links the test makes (``x0``/``x1``...) cannot clash with anything on the machine; sockmap.py
on a cgroup of the test's own; tplist.py in a mount namespace of its own with debugfs
mounted. The scripts are read as tests/bcc/test_scripts.py reads BCC's (Debian's
bpfcc-tools or a BCC checkout).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_scripts import _bcc_script, _run

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None,
                                reason="runs BCC's scripts in a network namespace: root and iproute2's ip")


@pytest.fixture
def private_netns():
    """A network namespace named for this run (pybpf-bccnet-PID), its loopback up and IPv6
    duplicate address detection off (a new link's address is usable at once); deleted
    afterwards with every link in it."""
    name = f"pybpf-bccnet-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        for key in ("net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0"):
            subprocess.run(["ip", "netns", "exec", name, "sysctl", "-q", "-w", key], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


ECHO_REQUESTS = """
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
index = socket.if_nametoindex("me")
for seq in range(int(sys.argv[1])):
    s.sendto(bytes([128, 0, 0, 0, 0, 7, 0, seq]), ("ff02::1", 0, 0, index))   # echo request
    s.sendto(bytes([129, 0, 0, 0, 0, 7, 0, seq]), ("ff02::1", 0, 0, index))   # echo reply: not printed
"""


def test_tc_perf_event_prints_the_echo_requests_leaving_me(tmp_path, private_netns):
    # clsact egress filter (SCHED_CLS, direct action) on the veth `me` it creates; the
    # program's ETH_ALEN, IPPROTO_ICMPV6 and TC_ACT_OK come from the uapi headers it includes
    sent: list[int] = []
    local: list[str] = []

    def ping() -> None:
        if not local:
            shown = subprocess.run(["ip", "-n", private_netns, "-6", "-o", "addr", "show", "dev", "me", "scope", "link"],
                                   capture_output=True, text=True, check=True).stdout
            local.extend(re.findall(r"inet6 (\S+)/64", shown))
        subprocess.run(["ip", "netns", "exec", private_netns, sys.executable, "-c", ECHO_REQUESTS, "3"],
                       check=True, timeout=10)
        sent.append(3)

    out = _run(_bcc_script("examples/networking/tc_perf_event.py", tmp_path), [], ping, ready="Try:",
               stop_after=2, netns=private_netns)
    lines = out.splitlines()
    assert 'Try: "ping6 ff02::1%me"' in lines, out
    header = next(i for i, line in enumerate(lines) if line.startswith("CPU"))
    assert lines[header].split() == ["CPU", "SRC", "IP", "DST", "IP", "Magic"], out
    rows = [line.split() for line in lines[header + 1:] if line.strip()]
    assert local, "no link-local address on me"
    assert len(rows) == sum(sent), out        # every echo request, and none of the replies
    for cpu, src, dst, magic in rows:
        assert int(cpu) in range(os.cpu_count() or 1)
        assert (src, dst, magic) == (local[0], "ff02::1", "0xfaceb00c"), out
    links = subprocess.run(["ip", "-n", private_netns, "-o", "link"], capture_output=True, text=True).stdout
    assert " me@" not in links and " me:" not in links, links   # the script deletes its veth on Ctrl-C


def _in_private_debugfs(script, args: list[str]) -> str:
    """What ``script`` prints run unmodified under ``python -m pybpf.bcc`` in a mount
    namespace of its own where debugfs is mounted on /sys/kernel/debug (its tracing/
    directory is tracefs): the machine's mounts are left as they are."""
    import pybpf

    shell = ('mountpoint -q /sys/kernel/debug || mount -t debugfs pybpf-bccnet /sys/kernel/debug || exit 3; '
             'exec "$@"')
    path = os.pathsep.join([str(Path(pybpf.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", shell, "sh",
                           sys.executable, "-m", "pybpf.bcc", str(script), *args],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": path})
    if done.returncode == 3:
        pytest.skip(f"cannot mount debugfs in a mount namespace: {done.stderr.strip()}")
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_tplist_lists_tracepoints_from_a_debugfs_of_its_own(tmp_path):
    # tplist.py reads /sys/kernel/debug/tracing, unmounted on this machine
    mounted = os.path.ismount("/sys/kernel/debug")
    events = Path("/sys/kernel/tracing/events")
    if not (events / "sched").is_dir():
        pytest.skip("no tracefs at /sys/kernel/tracing")
    script = _bcc_script("tools/tplist.py", tmp_path)
    listed = _in_private_debugfs(script, ["sched:*"]).split()
    assert sorted(listed) == sorted(f"sched:{e.name}" for e in (events / "sched").iterdir() if e.is_dir())
    verbose = _in_private_debugfs(script, ["-v", "syscalls:sys_enter_openat"]).splitlines()
    fields = [re.search(r"field:([^;]*);", line).group(1).split()
              for line in (events / "syscalls" / "sys_enter_openat" / "format").read_text().splitlines()
              if "field:" in line and "common_" not in line]
    assert verbose == ["syscalls:sys_enter_openat", *(f"    {' '.join(f[:-1])} {f[-1]};" for f in fields)]
    assert os.path.ismount("/sys/kernel/debug") == mounted      # nothing mounted here


def _veth_pairs(netns: str, *pairs: tuple[str, str]) -> None:
    for a, b in pairs:
        subprocess.run(["ip", "-n", netns, "link", "add", a, "type", "veth", "peer", "name", b], check=True)
        for name in (a, b):
            subprocess.run(["ip", "-n", netns, "link", "set", name, "up"], check=True)


def _packets(netns: str, link: str, direction: str) -> int:
    shown = subprocess.run(["ip", "-n", netns, "-s", "-j", "link", "show", link], capture_output=True, text=True,
                           check=True).stdout
    return int(json.loads(shown)[0]["stats64"][direction]["packets"])


UDP = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[1])):
    s.sendto(b"x", ("10.79.9.2", 9))
"""


def _fake_neighbour(netns: str, link: str) -> None:
    """Address 10.79.9.1 on ``link``, and 10.79.9.2 a neighbour behind it (a made-up MAC):
    what is sent there leaves by ``link`` and arrives on its peer."""
    subprocess.run(["ip", "-n", netns, "addr", "add", "10.79.9.1/24", "dev", link], check=True)
    subprocess.run(["ip", "-n", netns, "neigh", "replace", "10.79.9.2", "lladdr", "02:00:00:00:00:02", "dev", link],
                   check=True)


def _udp_sender(netns: str, link: str, count: int, sent: list[int]):
    """Send ``count`` UDP datagrams out of ``link`` (10.79.9.1) to 10.79.9.2 (a neighbour
    entry of ours) on the first call, counting them in ``sent``: the scripts print their
    counters once a second, so the test stops them seconds after the last datagram."""
    _fake_neighbour(netns, link)

    def send() -> None:
        if sent:
            return
        subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", UDP, str(count)], check=True, timeout=10)
        sent.append(count)

    return send


def test_xdp_macswap_count_sends_udp_back(tmp_path, private_netns):
    # XDP_TX in skb mode: each UDP datagram leaving x0 comes back from x1 with its MACs swapped
    _veth_pairs(private_netns, ("x0", "x1"))
    sent: list[int] = []
    before = _packets(private_netns, "x0", "rx")
    out = _run(_bcc_script("examples/networking/xdp/xdp_macswap_count.py", tmp_path), ["-S", "x1"],
               _udp_sender(private_netns, "x0", 50, sent), ready="Printing drops", stop_after=3, netns=private_netns)
    counts = [int(line.split()[1]) for line in out.splitlines() if line.startswith("17: ")]
    assert sum(counts) >= sum(sent) > 0, out          # UDP is IP protocol 17
    assert "Removing filter from device" in out
    assert _packets(private_netns, "x0", "rx") - before >= sum(sent)


def test_xdp_redirect_map_counts_what_it_redirects(tmp_path, private_netns):
    # BPF_DEVMAP and redirect_map: packets arriving on x1 go out of y0 (xdp_dummy on it)
    _veth_pairs(private_netns, ("x0", "x1"), ("y0", "y1"))
    sent: list[int] = []
    out = _run(_bcc_script("examples/networking/xdp/xdp_redirect_map.py", tmp_path), ["x1", "y0"],
               _udp_sender(private_netns, "x0", 50, sent), ready="Printing redirected", stop_after=3,
               netns=private_netns)
    rates = [int(line.split()[0]) for line in out.splitlines() if line.endswith(" pkt/s")]
    assert sum(rates) >= sum(sent) > 0, out
    assert "Removing filter from device" in out
    links = subprocess.run(["ip", "-n", private_netns, "-j", "link", "show"], capture_output=True, text=True,
                           check=True).stdout
    assert not [link["ifname"] for link in json.loads(links) if "xdp" in link], links   # both programs removed


CONNECTION = """
import os, socket, sys
with open(sys.argv[1] + "/cgroup.procs", "w") as procs:
    procs.write(str(os.getpid()))
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(1)
client = socket.create_connection(server.getsockname())
accepted, _ = server.accept()
client.sendall(b"pybpf sockmap")
print(client.getsockname()[1], server.getsockname()[1], accepted.recv(100).decode(), flush=True)
"""


def test_sockmap_redirects_between_sockets_of_a_cgroup(tmp_path):
    # SOCK_OPS on a cgroup (attach_func, BPFAttachType.CGROUP_SOCK_OPS) fills a BPF_SOCKHASH
    # keyed by a struct; SK_MSG on it (lib.bpf_table_fd(b.module, ...), SK_MSG_VERDICT)
    # redirects a local connection's messages with msg_redirect_hash. It names no interface,
    # and only the processes of the test's own cgroup are seen: run in the machine's namespaces
    mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    root = next((Path(fields[1]) for fields in mounts if fields[2] == "cgroup2"), None)
    if root is None:
        pytest.skip("no cgroup v2 hierarchy")
    cgroup = root / f"pybpf-bccnet-{os.getpid()}"
    cgroup.mkdir()
    connections: list[list[str]] = []

    def connect() -> None:
        done = subprocess.run([sys.executable, "-c", CONNECTION, str(cgroup)],
                              capture_output=True, text=True, check=True, timeout=10)
        connections.append(done.stdout.split())

    try:
        out = _run(_bcc_script("examples/networking/sockmap.py", tmp_path), ["-c", str(cgroup)], connect, ready="",
                   stop_after=2)
        if shutil.which("bpftool"):                       # its programs left the cgroup with it
            shown = subprocess.run(["bpftool", "cgroup", "show", str(cgroup)], capture_output=True, text=True)
            assert "sock_ops" not in shown.stdout, shown.stdout
    finally:
        cgroup.rmdir()
    assert connections and all(c[2:] == ["pybpf", "sockmap"] for c in connections), connections
    messages = [line.split("bpf_trace_printk: ", 1)[1].rstrip("'") for line in out.splitlines()
                if "bpf_trace_printk: " in line]
    complete = [(client, server) for client, server, *_ in connections
                if [m for m in messages if client in m or server in m] == [
                    f"remote-port: {server}, local-port: {client}", f"Sockhash op: 4, port {client} --> {server}",
                    f"remote-port: {client}, local-port: {server}", f"Sockhash op: 5, port {server} --> {client}",
                    f"try redirect port {client} --> {server}"]]
    assert complete, out
    assert out.rstrip().endswith("Detaching..."), out


def test_xdp_redirect_cpu_counts_what_it_sends_to_the_cpu(tmp_path, private_netns):
    # BPF_CPUMAP and redirect_map to a CPU's queue
    _veth_pairs(private_netns, ("x0", "x1"))
    sent: list[int] = []
    cpu = (os.cpu_count() or 1) - 1
    out = _run(_bcc_script("examples/networking/xdp/xdp_redirect_cpu.py", tmp_path), ["x1", str(cpu)],
               _udp_sender(private_netns, "x0", 50, sent), ready="Printing redirected", stop_after=3,
               netns=private_netns)
    rates = [line.split() for line in out.splitlines() if line.endswith(f" pkt/s to CPU {cpu}")]
    assert sum(int(rate[0]) for rate in rates) >= sum(sent) > 0, out
    assert "Removing filter from device" in out


DNS_QUERIES = """
import socket, sys
import dnslib
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for name in sys.argv[1:]:
    s.sendto(dnslib.DNSRecord.question(name).pack(), ("10.79.9.2", 53))
"""


def test_dns_matching_passes_only_the_names_in_its_cache(tmp_path, private_netns):
    # a socket filter whose own BPF_PACKET_HEADER structs read the query name a byte at a time
    pytest.importorskip("dnslib", reason="dns_matching.py parses what it receives with dnslib")
    _veth_pairs(private_netns, ("x0", "x1"))
    script = _bcc_script("examples/networking/dns_matching/dns_matching.py", tmp_path)
    program = _bcc_script("examples/networking/dns_matching/dns_matching.c", tmp_path)
    if program.parent != script.parent:
        shutil.copy(program, script.parent / program.name)
    _fake_neighbour(private_netns, "x0")
    sent: list[int] = []

    def query() -> None:
        if not sent:
            subprocess.run(["ip", "netns", "exec", private_netns, sys.executable, "-c", DNS_QUERIES,
                            "foo.bar", "pybpf.example.org", "foo.baz", "bar.foo", "pybpf.example.org"],
                           check=True, timeout=10)
            sent.append(1)

    out = _run(script, ["-i", "x1", "-d", "foo.bar", "pybpf.example.org"], query, ready="Hit Ctrl+C", stop_after=2,
               netns=private_netns)
    assert ">>>> Adding map entry:  foo.bar" in out and ">>>> Adding map entry:  pybpf.example.org" in out, out
    printed = [line for line in out.splitlines() if line.startswith("[<DNS Question")]
    assert printed == ["[<DNS Question: 'foo.bar.' qtype=A qclass=IN>] ",
                       "[<DNS Question: 'pybpf.example.org.' qtype=A qclass=IN>] ",
                       "[<DNS Question: 'pybpf.example.org.' qtype=A qclass=IN>] "], out


def test_netqtop_counts_the_packets_a_link_receives(tmp_path, private_netns):
    # tracepoints on skbs, kernel inline helpers skb_rx_queue_recorded/skb_get_rx_queue,
    # items_lookup_batch; /sys/class/net/x1 is the namespace's (ip netns exec mounts its sysfs)
    for key in ("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"):
        subprocess.run(["ip", "netns", "exec", private_netns, "sysctl", "-q", "-w", key], check=True)
    _veth_pairs(private_netns, ("x0", "x1"))
    script = _bcc_script("tools/netqtop.py", tmp_path)
    program = _bcc_script("tools/netqtop.c", tmp_path) if script.suffix == ".py" else None
    if program is not None and program.parent != script.parent:
        shutil.copy(program, script.parent / program.name)
    sent: list[int] = []
    send = _udp_sender(private_netns, "x0", 100, sent)     # 1-byte datagrams: 29 bytes at IP
    out = _run(script, ["-n", "x1", "-i", "1"], send, ready="QueueID", stop_after=3, netns=private_netns)
    # each interval prints a TX and an RX table: QueueID avg_size [0, 64) [64, 512) ... and a Total row
    rx_totals = [block.split(" Total")[1].split()[:6] for block in out.split("RX\n")[1:] if " Total" in block]
    received = [(float(avg), [int(n) for n in sizes]) for avg, *sizes in rx_totals if any(map(int, sizes))]
    assert sum(sizes[0] for _, sizes in received) == sum(sent) == 100, out
    assert all(avg == 29.0 and sizes[1:] == [0, 0, 0, 0] for avg, sizes in received), out

