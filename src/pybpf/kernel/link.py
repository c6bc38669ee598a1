"""BPF links: BPF_LINK_CREATE / BPF_LINK_DETACH and the object that owns a link's fd.

A link ties a program to a hook for as long as the link lives: closing its last fd (or
unpinning it when nothing else holds it) detaches the program. :meth:`Link.detach`
cuts the attachment at once while the fd stays open, which is what a tool that must
stop tracing before it exits wants. The attach-point modules (cgroups, XDP, tc,
tracing) build on :func:`create_link`.
"""

from __future__ import annotations

import os

from pybpf.engine.link import Link
from pybpf.kernel import attrs
from pybpf.kernel.fds import get_pinned_fd, pin_fd
from pybpf.kernel.info import fd_by_id, link_info
from pybpf.kernel.syscall import Command, bpf
from pybpf.object import AttachType


class BpfLink(Link):
    """An attached program, held by the link's file descriptor ``fd``."""

    def __init__(self, fd: int, description: str = "link"):
        super().__init__(description)
        self.fd = fd

    @property
    def id(self) -> int:
        """The kernel's id for this link."""
        return link_info(self.fd).id

    def info(self) -> attrs.LinkInfo:
        """struct bpf_link_info: type, id, the attached program's id, per-type union."""
        return link_info(self.fd)

    def detach(self) -> None:
        """Detach the program now; the link stays open but defunct (BPF_LINK_DETACH)."""
        bpf(Command.LINK_DETACH, attrs.FdAttr(fd=self.fd), self.description)

    def pin(self, path: str) -> None:
        """Pin the link, so the attachment outlives this process."""
        pin_fd(self.fd, path, self.description)

    def unpin(self, path: str) -> None:
        """Remove the pin at ``path``."""
        os.unlink(path)

    def _close(self) -> None:
        """Release the link's fd; the last reference detaches the program."""
        os.close(self.fd)


def create_link(prog_fd: int, target_fd: int, attach_type: AttachType, flags: int = 0,
                extra: tuple[int, ...] = ()) -> BpfLink:
    """BPF_LINK_CREATE: attach ``prog_fd`` to ``target_fd`` (a cgroup dir, an ifindex for
    XDP/tcx, a perf event...). ``extra`` fills the per-attach-type union as u64 words."""
    attr = attrs.LinkCreateAttr(prog_fd=prog_fd, target_fd=target_fd,
                                attach_type=attach_type, flags=flags)
    for i, word in enumerate(extra):
        attr.extra[i] = word
    description = f"{attach_type} link of program fd {prog_fd} to {target_fd}"
    return BpfLink(bpf(Command.LINK_CREATE, attr, description), description)


def open_pinned_link(path: str) -> BpfLink:
    """The link pinned at ``path``."""
    return BpfLink(get_pinned_fd(path), f"link pinned at {path}")


def open_link_by_id(link_id: int) -> BpfLink:
    """The link with id ``link_id``."""
    return BpfLink(fd_by_id("link", link_id), f"link id {link_id}")
