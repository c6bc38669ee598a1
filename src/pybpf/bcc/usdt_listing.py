"""What BCC's ``USDT.enumerate_probes()`` returns: one ``USDTProbe`` per probe (its sites
grouped, in the order the binary's notes first name them), with BCC's attributes — bytes
``provider``/``name``/``bin_path``, ``semaphore``, ``num_locations``, ``num_arguments`` —
and ``get_location(i)``/``get_argument(i)`` printing as BCC's do (tplist ``-v``/``-vv``,
funccount's and trace.py's ``u:`` probes compare the bytes names).

An argument prints the way BCC's USDT argument parser describes it: registers by their
``struct pt_regs`` names (``%edi`` → ``di``), memory as ``*(bp - 16)`` or
``*(ax + 8 + bx * 4)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pybpf.usdt import UsdtProbe
from pybpf.usdt.arguments import ArgKind, UsdtArgument

#: ``struct pt_regs`` offset → BCC's name of the register
_REGISTER_NAMES = {0: "r15", 8: "r14", 16: "r13", 24: "r12", 32: "bp", 40: "bx", 48: "r11", 56: "r10", 64: "r9",
                   72: "r8", 80: "ax", 88: "cx", 96: "dx", 104: "si", 112: "di", 128: "ip", 152: "sp"}
_SCALED = re.compile(r",%\w+,\d+\)$")


class USDTProbeArgument:
    """One argument of one site: ``size`` bytes, ``signed``, printed as BCC prints it."""

    def __init__(self, argument: UsdtArgument) -> None:
        self.argument = argument
        self.size = argument.size
        self.signed = argument.signed

    def _operand(self) -> str:
        arg = self.argument
        if arg.kind == ArgKind.CONST:
            return str(arg.value)
        base = _REGISTER_NAMES[arg.reg_offset]
        if arg.kind == ArgKind.REG:
            return base
        index = ""
        if arg.kind == ArgKind.SIB:
            index = f" + {_REGISTER_NAMES[arg.index_offset]}"
            if _SCALED.search(arg.spec):
                index += f" * {arg.scale}"
        return f"*({base} {'+' if arg.value >= 0 else '-'} {abs(arg.value)}{index})"

    def __str__(self) -> str:
        return f"{self.size} {'signed  ' if self.signed else 'unsigned'} bytes @ {self._operand()}"


class USDTProbeLocation:
    """One site of a probe: its ``address`` (the note's) in ``bin_path``."""

    def __init__(self, probe: USDTProbe, index: int, site: UsdtProbe) -> None:
        self.probe = probe
        self.index = index
        self.site = site
        self.num_arguments = probe.num_arguments
        self.address = site.address
        self.bin_path = site.path.encode()

    def __str__(self) -> str:
        return f"{self.bin_path.decode()} {self.address:#x}"

    def get_argument(self, index: int) -> USDTProbeArgument:
        from pybpf.bcc.usdt import USDTException

        if not 0 <= index < len(self.site.arguments):
            raise USDTException(f"error retrieving probe argument {index} location {self.index}")
        return USDTProbeArgument(self.site.arguments[index])


class USDTProbe:
    """A probe (``provider:name``) and its sites."""

    def __init__(self, sites: list[UsdtProbe]) -> None:
        first = sites[0]
        self.sites = sites
        self.provider = first.provider.encode()
        self.name = first.name.encode()
        self.bin_path = first.path.encode()
        self.semaphore = first.semaphore
        self.num_locations = len(sites)
        self.num_arguments = len(first.arguments)

    def __str__(self) -> str:
        return f"{self.short_name()} [sema {self.semaphore:#x}]"

    def short_name(self) -> str:
        return f"{self.provider.decode()}:{self.name.decode()}"

    def get_location(self, index: int) -> USDTProbeLocation:
        from pybpf.bcc.usdt import USDTException

        if not 0 <= index < self.num_locations:
            raise USDTException(f"error retrieving probe location {index}")
        return USDTProbeLocation(self, index, self.sites[index])


def probes_of(sites: Iterable[UsdtProbe]) -> list[USDTProbe]:
    """``sites`` grouped into probes (per binary), in the order each probe is first seen."""
    grouped: dict[tuple[str, str, str], list[UsdtProbe]] = {}
    for site in sites:
        grouped.setdefault((site.path, site.provider, site.name), []).append(site)
    return [USDTProbe(group) for group in grouped.values()]
