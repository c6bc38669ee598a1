"""The pcap-filter language (tcpdump expressions) compiled to classic BPF.

    >>> from pybpf.filter import compile_filter
    >>> program = compile_filter("tcp port 80 and host 10.0.0.1")
    >>> len(program)          # instructions

The result is a list of :class:`pybpf.cbpf.Instruction`: the cBPF interpreter runs it,
``pybpf.cbpf.dump`` prints it as ``tcpdump -d`` does, ``pybpf.cbpf.to_ebpf`` translates it.
"""

from __future__ import annotations

from pybpf.cbpf.instruction import Instruction
from pybpf.filter import deep, ir
from pybpf.filter.codegen import Generator
from pybpf.filter.errors import FilterError
from pybpf.filter.linktypes import LINK_TYPES, LinkLayout, link_type
from pybpf.filter.optimizer import optimize as _optimize
from pybpf.filter.parser import parse as _parse

__all__ = ["LINK_TYPES", "FilterError", "LinkLayout", "compile_filter", "link_type", "parse"]


def parse(expression: str):
    """The syntax tree of ``expression`` (None for an empty one); deep nesting is
    parsed on a big stack (see :mod:`pybpf.filter.deep`)."""
    return deep.run(_parse, expression)


def compile_filter(expr: str, linktype: str | int = "EN10MB", snaplen: int = 262144, optimize: bool = True,
            netmask: int = 0, *, linux_extensions: bool = False) -> list[Instruction]:
    """The classic BPF program for ``expr`` on packets of ``linktype``: it returns
    ``snaplen`` for packets that match and 0 for the others. ``netmask`` (an IPv4 mask
    as an integer) is used only by ``ip broadcast``; 0xffffffff means unknown, which
    makes ``ip broadcast`` an error. The optimizer refuses expressions it proves
    reject every packet, as libpcap does.

    ``linux_extensions`` generates what libpcap generates for a live Linux capture:
    packet metadata read through Linux's ancillary loads for ``vlan`` (the kernel may
    have moved the tag out of the frame), ``inbound``/``outbound`` and ``ifindex``.
    Such programs are for Linux sockets, not for capture files."""
    link = link_type(linktype)
    if not 0 < snaplen <= 0xFFFF_FFFF:
        raise FilterError(f"snapshot length {snaplen} is out of range")
    return deep.run(_compile, expr, link, snaplen, optimize, netmask, linux_extensions)


def _compile(expr: str, link: LinkLayout, snaplen: int, optimize: bool, netmask: int,
             linux_extensions: bool) -> list[Instruction]:
    tree = _parse(expr)
    if tree is None:
        fragment = ir.always(True)
    else:
        generator = Generator(link, expr, netmask, linux_extensions)
        fragment = generator.with_prologues(generator.generate(tree))
    root = ir.finish(fragment, snaplen)
    if optimize:
        root = _optimize(root)
        if root.is_return and root.k == 0:
            raise FilterError("expression rejects all packets", expr)
    return ir.emit(root)
