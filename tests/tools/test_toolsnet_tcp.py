"""tcpaccept, tcplife and tcpretrans, each run as ``pybpf tool NAME`` while loopback TCP
runs in a network namespace of the test's own: the sessions show up in the table and in
``--json``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from toolsnet_helpers import in_netns, json_lines, netns, rows, tcp_retransmissions, tcp_sessions, tool_output

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="the tools load BPF programs: root only"),
              pytest.mark.skipif(not Path("/sys/kernel/tracing/events/sock/inet_sock_set_state").exists(),
                                 reason="no sock:inet_sock_set_state tracepoint")]

PORT = 47311


def test_tcpaccept_sees_the_accepting_process():
    with netns() as ns:
        out = tool_output("tcpaccept", ["-P", str(PORT)], in_netns(ns, tcp_sessions(PORT)))
    assert out.splitlines()[0].split() == ["PID", "COMM", "IP", "RADDR", "RPORT", "LADDR", "LPORT"]
    found = rows(out)
    assert found, out
    assert all(row[2] == "4" and row[3] == "127.0.0.1" and row[5] == "127.0.0.1" and row[6] == str(PORT)
               for row in found)
    assert len({row[4] for row in found}) == len(found)      # a new client port each session


def test_tcpaccept_json_and_filters():
    with netns() as ns:
        workload = in_netns(ns, tcp_sessions(PORT))
        events = json_lines(tool_output("tcpaccept", ["--json", "-P", str(PORT), "-4"], workload))
        assert events and all(e["sport"] == PORT and e["daddr"] == "127.0.0.1" and e["ip"] == 4 for e in events)
        assert len({e["pid"] for e in events}) == 1         # the one workload process accepts them all
        assert json_lines(tool_output("tcpaccept", ["--json", "-P", str(PORT), "-6"], workload, duration=2.5)) == []


def test_tcplife_counts_bytes_both_ways():
    with netns() as ns:
        out = tool_output("tcplife", [], in_netns(ns, tcp_sessions(PORT, send=5000, answer=3000)))
    assert out.splitlines()[0].split() == ["PID", "COMM", "LADDR", "LPORT", "RADDR", "RPORT", "TX_KB", "RX_KB", "MS"]
    server = [row for row in rows(out) if row[3] == str(PORT)]
    client = [row for row in rows(out) if row[5] == str(PORT)]
    assert server and client, out
    # the server sent 3000 bytes (2 KB) and received 5000 (4 KB); the client the reverse
    assert all(row[6:8] == ["2", "4"] for row in server)
    assert all(row[6:8] == ["4", "2"] for row in client)
    assert all(0 < float(row[8]) < 5000 for row in server + client)


def test_tcplife_local_port_filter():
    with netns() as ns:
        found = rows(tool_output("tcplife", ["-L", str(PORT)], in_netns(ns, tcp_sessions(PORT)), duration=3))
    assert found and all(row[3] == str(PORT) for row in found)       # server sides only


def test_tcplife_json_exact_bytes():
    with netns() as ns:
        events = json_lines(tool_output("tcplife", ["--json", "-D", str(PORT)],
                                        in_netns(ns, tcp_sessions(PORT, send=7777, answer=1234))))
    assert events and all(e["dport"] == PORT for e in events)           # client sides only
    # the kernel's counters also count the SYN and FIN sequence numbers acknowledged
    assert all(7777 <= e["tx_bytes"] <= 7779 and 1234 <= e["rx_bytes"] <= 1235 for e in events), events
    assert all(e["span_ns"] > 0 and e["saddr"] == "127.0.0.1" for e in events)


def test_tcpaccept_and_tcplife_over_ipv6():
    with netns() as ns:
        workload = in_netns(ns, tcp_sessions(PORT, send=2222, answer=1111, host="::1"))
        accepted = json_lines(tool_output("tcpaccept", ["--json", "-6", "-P", str(PORT)], workload, duration=3))
        closed = json_lines(tool_output("tcplife", ["--json", "-6", "-L", str(PORT)], workload, duration=3))
        wide = rows(tool_output("tcplife", ["-w", "-D", str(PORT)], workload, duration=3))
    assert accepted and all(e["ip"] == 6 and e["saddr"] == "::1" and e["daddr"] == "::1" for e in accepted)
    assert closed and all(e["saddr"] == "::1" and 1111 <= e["tx_bytes"] <= 1112 for e in closed)   # the servers
    assert wide and all(row[2] == "6" and row[3] == "::1" and row[6] == str(PORT) for row in wide)


@pytest.mark.skipif(not Path("/sys/kernel/tracing/events/tcp/tcp_retransmit_skb").exists(),
                    reason="no tcp:tcp_retransmit_skb tracepoint")
def test_tcpretrans_sees_retransmits_while_loopback_is_down():
    with netns() as ns:
        out = tool_output("tcpretrans", ["-s"], in_netns(ns, tcp_retransmissions(PORT)), duration=5)
    assert out.splitlines()[0].split() == ["TIME", "PID", "IP", "LADDR:LPORT", "T>", "RADDR:RPORT", "STATE", "SEQ"]
    ours = [row for row in rows(out) if row[5] == f"127.0.0.1:{PORT}"]
    assert ours, out
    assert all(row[4] == "R" and row[7].isdigit() for row in ours)
    assert any(row[6] == "ESTABLISHED" for row in ours)


@pytest.mark.skipif(not Path("/sys/kernel/tracing/events/tcp/tcp_retransmit_skb").exists(),
                    reason="no tcp:tcp_retransmit_skb tracepoint")
def test_tcpretrans_json_and_count():
    with netns() as ns:
        workload = in_netns(ns, tcp_retransmissions(PORT))
        events = [e for e in json_lines(tool_output("tcpretrans", ["--json"], workload, duration=5))
                  if e["dport"] == PORT]
        assert any(e["state_name"] == "ESTABLISHED" for e in events) and all(e["type"] == "R" for e in events)
        counted = [row for row in tool_output("tcpretrans", ["-c"], workload, duration=5).splitlines()
                   if f"127.0.0.1:{PORT}" in row]
    assert counted and all(int(row.split()[-1]) >= 1 for row in counted)


def test_tcpretrans_refuses_loss_probes():
    import subprocess
    import sys

    from toolsnet_helpers import PYTHON_ENV

    result = subprocess.run([sys.executable, "-m", "pybpf.cli", "tool", "tcpretrans", "-l", "-d", "1"],
                            capture_output=True, text=True, env=PYTHON_ENV, timeout=60)
    assert result.returncode != 0 and "kprobe" in result.stderr and "Traceback" not in result.stderr
