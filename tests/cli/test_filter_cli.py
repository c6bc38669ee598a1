"""``pybpf filter``: tcpdump's flags, the same matches as tcpdump on libpcap's savefiles,
-w files read back, -d text equal to tcpdump's, one-line errors and exit statuses."""

from __future__ import annotations

import io
import os
import shutil
import socket
import stat
import subprocess
import sys
import time

import pytest

from pybpf.capture import PcapngWriter, PcapWriter, format_timestamp, hexdump, read_packets, summarize
from pybpf.cbpf import run
from pybpf.cli import main
from pybpf.filter import compile_filter
from pybpf.pcapfilter.progress import Progress
from shared_data import shared_path

TCPDUMP = shutil.which("tcpdump")
needs_tcpdump = pytest.mark.skipif(TCPDUMP is None, reason="needs tcpdump as the reference")

#: Ethernet savefiles with a mix of protocols, and the expressions compared on them
FILES = ["ah-ipip-ping.pcap", "dhcp-rfc3004.pcap", "geneve.pcap", "vxlan.pcap", "ipv6_ext_headers.pcap",
         "pim-packet-assortment.pcap", "gateway_or_not.pcap", "isakmp4500.pcap", "rarp_req_reply.pcapng",
         "pppoes.pcap", "llc.pcap"]
EXPRESSIONS = ["ip", "tcp", "udp", "ip6", "arp or rarp", "udp port 4789", "icmp or icmp6", "greater 200",
               "host 10.5.2.1", "not ip", "ip proto 50", "ether multicast"]


def savefile(name: str) -> str:
    return str(shared_path("libpcap-tests", "savefiles", name))


def _tcpdump_matches(path: str, expression: str, tmp_path) -> int | None:
    out = tmp_path / "tcpdump.pcap"
    done = subprocess.run([TCPDUMP, "-r", path, "-w", str(out), expression], capture_output=True, text=True)
    if done.returncode:
        return None
    return len(list(read_packets(out)))


