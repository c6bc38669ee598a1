"""Decoding helper arguments and encoding results the way the kernel's helpers do, shared
by the families: a map operand is the opaque handle ``r1 = map[fd:ID]`` loaded
(``MAP_HANDLE_BASE + id``), and an error is returned as a negative errno in r0."""

from __future__ import annotations

from pybpf.vm.constants import M64, MAP_HANDLE_BASE
from pybpf.vm.errors import VMError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any


def map_operand(vm: Any, handle: int) -> Any:
    """The map this program was loaded with whose handle is ``handle`` (VMError otherwise)."""
    found = vm.program.maps.get((handle - MAP_HANDLE_BASE) & M64) if handle is not None else None
    if found is None:
        raise VMError(f"0x{handle or 0:x} is not a map this program was loaded with")
    return found


#: bytes a helper copies per unit of the run's budget: copying 64 bytes (read from vm
#: memory, kept as bytes, written back) costs about what one interpreted instruction does
#: (docs/vm.md, "Helper costs")
COPY_BYTES_PER_UNIT = 64


def charge_copy(vm: Any, size: int) -> None:
    """Count a helper's copy of ``size`` bytes in the run's budget (before copying, so a
    copy the budget cannot pay for does not happen on the JIT): a program looping over
    large copies is stopped by ``max_instructions`` as a loop of instructions is."""
    units = (size & 0xFFFF_FFFF) // COPY_BYTES_PER_UNIT
    if units:
        vm.charge(units)


def errno_result(code: int) -> int:
    """``code`` (0 or a negative errno) as the unsigned 64-bit r0 the program sees."""
    return code & M64


def signed32(value: int) -> int:
    """The low 32 bits of ``value`` as a signed int (an ``int`` argument of a helper)."""
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value >> 31 else value
