"""C source that reads a USDT probe's arguments in a BPF program, generated from the
probe's note: ``usdt_arg(regs, N, &value)`` — what BCC's ``bpf_usdt_readarg`` and
libbpf's ``bpf_usdt_arg`` give, without a spec map, because pybpf compiles each program
for the probe it attaches to.
"""

from __future__ import annotations

from pybpf.usdt.arguments import ArgKind, UsdtArgument, x86_64_register_offset
from pybpf.usdt.errors import UsdtError
from pybpf.usdt.notes import UsdtProbe

#: ``struct pt_regs``'s ip
_IP = x86_64_register_offset("rip")


def _register(offset: int) -> str:
    """The pt_regs field at ``offset``, loaded by an instruction of its own. A plain
    ``*(u64 *)((char *)regs + offset)`` per case lets clang merge the loads of several
    cases or sites (a hotspot probe's arguments in different registers at different
    sites) into one load from ``regs`` plus a chosen offset, which the verifier refuses
    ("dereference of modified ctx ptr"); volatile asm is never merged."""
    return (f'({{ u64 __reg; asm volatile("%0 = *(u64 *)(%1 + {offset})" : "=r"(__reg) : "r"(regs)); '
            '__reg; })')


def _case(number: int, arg: UsdtArgument, site: int) -> str:
    shift = arg.bitshift
    narrow = (f"(u64)((s64)(raw << {shift}) >> {shift})" if arg.signed else f"(raw << {shift}) >> {shift}") \
        if shift else "raw"
    if arg.kind == ArgKind.CONST:
        fetch = f"raw = (u64){arg.value}LL;"
    elif arg.kind == ArgKind.GLOBAL and not arg.resolved:     # EOPNOTSUPP: the file names no such global
        return f"    case {number}: return -95;  /* {arg.spec}: no symbol {arg.symbol} in the file */\n"
    elif arg.kind == ArgKind.GLOBAL:
        # a uprobe's handler sees ip at the probe's own address (site), so ip - site is
        # the file's load bias in the process, PIE or not
        address = f"{_register(_IP)} - {site}ULL + {arg.value}ULL"
        fetch = f"raw = 0; if (bpf_probe_read_user(&raw, {arg.size}, (void *)({address}))) return -14;"
    elif arg.kind == ArgKind.REG:
        fetch = f"raw = {_register(arg.reg_offset)};"
    else:
        base = _register(arg.reg_offset)
        if arg.kind == ArgKind.SIB:
            base += f" + {_register(arg.index_offset)} * {arg.scale}"
        fetch = (f"raw = 0; if (bpf_probe_read_user(&raw, {arg.size}, (void *)({base} + ({arg.value})))) "
                 "return -14;")
    return f"    case {number}: {{ {fetch} *value = (long)({narrow}); return 0; }}  /* {arg.spec} */\n"


def c_reader(probe: UsdtProbe, name: str = "usdt_arg") -> str:
    """``static __always_inline long NAME(struct pt_regs *regs, int n, long *value)``:
    0 and the argument's value (sign-extended when the spec says signed), -2 for an
    argument the probe does not have, -14 when its memory cannot be read."""
    if probe.error:
        raise UsdtError(probe.error)
    cases = "".join(_case(number, arg, probe.address) for number, arg in enumerate(probe.arguments))
    return (f"/* arguments of USDT {probe.qualified_name} in {probe.path} */\n"
            f"static __always_inline long {name}(struct pt_regs *regs, int n, long *value)\n{{\n"
            f"    u64 raw;\n    switch (n) {{\n{cases}    default: return -2;\n    }}\n}}\n")