def _ours(args: list[str], capsys) -> tuple[int, str, str]:
    status = main(["filter", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@needs_tcpdump
@pytest.mark.parametrize("name", FILES)
def test_match_counts_agree_with_tcpdump(name, tmp_path, capsys):
    path = savefile(name)
    for expression in EXPRESSIONS:
        expected = _tcpdump_matches(path, expression, tmp_path)
        if expected is None:
            continue
        out = tmp_path / "ours.pcap"
        assert _ours(["-r", path, "-w", str(out), expression], capsys)[0] == 0
        assert len(list(read_packets(out))) == expected, (name, expression)
        status, printed, _ = _ours(["-nr", path, expression], capsys)
        assert status == 0 and len(printed.splitlines()) == expected, (name, expression)


@needs_tcpdump
def test_written_file_holds_what_tcpdump_writes(tmp_path, capsys):
    path = savefile("pim-packet-assortment.pcap")
    ours, theirs = tmp_path / "ours.pcap", tmp_path / "theirs.pcap"
    subprocess.run([TCPDUMP, "-r", path, "-w", str(theirs), "ip6"], check=True, capture_output=True)
    assert _ours(["-r", path, "-w", str(ours), "ip6"], capsys)[0] == 0
    assert list(read_packets(ours)) == list(read_packets(theirs)) and len(list(read_packets(ours))) == 10


def test_written_file_reads_back_as_the_accepted_packets(tmp_path, capsys):
    path = savefile("geneve.pcap")
    out = tmp_path / "udp.pcap"
    status, printed, _ = _ours(["-r", path, "-w", str(out), "udp"], capsys)
    assert status == 0 and printed == ""
    program = compile_filter("udp")
    expected = [p for p in read_packets(path) if run(program, p.data, p.wirelen)]
    assert expected and list(read_packets(out)) == expected
    assert [(p.timestamp_ns, p.data, p.wirelen) for p in read_packets(out)] == \
        [(p.timestamp_ns, p.data, p.wirelen) for p in expected]


def test_write_to_stdout_and_read_from_stdin(tmp_path, monkeypatch, capfd):
    path = savefile("vxlan.pcap")
    out = tmp_path / "out.pcap"
    with open(path, "rb") as stdin:
        result = subprocess.run([sys.executable, "-m", "pybpf.cli", "filter", "-r", "-", "-w", "-", "icmp"],
                                stdin=stdin, capture_output=True)
    assert result.returncode == 0, result.stderr
    out.write_bytes(result.stdout)
    program = compile_filter("icmp")
    assert list(read_packets(out)) == [p for p in read_packets(path) if run(program, p.data, p.wirelen)]


def test_count_stops_after_n_matches(tmp_path, capsys):
    path = savefile("gateway_or_not.pcap")
    status, printed, _ = _ours(["-n", "-c", "2", "-r", path, "ip"], capsys)
    assert status == 0 and len(printed.splitlines()) == 2
    out = tmp_path / "two.pcap"
    assert _ours(["-c", "2", "-r", path, "-w", str(out), "ip"], capsys)[0] == 0
    program = compile_filter("ip")
    assert list(read_packets(out)) == [p for p in read_packets(path) if run(program, p.data, p.wirelen)][:2]


def test_printed_lines_are_timestamp_and_summary(capsys):
    path = savefile("carp.pcap")
    packets = list(read_packets(path))
    status, printed, err = _ours(["-n", "-r", path], capsys)
    assert status == 0
    assert printed.splitlines() == [f"{format_timestamp(p.timestamp_ns)} {summarize(p.data, 1, wirelen=p.wirelen)}"
                                    for p in packets]
    assert err.startswith(f"reading from file {path}, link-type EN10MB, snapshot length 65535")
    _, printed, _ = _ours(["-nex", "-c", "1", "-r", path], capsys)
    p = packets[0]
    assert printed == (f"{format_timestamp(p.timestamp_ns)} {summarize(p.data, 1, link_header=True)}\n"
                       f"{hexdump(p.data, 1)}\n")


def test_pcapng_with_two_link_types_compiles_one_program_each(tmp_path, capsys):
    ether_ip = bytes(12) + b"\x08\x00" + bytes([0x45]) + bytes(19)
    raw_ip = bytes([0x45]) + bytes(19)
    path = tmp_path / "mixed.pcapng"
    with PcapngWriter(path) as writer:
        writer.write(ether_ip, 1_000_000_000, linktype=1)
        writer.write(raw_ip, 2_000_000_000, linktype=101)
        writer.write(bytes(14), 3_000_000_000, linktype=1)
    status, printed, _ = _ours(["-nr", str(path), "ip"], capsys)
    assert status == 0 and len(printed.splitlines()) == 2
    # a pcap file holds one link type: saving both is refused, and no file is left
    out = tmp_path / "out.pcap"
    status, _, err = _ours(["-r", str(path), "-w", str(out), "ip"], capsys)
    assert status == 1 and "link type 101" in err and not out.exists()


@needs_tcpdump
@pytest.mark.parametrize("expression", ["ip", "tcp", "arp"])
@pytest.mark.parametrize("flag", ["-d", "-dd", "-ddd"])
def test_dump_text_is_tcpdumps(expression, flag, capsys):
    expected = subprocess.run([TCPDUMP, flag, "-y", "EN10MB", expression], capture_output=True, text=True,
                              check=True).stdout
    status, printed, _ = _ours([flag, "-y", "EN10MB", expression], capsys)
    assert status == 0 and printed == expected


def test_dump_uses_the_files_link_type_and_snaplen(capsys):
    status, printed, _ = _ours(["-d", "-r", savefile("carp.pcap"), "ip"], capsys)
    assert status == 0
    assert printed == ("(000) ldh      [12]\n(001) jeq      #0x800           jt 2\tjf 3\n"
                       "(002) ret      #65535\n(003) ret      #0\n")


def test_dump_assumes_ethernet_and_follows_y(capsys):
    status, printed, err = _ours(["-d", "ip"], capsys)
    assert status == 0 and printed.startswith("(000) ldh      [12]\n") and "assuming Ethernet" in err
    status, printed, err = _ours(["-ddd", "-y", "LINUX_SLL", "-s", "1500", "ip"], capsys)
    assert status == 0 and printed == "4\n40 0 0 14\n21 0 1 2048\n6 0 0 1500\n6 0 0 0\n" and err == ""
    status, unoptimized, _ = _ours(["-d", "-O", "-y", "EN10MB", "tcp port 80"], capsys)
    _, optimized, _ = _ours(["-d", "-y", "EN10MB", "tcp port 80"], capsys)
    assert unoptimized != optimized and len(unoptimized.splitlines()) > len(optimized.splitlines())


def test_expression_from_a_file_with_comments(tmp_path, capsys):
    rules = tmp_path / "rules"
    rules.write_text("# web traffic only\ntcp # the transport\nand port 80\n")
    _, from_file, err = _ours(["-d", "-F", str(rules), "udp"], capsys)
    _, inline, _ = _ours(["-d", "tcp and port 80"], capsys)
    assert from_file == inline and "ignoring 'udp'" in err
    rules.write_text("# comment\ntcp and port 8o\n")
    status, _, err = _ours(["-d", "-F", str(rules)], capsys)
    assert status == 1 and "line 2, column 14: unknown port '8o'" in err


def test_double_dash_before_an_expression_starting_with_a_dash(capsys):
    status, printed, _ = _ours(["-d", "--", "-1 + 2 = 1"], capsys)      # always true, as tcpdump folds it
    assert status == 0 and printed == "(000) ret      #262144\n"


def test_bad_expression_is_one_error_with_a_caret(capsys):
    status, printed, err = _ours(["-nr", savefile("carp.pcap"), "tcp", "port", "8o"], capsys)
    assert status == 1 and printed == ""
    assert err.endswith("pybpf filter: error: tcp port 8o\n         ^^\ncolumn 10: unknown port '8o'\n")


def test_missing_and_unsupported_inputs_are_errors(tmp_path, capsys):
    status, _, err = _ours(["-r", str(tmp_path / "none.pcap"), "ip"], capsys)
    assert status == 1 and "none.pcap: cannot open: No such file or directory" in err
    status, _, err = _ours(["-d", "-F", str(tmp_path / "none")], capsys)
    assert status == 1 and "cannot read the filter file" in err
    status, _, err = _ours(["-d", "-y", "NOSUCH", "ip"], capsys)
    assert status == 1 and "unknown or unsupported link type 'NOSUCH'" in err
    # a private link type (USER0): reading it is fine, compiling a filter for it is not
    private = tmp_path / "user0.pcap"
    with PcapWriter(private, 147) as writer:
        writer.write(b"\x01\x02\x03", 1_000_000_000)
    status, _, err = _ours(["-r", str(private), "ip"], capsys)
    assert status == 1 and "link type 147" in err
    status, printed, _ = _ours(["-r", str(private)], capsys)
    assert status == 0 and printed == "00:00:01.000000 link type LINKTYPE_147 (147), length 3\n".replace(
        "00:00:01.000000", format_timestamp(1_000_000_000))


@pytest.mark.parametrize("args", [["-c", "0", "-r", "x"], ["-r", "x", "-i", "lo"], ["ip"], ["-s", "-5", "-d"]])
def test_usage_errors_exit_2(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(["filter", *args])
    assert info.value.code == 2


def test_writing_to_a_device_writes_through_it(capsys):
    status, _, _ = _ours(["-r", savefile("carp.pcap"), "-w", os.devnull, "ip"], capsys)
    assert status == 0 and os.path.exists(os.devnull) and not os.path.isfile(os.devnull)


def test_progress_draws_on_a_terminal_only_and_not_too_often(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    shown = Terminal()
    progress = Progress(1000, shown)
    monkeypatch.setattr(time, "monotonic", lambda: 10.0**6)
    progress.update(10, 2, 500)
    progress.update(20, 4, 600)             # same instant: not redrawn
    assert shown.getvalue() == "\r10 packets read, 2 matched, 50% of the file"
    progress.finish()
    assert shown.getvalue().endswith("\r")
    quiet = io.StringIO()
    Progress(1000, quiet).update(10, 2, 500)
    assert quiet.getvalue() == ""


def test_progress_shown_while_writing_to_a_terminal(tmp_path, monkeypatch, capsys):
    drawn = []
    monkeypatch.setattr("pybpf.pcapfilter.progress.INTERVAL", -1.0)
    monkeypatch.setattr(Progress, "update", lambda self, *counts: drawn.append((self.enabled, counts)))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    path = tmp_path / "many.pcap"
    with PcapWriter(path, 1) as writer:
        for i in range(5000):
            writer.write(bytes(12) + b"\x08\x00" + bytes([0x45]) + bytes(19), i * 1000)
    assert _ours(["-r", str(path), "-w", str(tmp_path / "out.pcap"), "ip"], capsys)[0] == 0
    assert drawn and all(enabled for enabled, _ in drawn)
    assert drawn[-1][1] == (5000, 5000, path.stat().st_size)


def _capture_live(tmp_path, expression: str, send, notes: list[str]) -> list:
    """Run ``pybpf filter -i lo -c 2 -w FILE EXPRESSION``; once its stderr has shown
    ``notes`` (line by line), ``send()`` makes traffic; the packets it saved."""
    out = tmp_path / "live.pcap"
    proc = subprocess.Popen([sys.executable, "-m", "pybpf.cli", "filter", "-i", "lo", "-c", "2", "-w", str(out),
                             expression], stderr=subprocess.PIPE, text=True)
    try:
        for note in notes:
            assert note in proc.stderr.readline()
        send()
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
    return list(read_packets(out))


live = pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0,
                          reason="live capture needs Linux and root (CAP_NET_RAW)")


@live
def test_live_capture_filters_in_the_kernel(tmp_path):
    port = 40125

    def send():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for target in (port + 1, port, port + 1, port):
                sock.sendto(b"hello", ("127.0.0.1", target))
                time.sleep(0.05)
    packets = _capture_live(tmp_path, f"udp dst port {port}", send, ["listening on lo"])
    assert len(packets) == 2
    assert all(int.from_bytes(p.data[36:38], "big") == port for p in packets)


@live
def test_live_capture_filters_in_userspace_what_the_kernel_refuses(tmp_path):
    """protochain compiles to a loop; Linux takes no backward jumps in a socket filter,
    so the packets are filtered here instead, with the same result."""
    port = 40127

    def send():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, socket.socket() as tcp:
            tcp.settimeout(0.1)
            for target in (port + 1, port, port + 1, port):
                sock.sendto(b"hello", ("127.0.0.1", target))
                try:
                    tcp.connect(("127.0.0.1", port))         # a TCP SYN: not UDP, filtered out
                except OSError:
                    pass
                time.sleep(0.05)
    packets = _capture_live(tmp_path, f"ip protochain 17 and udp dst port {port}", send,
                            ["filtering in userspace", "listening on lo"])
    assert len(packets) == 2
    assert all(p.data[23] == 17 and int.from_bytes(p.data[36:38], "big") == port for p in packets)


def test_w_file_is_readable_by_others_as_tcpdumps_is(tmp_path, capsys):
    source, target = tmp_path / "in.pcap", tmp_path / "out.pcap"
    with PcapWriter(source, 1) as writer:
        writer.write(bytes(60))
    old = os.umask(0o022)
    try:
        assert main(["filter", "-r", str(source), "-w", str(target)]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644


THREADED = ["ip", "tcp or udp", "greater 200", "not ip6", ""]


@pytest.mark.parametrize("name", ["pim-packet-assortment.pcap", "geneve.pcap", "ISIS_external_lsp.pcap",
                                  "isakmp4500.pcap", "ah-ipip-ping.pcap"])
def test_threads_write_what_one_thread_writes(name, tmp_path, monkeypatch, capsys):
    """The -w file, byte for byte, filtered by pieces small enough that every file is
    cut into many, on two threads and on one."""
    from pybpf.pcapfilter import batch as batch_module

    monkeypatch.setattr(batch_module, "PIECE", 256)
    split = []
    parallel = batch_module.RecordBatches._filtered_parallel

    def spy(self, *args):
        split.append(args[1])
        return (yield from parallel(self, *args))

    monkeypatch.setattr(batch_module.RecordBatches, "_filtered_parallel", spy)
    path = savefile(name)
    for expression in THREADED:
        files = []
        for threads in ("1", "2", "3"):
            monkeypatch.setenv("PYBPF_FILTER_THREADS", threads)
            out = tmp_path / f"out{threads}.pcap"
            assert _ours(["-r", path, "-w", str(out), expression], capsys)[0] == 0
            files.append(out.read_bytes())
        assert files[0] == files[1] == files[2], (name, expression)
        assert split[-2:] == [2, 3]
        program = compile_filter(expression) if expression else None
        assert list(read_packets(tmp_path / "out2.pcap")) == [
            p for p in read_packets(path) if program is None or run(program, p.data, p.wirelen)]


def test_thread_count(monkeypatch):
    from pybpf.pcapfilter.run import MAX_THREADS, threads

    monkeypatch.setenv("PYBPF_FILTER_THREADS", "3")
    assert threads() == 3
    for value in ("", "0", "x"):
        monkeypatch.setenv("PYBPF_FILTER_THREADS", value)
        assert 1 <= threads() <= MAX_THREADS
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert threads() == 1
    from pybpf.pcapfilter import run as filter_cli

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5}, raising=False)
    for others, expected in ((0, MAX_THREADS), (2, MAX_THREADS), (3, 3), (5, 1), (9, 1)):
        monkeypatch.setattr(filter_cli, "_others_running", lambda others=others: others)
        assert threads() == expected, others
    monkeypatch.setenv("PYBPF_FILTER_THREADS", "2")
    assert threads() == 2                           # the variable wins


def test_one_commands_parser_says_what_the_command_line_says(capsys):
    from pybpf.cli import build_parser

    helps = []
    for parse in (main, build_parser("filter").parse_args):
        with pytest.raises(SystemExit):
            parse(["filter", "--help"])
        helps.append(capsys.readouterr().out)
    assert helps[0] == helps[1] and helps[0].startswith("usage: pybpf filter")
    assert main(["--version"]) == 0 and capsys.readouterr().out.startswith("pybpf ")
    with pytest.raises(SystemExit) as info:
        main(["filtr", "ip"])
    assert info.value.code == 2 and "invalid choice: 'filtr'" in capsys.readouterr().err


@pytest.mark.parametrize("words", [
    ["-r", "f.pcap"], ["-r", "f.pcap", "tcp", "port", "80"], ["-nr", "f.pcap", "ip"], ["-r", "-", "-w", "-", "udp"],
    ["-w", "out.pcap", "-r", "f.pcap", "-c", "5", "host", "10.0.0.1"], ["-nexOp", "-r", "f.pcap", ""],
    ["-r", "f.pcap", "-s", "0", "-y", "RAW", "-F", "expr.txt", "a", "b"], ["-ner", "f.pcap", "-s", "070", "-c", "01"],
    ["-d", "-r", "f.pcap"], ["-r", "f.pcap", "-d", "udp"], ["-ddd", "-y", "LINUX_SLL", "ip"], ["-d", "-nd", "-r", "f"],
    ["-dO", "-s", "96", "tcp"], [], ["ip"], ["-d", "-i", "eth0"], ["-r", "f.pcap", "ip", "-n"], ["-nn", "-r", "f"],
    ["-r", "f.pcap", "-r", "g.pcap"], ["-r", "f.pcap", "-c", "٣"],
])
def test_plain_command_lines_are_read_as_argparse_reads_them(words):
    from pybpf.cli import build_parser
    from pybpf.cli.plainargs import parse

    expected = vars(build_parser("filter").parse_args(["filter", *words]))
    plain = parse("filter", words)
    assert plain is not None
    got = {name: getattr(plain, name) for name in expected if name != "filter_parser"}
    assert got == {name: value for name, value in expected.items() if name != "filter_parser"}
    assert plain.filter_parser.format_help() == expected["filter_parser"].format_help()


@pytest.mark.parametrize("words", [
    ["-h"], ["--help"], ["-d", "-r"], ["-dr"], ["-r"], ["-rf.pcap"], ["-rn", "f.pcap"], ["-r", "f.pcap", "--", "-x"],
    ["-r", "f.pcap", "-c", "0"], ["-r", "f.pcap", "-c", "-1"], ["-r", "f.pcap", "-c", "x"], ["-r", "-w"],
    ["-r", "f.pcap", "-s", "4294967296"], ["-r", "f.pcap", "-q"], ["-r=f.pcap"], ["-r", "f", "-i", "eth0"],
])
def test_other_command_lines_are_left_to_argparse(words):
    from pybpf.cli.plainargs import parse

    assert parse("filter", words) is None


def test_plain_command_line_errors_are_argparses(capsys):
    with pytest.raises(SystemExit) as info:
        main(["filter", "-r", "f.pcap", "-c", "0"])
    assert info.value.code == 2 and "invalid packet count 0" in capsys.readouterr().err
