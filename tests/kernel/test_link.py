"""Links: attach a cgroup_skb program to a fresh cgroup, read the link, detach it."""

from __future__ import annotations

import errno
import os
import tempfile

import pytest
from sample_programs import returns

from pybpf.engine import BPFError
from pybpf.kernel.info import ids
from pybpf.kernel.link import create_link, open_link_by_id, open_pinned_link
from pybpf.kernel.programs import load_program
from pybpf.object import AttachType, ProgramSpec, ProgramType

pytestmark = pytest.mark.usefixtures("bpf_permitted", "no_fd_leak")


def _cgroup2_root() -> str | None:
    with open("/proc/mounts") as mounts:
        for line in mounts:
            fields = line.split()
            if fields[2] == "cgroup2":
                return fields[1]
    return None


@pytest.fixture
def cgroup():
    root = _cgroup2_root()
    if root is None:
        pytest.skip("no cgroup v2 hierarchy is mounted")
    try:
        path = tempfile.mkdtemp(prefix="pybpf-test-", dir=root)
    except OSError as exc:
        pytest.skip(f"cannot create a cgroup under {root}: {exc}")
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    yield fd
    os.close(fd)
    os.rmdir(path)


def _allow_all() -> ProgramSpec:
    return returns(1, "allow").copy(type=ProgramType.CGROUP_SKB,
                                    expected_attach_type=AttachType.CGROUP_INET_INGRESS)


def test_link_create_info_detach(cgroup, bpffs):
    with load_program(_allow_all()) as prog:
        with create_link(prog.fd, cgroup, AttachType.CGROUP_INET_INGRESS) as link:
            info = link.info()
            assert info.prog_id == prog.id and link.id in ids("link")
            with open_link_by_id(link.id) as again:
                assert again.info().prog_id == prog.id
            path = os.path.join(bpffs, "link")
            link.pin(path)
            with open_pinned_link(path) as pinned:
                assert pinned.id == link.id
            link.unpin(path)
            link.detach()
            assert link.info().prog_id == prog.id  # a defunct link still names its program


def test_a_program_of_the_wrong_type_is_refused(cgroup):
    with load_program(returns(1)) as socket_filter:
        with pytest.raises(BPFError) as caught:
            create_link(socket_filter.fd, cgroup, AttachType.CGROUP_INET_INGRESS)
    assert caught.value.errno == errno.EINVAL
    assert "cgroup_inet_ingress link" in str(caught.value)
