"""bpf_trace_printk and bpf_trace_vprintk: the kernel's printk subset, written to the run's output, charged to
the run's budget by the bytes it handles, and kept up to MAX_OUTPUT bytes per run."""

from __future__ import annotations

import re

from pybpf.vm.constants import M64
from pybpf.vm.errors import VMError
from pybpf.vm.helpers.registry import Family

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from typing import Any

FAMILY = Family("printk")

_CONVERSION = re.compile(r"%(?P<len>ll|l)?(?P<conv>[diuxXpsc%])")
#: bytes of bpf_trace_printk text a run keeps; what comes after is counted, not kept
MAX_OUTPUT = 64 * 1024
#: budget units of a bpf_trace_printk call on top of its call instruction, and the bytes
#: (format, %s strings, text written) that cost one more unit: about what the call costs
#: in time, measured in interpreted instructions (docs/vm.md, "Helper costs")
PRINTK_COST, PRINTK_BYTES_PER_UNIT = 128, 8


@FAMILY.helper("bpf_trace_printk")
def trace_printk(vm: Any, fmt: int, fmt_size: int, *args: int) -> int:
    """Format up to three arguments with the kernel's printk subset (%d %i %u %x %ld %lld
    %lu %llx %s %p %c) and append the text to the run's output; returns its length. The
    call is charged to the budget by the bytes it handles, and a run keeps at most
    MAX_OUTPUT bytes of text (a last line says how much more was dropped)."""
    return _printk(vm, "bpf_trace_printk", fmt, fmt_size, list(args[:3]))


#: the most arguments bpf_trace_vprintk takes (the kernel's MAX_TRACE_PRINTK_VARARGS)
MAX_VARARGS = 12


@FAMILY.helper("bpf_trace_vprintk")
def trace_vprintk(vm: Any, fmt: int, fmt_size: int, data: int, data_len: int, *_: int) -> int:
    """bpf_trace_printk with its arguments in an array of u64 (``data_len`` bytes, up to
    twelve of them): what bpf_printk uses for more than three."""
    data_len &= 0xFFFF_FFFF
    if data_len % 8 or data_len > 8 * MAX_VARARGS or (data_len and not data):
        return -22 & M64                                               # -EINVAL
    raw = vm.memory.read_bytes(data, data_len) if data_len else b""
    values = [int.from_bytes(raw[i:i + 8], "little") for i in range(0, data_len, 8)]
    return _printk(vm, "bpf_trace_vprintk", fmt, fmt_size, values)


def _printk(vm: Any, name: str, fmt: int, fmt_size: int, values: list[int]) -> int:
    if fmt_size <= 0 or fmt_size > 4096:
        raise VMError(f"{name}: format size {fmt_size} is not between 1 and 4096")
    raw = vm.memory.read_bytes(fmt, fmt_size).split(b"\0", 1)[0].decode("utf-8", "replace")
    supplied = len(values)
    out = []
    position = 0
    for match in _CONVERSION.finditer(raw):
        out.append(raw[position:match.start()])
        position = match.end()
        conv = match["conv"]
        if conv == "%":
            out.append("%")
            continue
        if not values:
            raise VMError(f"{name}: more conversions than arguments ({supplied})")
        out.append(_convert(vm, conv, 64 if match["len"] else 32, values.pop(0)))
    out.append(raw[position:])
    text = "".join(out)
    size = len(text.encode())
    vm.charge(PRINTK_COST + (fmt_size + 2 * size) // PRINTK_BYTES_PER_UNIT)
    _keep_output(vm, text, size)
    return size


def _convert(vm: Any, conv: str, bits: int, value: int) -> str:
    """The text of one conversion ``conv`` of an argument ``bits`` wide."""
    if conv in "di":
        value &= (1 << bits) - 1
        return str(value - (1 << bits) if value >> (bits - 1) else value)
    if conv == "u":
        return str(value & ((1 << bits) - 1))
    if conv in "xX":
        text = f"{value & ((1 << bits) - 1):x}"
        return text.upper() if conv == "X" else text
    if conv == "p":
        return f"0x{value & M64:x}"
    if conv == "c":
        return chr(value & 0xFF)
    return vm.memory.read_string(value).decode("utf-8", "replace")


def _keep_output(vm: Any, text: str, size: int) -> None:
    """Append ``text`` to the run's output while it stays within MAX_OUTPUT bytes; past
    that, keep one last line that counts the bytes dropped."""
    kept = vm.__dict__.get("output_bytes", 0)
    if kept + size <= MAX_OUTPUT:
        vm.output.append(text)
        vm.__dict__["output_bytes"] = kept + size
        return
    dropped = vm.__dict__.get("output_dropped", 0) + size
    vm.__dict__["output_dropped"] = dropped
    notice = f"[pybpf: output beyond {MAX_OUTPUT} bytes dropped: {dropped} bytes]\n"
    if dropped == size:
        vm.output.append(notice)
    else:
        vm.output[-1] = notice
