"""Classic BPF checked the way the kernel checks it, and translated to eBPF so that the
vm engine (and its JIT, with its batch entry point) runs packet filters.

The translation keeps classic semantics exactly: A lives in w0 and X in w7, both 32-bit;
the scratch words M[0..15] are stack slots, zeroed where the program reads them; packet loads use eBPF's legacy
LD_ABS/LD_IND, which end the program with 0 past the captured bytes just as a classic
load does; a division by X = 0 returns 0. The packet length is the input length (r2 in
the vm's convention), kept in r9.
"""

from __future__ import annotations

from collections.abc import Sequence

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.instruction import CbpfError, Instruction
from pybpf.isa import Instruction as E
from pybpf.isa import opcodes as o

A, X, LEN, SAVE = 0, 7, 9, 8
_SIZES = {c.W: o.W, c.H: o.H, c.B: o.B}
_ALU = {c.ADD: o.ADD, c.SUB: o.SUB, c.MUL: o.MUL, c.DIV: o.DIV, c.MOD: o.MOD, c.AND: o.AND, c.OR: o.OR,
        c.XOR: o.XOR, c.LSH: o.LSH, c.RSH: o.RSH}
_JUMPS = {c.JEQ: o.JEQ, c.JGT: o.JGT, c.JGE: o.JGE, c.JSET: o.JSET}


#: the opcodes the kernel accepts in a classic program (net/core/filter.c,
#: chk_code_allowed): ``ret x`` is not among them, though libpcap's interpreter runs it
KERNEL_OPCODES = frozenset(
    [c.ALU | op | source for op in _ALU for source in (c.K, c.X)] + [c.ALU | c.NEG]
    + [c.LD | size | mode for size in (c.W, c.H, c.B) for mode in (c.ABS, c.IND)]
    + [c.LD | c.W | c.LEN, c.LD | c.IMM, c.LD | c.MEM, c.LDX | c.W | c.LEN, c.LDX | c.B | c.MSH, c.LDX | c.IMM,
       c.LDX | c.MEM, c.ST, c.STX, c.MISC | c.TAX, c.MISC | c.TXA, c.RET | c.K, c.RET | c.A, c.JMP | c.JA]
    + [c.JMP | op | source for op in _JUMPS for source in (c.K, c.X)])
_CLASS_NAMES = {c.LD: "load", c.LDX: "load", c.ST: "store", c.STX: "store", c.ALU: "ALU", c.JMP: "jump",
                c.RET: "return", c.MISC: "misc"}


def validate(program: Sequence[Instruction]) -> None:
    """Raise :class:`CbpfError` for what the kernel's ``bpf_check_classic`` refuses, so a
    program is known good before ``setsockopt``/``seccomp`` answer a bare EINVAL: empty or
    longer than 4096, an opcode the kernel does not know, a jump out of the program (all
    jumps go forward: the offsets are unsigned), division or modulo by the constant 0, a
    constant shift of 32 or more, an unknown ancillary load, a scratch word past M[15] or
    read before any path writes it, and a last instruction other than ``ret #k``/``ret a``.
    Each message names the instruction index."""
    if not program or len(program) > c.MAXINSNS:
        raise CbpfError(f"a classic program has 1 to {c.MAXINSNS} instructions, not {len(program)}")
    for pc, ins in enumerate(program):
        _check_instruction(pc, ins, len(program))
    if program[-1].code not in (c.RET | c.K, c.RET | c.A):
        raise CbpfError(f"instruction {len(program) - 1}: the program must end with a return")
    _check_scratch(program)


