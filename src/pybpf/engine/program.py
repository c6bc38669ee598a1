"""The Program API both engines offer: run a loaded program on test input.

An engine subclasses :class:`Program` and implements ``_test_run`` and ``_close``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from pybpf.engine.link import Link
from pybpf.errors import EngineUnavailable
from pybpf.object import ProgramSpec, ProgramType
from pybpf.resource import Resource

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
    from typing import Any
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass


@dataclass(frozen=True)
class RunResult:
    """What one BPF_PROG_TEST_RUN returned: r0, the (possibly rewritten) packet and
    context, and the mean time per run in nanoseconds as the engine measured it."""

    retval: int
    data_out: bytes
    ctx_out: bytes
    duration_ns: int


#: program types whose test run builds an skb from the packet
SKB_TEST_RUN_TYPES = frozenset({ProgramType.SOCKET_FILTER, ProgramType.SCHED_CLS, ProgramType.SCHED_ACT,
                                ProgramType.CGROUP_SKB, ProgramType.LWT_IN, ProgramType.LWT_OUT,
                                ProgramType.LWT_XMIT, ProgramType.LWT_SEG6LOCAL})
#: ethertype → the network header a skb test run must hold whole (IPv4, IPv6)
_NETWORK_HEADERS = {0x0800: 20, 0x86DD: 40}
_ETH_HLEN = 14
#: the longest packet a skb test run takes: one page less the skb's headroom (NET_SKB_PAD,
#: 64 on x86-64) and its aligned skb_shared_info (320), as bpf_test_init checks
SKB_TEST_RUN_MAX = 4096 - 64 - 320


def skb_test_run_refusal(data: bytes) -> str:
    """Why the kernel's skb test run refuses ``data`` with EINVAL, or "" when it takes
    it: a packet longer than one page's linear data (:data:`SKB_TEST_RUN_MAX`), or an
    IPv4 or IPv6 packet whose network header is cut short (the test run reads its
    addresses into its socket). The vm engine refuses the same packets with this reason;
    the kernel engine adds it to the kernel's bare EINVAL, so both say why alike."""
    if len(data) > SKB_TEST_RUN_MAX:
        return (f"a skb test run takes at most {SKB_TEST_RUN_MAX} bytes of packet (one page, less the skb's "
                f"headroom and shared info), got {len(data)}")
    need = _NETWORK_HEADERS.get(int.from_bytes(data[12:14], "big"))
    if need is None or len(data) >= _ETH_HLEN + need:
        return ""
    return (f"a skb test run of an {'IPv4' if need == 20 else 'IPv6'} packet needs its whole "
            f"{need}-byte header, got {len(data) - _ETH_HLEN} bytes after the Ethernet header")


class Program(Resource, ABC):
    """A loaded program. Use it as a context manager, or call :meth:`close`."""

    #: the engine that loaded it: "kernel" or "vm"
    engine = ""

    def __init__(self, spec: ProgramSpec):
        self.spec = spec
        self.name = spec.name
        self.type = spec.type
        self._closed = False

    #: the most runs one test run makes (BPF_PROG_TEST_RUN's ``repeat`` is a u32)
    MAX_REPEAT = 0xFFFF_FFFF

    def test_run(self, data: bytes = b"", ctx: bytes | None = None, repeat: int = 1,
                 data_out_size: int | None = None, ctx_out_size: int | None = None,
                 flags: int = 0, cpu: int = 0) -> RunResult:
        """Run the program ``repeat`` times on ``data`` (a packet) and ``ctx``.

        ``data_out_size`` bounds the packet read back (default: room for the input plus
        what a program may add, 256 bytes); ``ctx_out_size`` likewise for the context.
        """
        if not 1 <= repeat <= self.MAX_REPEAT:
            raise ValueError(f"repeat must be between 1 and {self.MAX_REPEAT} (the kernel's count is 32 bits), "
                             f"not {repeat}")
        data_out = len(data) + 256 if data_out_size is None else data_out_size
        ctx_out = (len(ctx) if ctx else 0) if ctx_out_size is None else ctx_out_size
        return self._test_run(bytes(data), None if ctx is None else bytes(ctx), repeat,
                              data_out, ctx_out, flags, cpu)

    @abstractmethod
    def _test_run(self, data: bytes, ctx: bytes | None, repeat: int, data_out_size: int,
                  ctx_out_size: int, flags: int, cpu: int) -> RunResult:
        """The engine's run; arguments already checked and defaulted."""

    @abstractmethod
    def _close(self) -> None:
        """Release the engine's resources for this program (called once)."""

    def attach(self, target: str | None = None, **options: Any) -> Link:
        """Attach the program to ``target`` (a bpftrace-style probe name such as
        ``tracepoint:sched:sched_process_exec``, ``xdp:eth0``, ``cgroup:/sys/fs/cgroup/x:egress``)
        or, without one, where its section name says. Returns the :class:`Link`; closing
        it (or the program) detaches. Only the kernel engine has hooks to attach to."""
        raise EngineUnavailable(
            f"program {self.name!r} is loaded on the {self.engine} engine, which has no kernel hooks to "
            "attach to: run it with test_run() (or `pybpf replay` for packets), or load it with engine='kernel'")

    @property
    @abstractmethod
    def id(self) -> int:
        """The engine's id for this program: what program arrays read back for it."""

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<{type(self).__name__} {self.name!r} {self.type}{state}>"
