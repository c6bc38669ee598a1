"""A small eBPF assembler for the code generator: instructions appended one by one,
jumps to named labels resolved at the end (lddw takes two slots), map references
recorded for the loader, and a stack frame handed out in 8-byte-aligned pieces."""

from __future__ import annotations

from pybpf.isa import opcodes as o
from pybpf.isa.instruction import Instruction
from pybpf.trace.errors import TraceSyntaxError

JUMP_OPS = {"==": o.JEQ, "!=": o.JNE, ">": o.JGT, ">=": o.JGE, "<": o.JLT, "<=": o.JLE,
            "s>": o.JSGT, "s>=": o.JSGE, "s<": o.JSLT, "s<=": o.JSLE, "&": o.JSET}
ALU_OPS = {"+": o.ADD, "-": o.SUB, "*": o.MUL, "/": o.DIV, "%": o.MOD, "|": o.OR, "&": o.AND,
           "^": o.XOR, "<<": o.LSH, ">>": o.RSH, "s>>": o.ARSH, "mov": o.MOV}
SIZES = {1: o.B, 2: o.H, 4: o.W, 8: o.DW}


class Emitter:
    """One program's instructions under construction."""

    def __init__(self) -> None:
        self.code: list[Instruction | tuple] = []
        self.labels: dict[str, int] = {}
        self.references: dict[int, str] = {}
        self._label_count = 0
        self.stack = 0            #: bytes of stack in use (grows down from r10)
        self.stack_peak = 0
        #: finished bpf-to-bpf functions (callbacks of bpf_for_each_map_elem, bpf_loop)
        self.functions: list[tuple[list[Instruction], dict[int, str]]] = []

    # -- labels and jumps ----------------------------------------------------------

    def label(self, hint: str = "L") -> str:
        self._label_count += 1
        return f"{hint}{self._label_count}"

    def place(self, label: str) -> None:
        self.labels[label] = len(self.code)

    def jump(self, label: str) -> None:
        self.code.append(("ja", label))

    def jump_if(self, op: str, dst: int, operand: int, label: str, register: bool = False) -> None:
        """``if dst OP operand goto label``; ``operand`` a register when ``register``."""
        self.code.append(("jcc", JUMP_OPS[op], dst, operand, register, label))

    # -- instructions -------------------------------------------------------------

    def raw(self, ins: Instruction) -> None:
        self.code.append(ins)

    def mov(self, dst: int, value: int) -> None:
        if -0x8000_0000 <= value <= 0x7FFF_FFFF:
            self.code.append(Instruction(o.ALU64 | o.MOV | o.K, dst, 0, 0, value))
        else:
            self.code.append(Instruction(o.LDDW, dst, 0, 0, value & 0xFFFF_FFFF_FFFF_FFFF))

    def movr(self, dst: int, src: int) -> None:
        if dst != src:
            self.code.append(Instruction(o.ALU64 | o.MOV | o.X, dst, src))

    def alu(self, op: str, dst: int, value: int) -> None:
        if not -0x8000_0000 <= value <= 0x7FFF_FFFF:
            self.mov(9, value)
            self.alur(op, dst, 9)
            return
        self.code.append(Instruction(o.ALU64 | ALU_OPS[op] | o.K, dst, 0, 0, value))

    def alur(self, op: str, dst: int, src: int) -> None:
        self.code.append(Instruction(o.ALU64 | ALU_OPS[op] | o.X, dst, src))

    def neg(self, dst: int) -> None:
        self.code.append(Instruction(o.ALU64 | o.NEG, dst))

    def load(self, dst: int, base: int, offset: int, size: int = 8) -> None:
        self.code.append(Instruction(o.LDX | o.MEM | SIZES[size], dst, base, offset))

    def store(self, base: int, offset: int, src: int, size: int = 8) -> None:
        self.code.append(Instruction(o.STX | o.MEM | SIZES[size], base, src, offset))

    def store_imm(self, base: int, offset: int, value: int, size: int = 8) -> None:
        self.code.append(Instruction(o.ST | o.MEM | SIZES[size], base, 0, offset, value))

    def call(self, helper: int) -> None:
        self.code.append(Instruction(o.JMP | o.CALL, 0, 0, 0, helper))

    def load_map(self, dst: int, name: str) -> None:
        self.references[len(self.code)] = name
        self.code.append(Instruction(o.LDDW, dst, o.PSEUDO_MAP_FD, 0, 0))

    def load_function(self, dst: int, code: tuple[list[Instruction], dict[int, str]]) -> None:
        """``dst`` = the address of a function (a finished instruction list with its map
        references), which is placed after this program's code."""
        self.functions.append(code)
        self.code.append(("func", dst, len(self.functions) - 1))

    def exit(self) -> None:
        self.code.append(Instruction(o.JMP | o.EXIT))

    def sign_extend(self, reg: int, size: int) -> None:
        if size < 8:
            shift = 64 - 8 * size
            self.alu("<<", reg, shift)
            self.alu("s>>", reg, shift)

    def zero_extend(self, reg: int, size: int) -> None:
        if size < 8:
            self.alu("<<", reg, 64 - 8 * size)
            self.alu(">>", reg, 64 - 8 * size)

    # -- stack -----------------------------------------------------------------------

    def alloc(self, size: int, where: object = None) -> int:
        """A fresh piece of stack of ``size`` bytes; its offset from r10 (negative)."""
        self.stack += (size + 7) // 8 * 8
        if self.stack > o.STACK_SIZE:
            position, length = getattr(where, "position", None), getattr(where, "length", 1)
            raise TraceSyntaxError(f"the probe needs more than {o.STACK_SIZE} bytes of stack "
                                   "(strings and tuples are kept on the BPF stack)", "", position, length)
        self.stack_peak = max(self.stack_peak, self.stack)
        return -self.stack

    def zero(self, offset: int, size: int) -> None:
        for at in range(offset, offset + (size + 7) // 8 * 8, 8):
            self.store_imm(10, at, 0)

    def zero_exact(self, offset: int, size: int) -> None:
        """Zero exactly ``size`` bytes at stack ``offset`` (any alignment: each store is
        aligned, as the verifier wants of the stack)."""
        at, end = offset, offset + size
        while at < end:
            width = next(w for w in (8, 4, 2, 1) if at % w == 0 and at + w <= end)
            self.store_imm(10, at, 0, width)
            at += width

    def copy_exact(self, dst: int, src: int, size: int) -> None:
        """Copy exactly ``size`` bytes between stack offsets of any alignment."""
        done = 0
        while done < size:
            width = next(w for w in (8, 4, 2, 1)
                         if (dst + done) % w == 0 and (src + done) % w == 0 and done + w <= size)
            self.load(0, 10, src + done, width)
            self.store(10, dst + done, 0, width)
            done += width

    def copy(self, dst: int, src: int, size: int) -> None:
        """Copy ``size`` bytes (a multiple of 8 rounded up) between stack offsets."""
        for at in range(0, (size + 7) // 8 * 8, 8):
            self.load(0, 10, src + at)
            self.store(10, dst + at, 0)

    # -- result ----------------------------------------------------------------------

    def _drop_unreachable(self) -> None:
        """Remove code no path reaches (after exit(), return, break...): the kernel's
        verifier refuses a program with unreachable instructions."""
        at_label: dict[int, list[str]] = {}
        for name, index in self.labels.items():
            at_label.setdefault(index, []).append(name)
        reachable, todo = set(), [0]
        while todo:
            index = todo.pop()
            if index in reachable or index >= len(self.code):
                continue
            reachable.add(index)
            item = self.code[index]
            if isinstance(item, Instruction):
                if item.opcode != o.JMP | o.EXIT:
                    todo.append(index + 1)
            elif item[0] == "ja":
                todo.append(self.labels[item[-1]])
            elif item[0] == "func":
                todo.append(index + 1)
            else:
                todo.extend((index + 1, self.labels[item[-1]]))
        if len(reachable) == len(self.code):
            return
        kept: list[Instruction | tuple] = []
        new_index: dict[int, int] = {}
        for index, item in enumerate(self.code):
            new_index[index] = len(kept)
            if index in reachable:
                kept.append(item)
        new_index[len(self.code)] = len(kept)
        self.labels = {name: new_index[index] for name, index in self.labels.items()}
        self.references = {new_index[index]: name for index, name in self.references.items() if index in reachable}
        self.code = kept

    def finish(self) -> tuple[list[Instruction], dict[int, str]]:
        """Resolve jumps and function addresses: the instructions (this program's, then
        its functions') and the instruction-index → map name references."""
        self._drop_unreachable()
        slots, slot = [], 0
        for item in self.code:
            slots.append(slot)
            slot += item.slots if isinstance(item, Instruction) else 2 if item[0] == "func" else 1
        slots.append(slot)
        starts = []
        for code, _ in self.functions:
            starts.append(slot)
            slot += sum(ins.slots for ins in code)
        out: list[Instruction] = []
        for index, item in enumerate(self.code):
            if isinstance(item, Instruction):
                out.append(item)
            elif item[0] == "func":
                out.append(Instruction(o.LDDW, item[1], o.PSEUDO_FUNC, 0, starts[item[2]] - slots[index] - 1))
            else:
                target = slots[self.labels[item[-1]]] - slots[index] - 1
                if item[0] == "ja":
                    out.append(Instruction(o.JMP | o.JA, 0, 0, target))
                else:
                    _, code, dst, operand, register, _ = item
                    if register:
                        out.append(Instruction(o.JMP | code | o.X, dst, operand, target))
                    else:
                        out.append(Instruction(o.JMP | code | o.K, dst, 0, target, operand))
        references = dict(self.references)
        for code, refs in self.functions:
            references.update({len(out) + at: name for at, name in refs.items()})
            out.extend(code)
        return out, references