def _check_instruction(pc: int, ins: Instruction, count: int) -> None:
    """One instruction's own checks, in the kernel's order."""
    where, code, k = f"instruction {pc}", ins.code, ins.k
    if code not in KERNEL_OPCODES:
        kind = _CLASS_NAMES[c.cls(code)]
        extra = " (the kernel returns only #k or a)" if code == c.RET | c.X else ""
        raise CbpfError(f"{where}: unknown {kind} opcode 0x{code:02x}{extra}")
    if code in (c.ALU | c.DIV | c.K, c.ALU | c.MOD | c.K) and k == 0:
        raise CbpfError(f"{where}: division by the constant 0")
    if code in (c.ALU | c.LSH | c.K, c.ALU | c.RSH | c.K) and k >= 32:
        raise CbpfError(f"{where}: shift by the constant {k} (at most 31)")
    if code in (c.LD | c.MEM, c.LDX | c.MEM, c.ST, c.STX) and k >= c.MEMWORDS:
        raise CbpfError(f"{where}: scratch word M[{k}] does not exist (M[0]-M[15])")
    if code == c.JMP | c.JA and pc + 1 + k >= count:
        raise CbpfError(f"{where}: ja {k} jumps past the end of the program")
    if c.cls(code) == c.JMP and code != c.JMP | c.JA and pc + 1 + max(ins.jt, ins.jf) >= count:
        raise CbpfError(f"{where}: a conditional jump goes past the end of the program "
                        f"(jt {ins.jt}, jf {ins.jf} from {pc} in {count} instructions)")
    if c.cls(code) == c.LD and c.mode(code) == c.ABS and k >= c.SKF_AD_OFF & 0xFFFF_FFFF:
        offset = k - (c.SKF_AD_OFF & 0xFFFF_FFFF)
        if offset >= c.SKF_AD_MAX or offset % 4:
            raise CbpfError(f"{where}: unknown ancillary load SKF_AD_OFF + {offset}")


def _check_scratch(program: Sequence[Instruction]) -> None:
    """No M[k] read on a path where it was never written (the kernel's rule)."""
    written: dict[int, frozenset[int]] = {0: frozenset()}
    for pc, ins in enumerate(program):
        if pc not in written:
            continue
        here = written[pc]
        kind = c.cls(ins.code)
        if kind in (c.LD, c.LDX) and c.mode(ins.code) == c.MEM and ins.k not in here:
            raise CbpfError(f"instruction {pc}: reads M[{ins.k}] before any path writes it")
        after = here | {ins.k} if kind in (c.ST, c.STX) else here
        if kind == c.RET:
            continue
        if kind == c.JMP and c.op(ins.code) == c.JA:
            successors = [pc + 1 + ins.k]
        elif kind == c.JMP:
            successors = [pc + 1 + ins.jt, pc + 1 + ins.jf]
        else:
            successors = [pc + 1]
        for nxt in successors:
            written[nxt] = after if nxt not in written else written[nxt] & after


