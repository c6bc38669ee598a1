"""Program load, test_run, the verifier's log and errors, info and statistics."""

from __future__ import annotations

import errno
import os

import pytest
from sample_programs import counter, packet_length, returns, uninitialized_read

from pybpf.engine import BPFError, VerifierError
from pybpf.isa import Instruction
from pybpf.kernel.info import prog_map_ids, prog_xlated
from pybpf.kernel.maps import create_map
from pybpf.kernel.programs import Stats, load_program, open_program_by_id
from pybpf.object import MapSpec, MapType, ProgramSpec, ProgramType

pytestmark = pytest.mark.usefixtures("bpf_permitted", "no_fd_leak")

PACKET = bytes(range(64))


def test_test_run_returns_r0_and_the_packet():
    with load_program(packet_length()) as prog:
        result = prog.test_run(PACKET, repeat=3)
        # a socket filter sees the skb after the 14-byte Ethernet header is pulled
        assert result.retval == len(PACKET) - 14
        assert len(result.data_out) == len(PACKET)
        assert result.data_out[14:] == PACKET[14:]
        assert result.duration_ns >= 0


def test_map_references_are_relocated_to_fds():
    with create_map(MapSpec("hits", MapType.ARRAY, 4, 8, 1)) as hits:
        with load_program(counter("hits"), {"hits": hits.fd}.__getitem__) as prog:
            assert prog.test_run(PACKET, repeat=5).retval == 0
            assert hits[0] == 5
            assert prog_map_ids(prog.fd) == [hits.id]


def test_verifier_error_summary_and_full_log():
    with pytest.raises(VerifierError) as caught:
        load_program(uninitialized_read())
    err = caught.value
    assert err.errno == errno.EACCES and err.command == "BPF_PROG_LOAD"
    assert "R5 !read_ok" in str(err)
    assert err.failing_instruction.startswith("instruction 0: (bf) r0 = r5")
    assert "R5 !read_ok" in err.log
    assert err.full().endswith(err.log)


def test_a_program_too_large_keeps_the_verifiers_log():
    """E2BIG (like every refusal) is retried with a log: the reason is never lost."""
    from pybpf.isa import assemble

    looping = ProgramSpec("vmsafe_big", ProgramType.SOCKET_FILTER,
                          assemble("r0 = 0\nloop:\nr0 += 1\nif r0 < 3000000 goto loop\nexit\n"))
    with pytest.raises(VerifierError) as caught:
        load_program(looping)
    assert caught.value.errno == errno.E2BIG
    assert "BPF program is too large" in caught.value.log


def test_log_buffer_grows_until_the_log_fits():
    with load_program(packet_length(), log_level=2, log_size=16) as prog:
        assert "processed 2 insns" in prog.log
    with pytest.raises(VerifierError) as caught:
        load_program(uninitialized_read(), log_size=8)
    assert "R5 !read_ok" in caught.value.log


def test_a_fixed_log_buffer_too_small_is_enospc():
    """grow_log=False (bpftrace's BPFTRACE_LOG_SIZE): the kernel's ENOSPC is the answer."""
    with pytest.raises(BPFError) as caught:
        load_program(packet_length(), log_level=1, log_size=16, grow_log=False)
    assert caught.value.errno == errno.ENOSPC
    with load_program(packet_length(), log_level=1, log_size=4096, grow_log=False) as prog:
        assert "processed 2 insns" in prog.log


def test_missing_maps_and_unknown_helpers_are_refused():
    with pytest.raises(BPFError, match="refers to maps"):
        load_program(counter("hits"))
    unknown_helper = ProgramSpec("calls", ProgramType.SOCKET_FILTER, [
        Instruction(0x85, 0, 0, 0, 100000), *returns(0).instructions])
    with pytest.raises(VerifierError, match="invalid func"):
        load_program(unknown_helper)


def test_info_id_tag_xlated_and_open_by_id():
    with load_program(returns(7, "seven")) as prog:
        info = prog.info()
        assert info.type == ProgramType.SOCKET_FILTER
        assert info.name == b"seven"
        assert len(prog.tag) == 16 and int(prog.tag, 16) >= 0
        assert len(prog_xlated(prog.fd)) == 16
        assert prog.xlated() == returns(7).instructions
        with open_program_by_id(prog.id) as again:
            assert again.name == "seven" and again.fd != prog.fd
            assert again.test_run(PACKET).retval == 7


def test_stats_count_runs_while_enabled():
    with load_program(returns(1)) as prog:
        with Stats() as stats:
            prog.test_run(PACKET, repeat=4)
            assert prog.info().run_cnt == 4 and prog.info().run_time_ns > 0
        assert stats.fd == -1


def test_test_run_output_too_small_is_enospc():
    with load_program(packet_length()) as prog:
        with pytest.raises(BPFError) as caught:
            prog.test_run(PACKET, data_out_size=8)
        assert caught.value.errno == errno.ENOSPC
        assert "data_out_size" in str(caught.value)


def test_program_close_releases_the_fd():
    prog = load_program(returns(0))
    fd = prog.fd
    with prog:
        pass
    assert prog.closed
    with pytest.raises(OSError):
        os.fstat(fd)


def test_einval_before_verification_names_the_attributes():
    spec = returns(0).copy(type=ProgramType.CGROUP_SOCK_ADDR)  # needs an attach type
    with pytest.raises(BPFError) as caught:
        load_program(spec)
    assert caught.value.errno == errno.EINVAL
    assert "before verifying it (type cgroup_sock_addr, license 'GPL')" in str(caught.value)
