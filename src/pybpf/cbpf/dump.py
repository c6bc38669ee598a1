"""Classic BPF as text: the three forms ``tcpdump -d/-dd/-ddd`` print, and the ``-d``
form read back.

``-d`` is libpcap's ``bpf_image`` listing (``(004) jeq      #0x800           jt 5	jf 9``):
jump targets are absolute instruction numbers, constants hex where libpcap prints hex and
decimal where it prints decimal, Linux ancillary loads by name (``ldh [vlan_tci]``). With
``annotate`` each line also carries its opcode (``; 0x0015``), as libpcap's own tests show
it. ``-dd`` is C initialisers, ``-ddd`` decimal numbers, both as tcpdump prints them.
"""

from __future__ import annotations

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.instruction import CbpfError, Instruction

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import re
    from collections.abc import Sequence

#: libpcap's names for the Linux ancillary loads (SKF_AD_OFF + n)
ANCILLARY = {0: "proto", 4: "type", 8: "ifidx", 12: "nla", 16: "nlan", 20: "mark", 24: "queue", 28: "hatype",
             32: "rxhash", 36: "cpu", 40: "xor_x", 44: "vlan_tci", 48: "vlanp", 52: "poff", 56: "random",
             60: "vlan_tpid"}
_BY_NAME = {name: number for number, name in ANCILLARY.items()}
_LOAD_NAMES = {c.W: "ld", c.H: "ldh", c.B: "ldb"}
_ALU_NAMES = {c.ADD: "add", c.SUB: "sub", c.MUL: "mul", c.DIV: "div", c.MOD: "mod", c.AND: "and", c.OR: "or",
              c.XOR: "xor", c.LSH: "lsh", c.RSH: "rsh"}
_HEX_ALU = {c.AND, c.OR, c.XOR}
_JMP_NAMES = {c.JEQ: "jeq", c.JGT: "jgt", c.JGE: "jge", c.JSET: "jset"}


def _signed(k: int) -> int:
    return k - (1 << 32) if k >> 31 else k


def _operation(ins: Instruction, pc: int) -> tuple[str, str, str]:
    """(mnemonic, operand, jump part) of one instruction in libpcap's words."""
    code, k = ins.code, ins.k
    kind = c.cls(code)
    if kind == c.RET:
        source = c.rval(code)
        return "ret", (f"#{k}" if source == c.K else "x" if source == c.X else ""), ""
    if kind == c.LD:
        mode, name = c.mode(code), _LOAD_NAMES.get(c.size(code), "ld")
        if mode == c.ABS:
            offset = _signed(k)
            if c.SKF_AD_OFF <= offset < c.SKF_AD_OFF + c.SKF_AD_MAX and offset - c.SKF_AD_OFF in ANCILLARY:
                return name, f"[{ANCILLARY[offset - c.SKF_AD_OFF]}]", ""
            return name, f"[{k}]", ""
        if mode == c.IND:
            return name, f"[x + {k}]", ""
        if mode == c.MEM:
            return "ld", f"M[{k}]", ""
        if mode == c.LEN:
            return "ld", "#pktlen", ""
        return "ld", f"#0x{k:x}", ""
    if kind == c.LDX:
        mode = c.mode(code)
        if mode == c.MEM:
            return "ldx", f"M[{k}]", ""
        if mode == c.LEN:
            return "ldx", "#pktlen", ""
        if mode == c.MSH:
            return "ldxb", f"4*([{k}]&0xf)", ""
        return "ldx", f"#0x{k:x}", ""
    if kind == c.ST:
        return "st", f"M[{k}]", ""
    if kind == c.STX:
        return "stx", f"M[{k}]", ""
    if kind == c.ALU:
        operation = c.op(code)
        if operation == c.NEG:
            return "neg", "", ""
        operand = "x" if c.src(code) == c.X else (f"#0x{k:x}" if operation in _HEX_ALU else f"#{k}")
        return _ALU_NAMES.get(operation, "unimp"), operand, ""
    if kind == c.JMP:
        operation = c.op(code)
        if operation == c.JA:
            return "ja", f"{(pc + 1 + k) & 0xFFFF_FFFF}", ""
        operand = "x" if c.src(code) == c.X else f"#0x{k:x}"
        return _JMP_NAMES.get(operation, "unimp"), operand, f"jt {pc + 1 + ins.jt}\tjf {pc + 1 + ins.jf}"
    return ("tax" if c.op(code) == c.TAX else "txa"), "", ""


def image(ins: Instruction, pc: int, annotate: bool = False) -> str:
    """One ``tcpdump -d`` line."""
    name, operand, jumps = _operation(ins, pc)
    if jumps:
        line = f"({pc:03d}) {name:<8} {operand:<16} {jumps}"
        return f"{line}{' ' * 7}; 0x{ins.code:04x}" if annotate else line
    line = f"({pc:03d}) {name:<8} {operand}".rstrip()
    return f"{line:<50}; 0x{ins.code:04x}" if annotate else line


def dump(program: Sequence[Instruction], style: str = "d", annotate: bool = False) -> str:
    """The program as ``tcpdump -d`` (``style="d"``), ``-dd`` or ``-ddd`` prints it."""
    if style == "d":
        return "".join(image(ins, pc, annotate) + "\n" for pc, ins in enumerate(program))
    if style == "dd":
        return "".join(f"{{ 0x{i.code:x}, {i.jt}, {i.jf}, 0x{i.k:08x} }},\n" for i in program)
    if style == "ddd":
        return f"{len(program)}\n" + "".join(f"{i.code} {i.jt} {i.jf} {i.k}\n" for i in program)
    raise CbpfError(f"unknown dump style {style!r} (d, dd or ddd)")