def to_ebpf(program: Sequence[Instruction], socket_filter: bool = False) -> list[E]:
    """eBPF instructions with the classic program's exact results (see the module text).
    Linux ancillary loads have no eBPF equivalent here and are refused. With
    ``socket_filter`` the program is for the kernel's BPF_PROG_TYPE_SOCKET_FILTER: the
    packet length comes from ``__sk_buff.len`` and LD_ABS/LD_IND read the skb in r6."""
    if socket_filter:
        entry = [E(o.ALU64 | o.MOV | o.X, 6, 1), E(o.LDX | o.MEM | o.W, LEN, 1, 0, 0)]   # r6 = skb; w9 = skb->len
    else:
        entry = [E(o.ALU64 | o.MOV | o.X, LEN, 2)]
    prologue = [E(o.ALU | o.MOV | o.K, A), E(o.ALU | o.MOV | o.K, X), *entry]
    # the scratch words the program reads start zeroed (two to a stack slot); a program
    # without them touches no memory, so its compiled code needs no stack at all
    read = {i.k // 2 for i in program if c.cls(i.code) in (c.LD, c.LDX) and c.mode(i.code) == c.MEM}
    prologue += [E(o.ST | o.MEM | o.DW, 10, 0, -8 * (slot + 1), 0) for slot in sorted(read)]
    # a shared "return 0" for divisions by X = 0, jumped over on the way in (only where
    # there is such a division: the kernel refuses code nothing reaches)
    divides = any(c.cls(i.code) == c.ALU and c.op(i.code) in (c.DIV, c.MOD) and c.src(i.code) == c.X
                  for i in program)
    head = prologue + ([E(o.JMP | o.JA, 0, 0, 2), E(o.ALU | o.MOV | o.K, A), E(o.JMP | o.EXIT)] if divides else [])
    zero = len(prologue) + 1
    blocks: list[list[E]] = []
    fixups: list[tuple[int, int, int, str]] = []   # (classic pc, position in its block, target, kind)
    for pc, ins in enumerate(program):
        block: list[E] = []
        _translate(pc, ins, block, fixups, pc)
        blocks.append(block)
    starts, position = [], len(head)
    for block in blocks:
        starts.append(position)
        position += len(block)
    code = head + [ins for block in blocks for ins in block]
    for pc, offset, target, kind in fixups:
        index = starts[pc] + offset
        if kind == "zero":
            destination = zero
        elif 0 <= target < len(program):
            destination = starts[target]
        else:
            raise CbpfError(f"instruction {pc}: jumps to {target}, outside the program")
        jump = code[index]
        code[index] = E(jump.opcode, jump.dst, jump.src, destination - (index + 1), jump.imm)
    return code


def _translate(pc: int, ins: Instruction, out: list[E], fixups: list, block: int) -> None:
    code, k = ins.code, ins.k
    kind = c.cls(code)
    signed_k = k - (1 << 32) if k >> 31 else k
    if kind == c.RET:
        source = c.rval(code)
        if source == c.K:
            out.append(E(o.ALU | o.MOV | o.K, A, 0, 0, signed_k))
        elif source == c.X:
            out.append(E(o.ALU | o.MOV | o.X, A, X))
        out.append(E(o.JMP | o.EXIT))
    elif kind in (c.LD, c.LDX):
        mode = c.mode(code)
        dst = A if kind == c.LD else X
        if kind == c.LD and mode in (c.ABS, c.IND):
            if mode == c.ABS and c.SKF_AD_OFF <= signed_k < 0:
                raise CbpfError(f"instruction {pc}: Linux ancillary loads cannot be translated")
            eb_mode = o.ABS if mode == c.ABS else o.IND
            out.append(E(o.LD | eb_mode | _SIZES[c.size(code)], 0, X if mode == c.IND else 0, 0, signed_k))
        elif mode == c.IMM:
            out.append(E(o.ALU | o.MOV | o.K, dst, 0, 0, signed_k))
        elif mode == c.LEN:
            out.append(E(o.ALU | o.MOV | o.X, dst, LEN))
        elif mode == c.MEM:
            out.append(E(o.LDX | o.MEM | o.W, dst, 10, -4 * (k + 1)))
        elif mode == c.MSH and kind == c.LDX:
            out += [E(o.ALU64 | o.MOV | o.X, SAVE, A), E(o.LD | o.ABS | o.B, 0, 0, 0, signed_k),
                    E(o.ALU | o.AND | o.K, A, 0, 0, 0xF), E(o.ALU | o.LSH | o.K, A, 0, 0, 2),
                    E(o.ALU | o.MOV | o.X, X, A), E(o.ALU64 | o.MOV | o.X, A, SAVE)]
        else:
            raise CbpfError(f"instruction {pc}: unknown load opcode 0x{code:02x}")
    elif kind in (c.ST, c.STX):
        out.append(E(o.STX | o.MEM | o.W, 10, A if kind == c.ST else X, -4 * (k + 1)))
    elif kind == c.ALU:
        operation = c.op(code)
        if operation == c.NEG:
            out.append(E(o.ALU | o.NEG, A))
        elif c.src(code) == c.X:
            if operation in (c.DIV, c.MOD):  # classic: dividing by X = 0 rejects the packet
                fixups.append((block, len(out), -1, "zero"))
                out.append(E(o.JMP32 | o.JEQ | o.K, X, 0, 0, 0))
            out.append(E(o.ALU | _ALU[operation] | o.X, A, X))
        else:
            if operation in (c.LSH, c.RSH) and k >= 32:
                out.append(E(o.ALU | o.MOV | o.K, A))           # classic shifts past 31 give 0
            else:
                out.append(E(o.ALU | _ALU[operation] | o.K, A, 0, 0, signed_k))
    elif kind == c.JMP:
        operation = c.op(code)
        if operation == c.JA:
            fixups.append((block, len(out), (pc + 1 + k) & 0xFFFF_FFFF, "ja"))
            out.append(E(o.JMP | o.JA))
            return
        jump = _JUMPS[operation]
        by_x = c.src(code) == c.X
        fixups.append((block, len(out), pc + 1 + ins.jt, "jt"))
        out.append(E(o.JMP32 | jump | (o.X if by_x else o.K), A, X if by_x else 0, 0, 0 if by_x else signed_k))
        fixups.append((block, len(out), pc + 1 + ins.jf, "jf"))
        out.append(E(o.JMP | o.JA))
    else:
        out.append(E(o.ALU | o.MOV | o.X, X, A) if c.op(code) == c.TAX else E(o.ALU | o.MOV | o.X, A, X))