#: a ``-d`` line (compiled on first use: re is not imported to print a program)
_LINE = (r"^\((?P<pc>\d+)\)\s+(?P<name>\w+)\s*(?P<operand>[^\t;]*?)\s*"
         r"(?:jt\s+(?P<jt>\d+)\s+jf\s+(?P<jf>\d+))?\s*(?:;\s*0x[0-9a-f]+)?\s*$")


def parse_dump(text: str) -> list[Instruction]:
    """Read ``tcpdump -d`` text back into instructions (or ``-ddd`` numbers)."""
    import re

    line_pattern = re.compile(_LINE)
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and re.fullmatch(r"\d+", lines[0].strip()):
        return _parse_ddd(lines)
    program: list[Instruction] = []
    for number, line in enumerate(lines, 1):
        match = line_pattern.match(line)
        if match is None:
            raise CbpfError(f"line {number}: not a tcpdump -d line: {line!r}")
        pc = int(match["pc"])
        if pc != len(program):
            raise CbpfError(f"line {number}: instruction ({pc:03d}) out of order (expected {len(program):03d})")
        program.append(_instruction(match, pc, number))
    return program


def _parse_ddd(lines: list[str]) -> list[Instruction]:
    count = int(lines[0])
    if count != len(lines) - 1:
        raise CbpfError(f"-ddd text says {count} instructions but has {len(lines) - 1}")
    out = []
    for number, line in enumerate(lines[1:], 2):
        try:
            code, jt, jf, k = (int(x) for x in line.split())
        except ValueError:
            raise CbpfError(f"line {number}: expected 'code jt jf k', got {line!r}") from None
        out.append(Instruction(code, jt, jf, k & 0xFFFF_FFFF))
    return out


def _number(text: str, number: int) -> int:
    try:
        return int(text, 0) & 0xFFFF_FFFF
    except ValueError:
        raise CbpfError(f"line {number}: bad number {text!r}") from None


def _instruction(m: re.Match, pc: int, number: int) -> Instruction:
    name, operand = m["name"], m["operand"].strip()
    if name == "ret":
        if operand.startswith("#"):
            return Instruction(c.RET | c.K, 0, 0, _number(operand[1:], number))
        return Instruction(c.RET | (c.X if operand == "x" else c.A), 0, 0, 0)
    if name in ("ld", "ldh", "ldb"):
        size = {"ld": c.W, "ldh": c.H, "ldb": c.B}[name]
        if operand == "#pktlen":
            return Instruction(c.LD | c.W | c.LEN, 0, 0, 0)
        if operand.startswith("#"):
            return Instruction(c.LD | c.W | c.IMM, 0, 0, _number(operand[1:], number))
        if operand.startswith("M["):
            return Instruction(c.LD | c.W | c.MEM, 0, 0, _number(operand[2:-1], number))
        inner = operand.strip("[]")
        if inner.startswith("x + "):
            return Instruction(c.LD | size | c.IND, 0, 0, _number(inner[4:], number))
        if inner in _BY_NAME:
            return Instruction(c.LD | size | c.ABS, 0, 0, (c.SKF_AD_OFF + _BY_NAME[inner]) & 0xFFFF_FFFF)
        return Instruction(c.LD | size | c.ABS, 0, 0, _number(inner, number))
    if name in ("ldx", "ldxb"):
        if name == "ldxb":
            import re

            inner = re.search(r"\[(\w+)\]", operand)
            if inner is None:
                raise CbpfError(f"line {number}: expected ldxb 4*([K]&0xf), got {operand!r}")
            return Instruction(c.LDX | c.B | c.MSH, 0, 0, _number(inner[1], number))
        if operand == "#pktlen":
            return Instruction(c.LDX | c.W | c.LEN, 0, 0, 0)
        if operand.startswith("M["):
            return Instruction(c.LDX | c.W | c.MEM, 0, 0, _number(operand[2:-1], number))
        return Instruction(c.LDX | c.W | c.IMM, 0, 0, _number(operand[1:], number))
    if name in ("st", "stx"):
        return Instruction(c.ST if name == "st" else c.STX, 0, 0, _number(operand[2:-1], number))
    if name == "neg":
        return Instruction(c.ALU | c.NEG, 0, 0, 0)
    alu = {v: k for k, v in _ALU_NAMES.items()}
    if name in alu:
        if operand == "x":
            return Instruction(c.ALU | alu[name] | c.X, 0, 0, 0)
        return Instruction(c.ALU | alu[name] | c.K, 0, 0, _number(operand[1:], number))
    if name == "ja":
        return Instruction(c.JMP | c.JA, 0, 0, (_number(operand, number) - pc - 1) & 0xFFFF_FFFF)
    jumps = {v: k for k, v in _JMP_NAMES.items()}
    if name in jumps:
        if m["jt"] is None:
            raise CbpfError(f"line {number}: {name} needs 'jt N jf M'")
        jt, jf = int(m["jt"]) - pc - 1, int(m["jf"]) - pc - 1
        if not (0 <= jt <= 255 and 0 <= jf <= 255):
            raise CbpfError(f"line {number}: jump targets must be 1-256 instructions ahead")
        if operand == "x":
            return Instruction(c.JMP | jumps[name] | c.X, jt, jf, 0)
        return Instruction(c.JMP | jumps[name] | c.K, jt, jf, _number(operand[1:], number))
    if name in ("tax", "txa"):
        return Instruction(c.MISC | (c.TAX if name == "tax" else c.TXA), 0, 0, 0)
    raise CbpfError(f"line {number}: unknown instruction {name!r}")
