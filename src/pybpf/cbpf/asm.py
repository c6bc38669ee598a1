"""Classic BPF in the Linux kernel's ``bpf_asm`` syntax (tools/bpf/bpf_asm, described in
Documentation/networking/filter.rst): assembler, disassembler and bpf_asm's two outputs.

The syntax, one instruction per line, ``;`` to the end of the line is a comment::

    ldh [12]                  ; [k], [x + k], M[k], #k, #len, 4*([k]&0xf), x/%x, a/%a
    jne #0x800, drop          ; one target: jump when true, fall through when false
    ldb [23]
    jeq #6, keep, drop        ; two targets: true, false
    keep: ret #-1
    drop: ret #0

Linux ancillary loads are named, with or without ``#`` (``ld #proto``, ``ldh vlan_tci``):
they load SKF_AD_OFF + SKF_AD_* as the kernel's include/uapi/linux/filter.h numbers them.
``jneq``/``jne``, ``jlt`` and ``jle`` are bpf_asm's negated forms: ``jeq``/``jge``/``jgt``
with the target in jf. bpf_asm only gives them one target; here a second one is accepted
too, read as for the other jumps: the first is taken when the named comparison holds
(``jne #1, a, b`` is ``jeq #1, b, a``).

Errors are :class:`CbpfAsmError` with the line, the column and the reason, because a label
typo in a 200-line filter is otherwise a hunt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from pybpf.cbpf import opcodes as c
from pybpf.cbpf.instruction import CbpfError, Instruction

M32 = 0xFFFF_FFFF
#: bpf_asm's extension names and their SKF_AD offsets (vlan_pr is bpf_asm's old alias)
EXTENSIONS = {name: c.SKF_AD[name] for name in ("proto", "type", "ifidx", "nla", "nlan", "mark", "queue", "hatype",
                                                "rxhash", "cpu", "vlan_tci", "vlan_avail", "rand", "vlan_tpid")}
EXTENSIONS |= {"poff": c.SKF_AD["pay_offset"], "vlan_pr": c.SKF_AD["vlan_avail"]}
_EXTENSION_NAMES = {offset: name for name, offset in reversed(EXTENSIONS.items())}


class CbpfAsmError(CbpfError):
    """Text that is not bpf_asm; ``line`` and ``column`` count from 1."""

    def __init__(self, line: int, column: int, reason: str):
        super().__init__(f"line {line}, column {column}: {reason}")
        self.line, self.column, self.reason = line, column, reason


# ---------------------------------------------------------------- tokens and operands

@dataclass(frozen=True)
class _Token:
    kind: str      # "number", "name" or "punct"
    text: str
    column: int


_TOKEN = re.compile(r"(?P<number>-?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|[0-9]+))(?![\w.])"
                    r"|(?P<name>[A-Za-z_.][\w.]*)|(?P<punct>[#\[\]()+*&,:%])")


def _tokens(text: str, line: int) -> list[_Token]:
    out, position = [], 0
    while position < len(text):
        if text[position].isspace():
            position += 1
            continue
        match = _TOKEN.match(text, position)
        if match is None:
            raise CbpfAsmError(line, position + 1, f"unexpected character {text[position]!r}")
        kind = match.lastgroup
        assert kind is not None                 # (every alternative of _TOKEN is a named group)
        out.append(_Token(kind, match.group(), position + 1))
        position = match.end()
    return out


def _value(token: _Token, line: int) -> int:
    """A bpf_asm number (decimal, 0x hex, 0b binary, 0-prefixed octal, optional '-')
    as the 32-bit k it encodes."""
    text = token.text
    negative = text.startswith("-")
    digits = text[1:] if negative else text
    lowered = digits.lower()
    if lowered.startswith(("0x", "0b")):
        value = int(lowered, 0)
    elif len(digits) > 1 and digits.startswith("0"):
        if not set(digits) <= set("01234567"):
            raise CbpfAsmError(line, token.column, f"bad octal number {text!r}")
        value = int(digits, 8)
    else:
        value = int(digits)
    value = -value if negative else value
    if not -(1 << 31) <= value <= M32:
        raise CbpfAsmError(line, token.column, f"{text} does not fit in 32 bits")
    return value & M32


@dataclass(frozen=True)
class _Operand:
    kind: str      # a key of _KIND_TEXT
    k: int
    column: int


_KIND_TEXT = {"imm": "#k", "number": "k", "len": "#len", "ext": "an extension (#proto, #vlan_tci...)",
              "mem": "M[k]", "abs": "[k]", "ind": "[x + k]", "msh": "4*([k]&0xf)", "x": "x", "a": "a"}


class _Cursor:
    """The tokens of one line, consumed left to right, with errors that point at them."""

    def __init__(self, tokens: list[_Token], line: int, end_column: int):
        self.tokens, self.line, self.position, self.end_column = tokens, line, 0, end_column

    def peek(self, ahead: int = 0) -> _Token | None:
        index = self.position + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def at(self, text: str, ahead: int = 0) -> bool:
        """Whether the token ``ahead`` of the current one is ``text``."""
        token = self.peek(ahead)
        return token is not None and token.text == text

    def kind_is(self, *kinds: str) -> bool:
        """Whether the current token is of one of ``kinds``."""
        token = self.peek()
        return token is not None and token.kind in kinds

    def take(self, wanted: str) -> _Token:
        token = self.peek()
        if token is None:
            raise CbpfAsmError(self.line, self.end_column, f"expected {wanted} at the end of the line")
        self.position += 1
        return token

    def expect(self, text: str) -> _Token:
        token = self.take(repr(text))
        if token.text != text:
            self.fail(token, f"expected {text!r}, found {token.text!r}")
        return token

    def number(self) -> int:
        token = self.take("a number")
        if token.kind != "number":
            self.fail(token, f"expected a number, found {token.text!r}")
        return _value(token, self.line)

    def label(self) -> _Token:
        token = self.take("a label")
        if token.kind == "punct":
            self.fail(token, f"expected a label, found {token.text!r}")
        return token

    def fail(self, token: _Token, reason: str) -> NoReturn:
        raise CbpfAsmError(self.line, token.column, reason)


def _operand(cur: _Cursor) -> _Operand | None:
    token = cur.peek()
    if token is None or token.text == ",":
        return None
    cur.position += 1
    start = token.column
    if token.text == "#":
        after = cur.take("a number or an extension name after '#'")
        if after.kind == "number":
            return _Operand("imm", _value(after, cur.line), start)
        token = after
        if token.text not in EXTENSIONS and token.text != "len":
            cur.fail(token, f"unknown extension '#{token.text}'")
    if token.text == "%":
        register = cur.take("x or a after '%'")
        if register.text not in ("x", "a"):
            cur.fail(register, f"expected x or a after '%', found {register.text!r}")
        return _Operand(register.text, 0, start)
    if token.text in ("x", "a"):
        return _Operand(token.text, 0, start)
    if token.text == "len":
        return _Operand("len", 0, start)
    if token.text in EXTENSIONS:
        return _Operand("ext", (c.SKF_AD_OFF + EXTENSIONS[token.text]) & M32, start)
    if token.text == "M":
        cur.expect("[")
        k = cur.number()
        cur.expect("]")
        return _Operand("mem", k, start)
    if token.text == "[":
        return _bracket(cur, start)
    if token.kind == "number":
        if cur.at("*"):
            return _msh(cur, token, start)
        return _Operand("number", _value(token, cur.line), start)
    cur.fail(token, f"bad operand {token.text!r}")


def _bracket(cur: _Cursor, start: int) -> _Operand:
    """``[k]`` or ``[x + k]`` (``[%x + k]``), the ``[`` already taken."""
    head = cur.peek()
    if head is not None and head.text in ("x", "%"):
        if head.text == "%":
            cur.position += 1
        cur.expect("x")
        cur.expect("+")
        k = cur.number()
        cur.expect("]")
        return _Operand("ind", k, start)
    k = cur.number()
    cur.expect("]")
    return _Operand("abs", k, start)


def _msh(cur: _Cursor, four: _Token, start: int) -> _Operand:
    """``4*([k]&0xf)``, the IP header length idiom, the ``4`` already taken."""
    if _value(four, cur.line) != 4:
        cur.fail(four, "only 4*([k]&0xf) exists (the IP header length load)")
    for text in "*([":
        cur.expect(text)
    k = cur.number()
    for text in "]&":
        cur.expect(text)
    mask = cur.take("0xf")
    if mask.kind != "number" or _value(mask, cur.line) != 0xF:
        cur.fail(mask, "only 4*([k]&0xf) exists (the IP header length load)")
    cur.expect(")")
    return _Operand("msh", k, start)


# ---------------------------------------------------------------- mnemonics

def _loads(size: int) -> dict[str | None, int]:
    return {"abs": c.LD | size | c.ABS, "ind": c.LD | size | c.IND, "ext": c.LD | size | c.ABS}


_ALU_OPS = {"add": c.ADD, "sub": c.SUB, "mul": c.MUL, "div": c.DIV, "mod": c.MOD, "and": c.AND, "or": c.OR,
            "xor": c.XOR, "lsh": c.LSH, "rsh": c.RSH}
#: mnemonic -> {operand kind (None: no operand) -> opcode}
_FORMS: dict[str, dict[str | None, int]] = {
    "ld": {**_loads(c.W), "imm": c.LD | c.IMM, "len": c.LD | c.W | c.LEN, "mem": c.LD | c.MEM},
    "ldi": {"imm": c.LD | c.IMM, "number": c.LD | c.IMM},
    "ldh": _loads(c.H),
    "ldb": _loads(c.B),
    "ldx": {"imm": c.LDX | c.IMM, "len": c.LDX | c.W | c.LEN, "mem": c.LDX | c.MEM, "msh": c.LDX | c.B | c.MSH},
    "ldxi": {"imm": c.LDX | c.IMM, "number": c.LDX | c.IMM},
    "ldxb": {"msh": c.LDX | c.B | c.MSH},
    "st": {"mem": c.ST},
    "stx": {"mem": c.STX},
    **{name: {"imm": c.ALU | op | c.K, "x": c.ALU | op | c.X} for name, op in _ALU_OPS.items()},
    "neg": {None: c.ALU | c.NEG},
    "ret": {"imm": c.RET | c.K, "a": c.RET | c.A, "x": c.RET | c.X},
    "tax": {None: c.MISC | c.TAX},
    "txa": {None: c.MISC | c.TXA},
}
#: conditional jump mnemonic -> (operation, target in jf rather than jt)
_JUMPS = {"jeq": (c.JEQ, False), "jneq": (c.JEQ, True), "jne": (c.JEQ, True), "jlt": (c.JGE, True),
          "jle": (c.JGT, True), "jgt": (c.JGT, False), "jge": (c.JGE, False), "jset": (c.JSET, False)}


@dataclass
class _Statement:
    """One parsed instruction whose jump fields still name labels."""

    line: int
    code: int
    k: int
    targets: dict[str, _Token]   # "jt" / "jf" / "k" -> label token


def _statement(cur: _Cursor, mnemonic: _Token) -> _Statement:
    name = mnemonic.text.lower()
    if name in ("jmp", "ja"):
        return _Statement(cur.line, c.JMP | c.JA, 0, {"k": cur.label()})
    if name in _JUMPS:
        return _conditional(cur, name)
    forms = _FORMS.get(name)
    if forms is None:
        cur.fail(mnemonic, f"unknown instruction {mnemonic.text!r}")
    operand = _operand(cur)
    kind = None if operand is None else operand.kind
    if kind not in forms:
        wanted = " or ".join(_KIND_TEXT[k] for k in forms if k) or "no operand"
        where = operand.column if operand else cur.end_column
        found = "nothing" if operand is None else _KIND_TEXT[operand.kind]
        raise CbpfAsmError(cur.line, where, f"bad operand for {name}: {found} ({name} takes {wanted})")
    return _Statement(cur.line, forms[kind], operand.k if operand else 0, {})


def _conditional(cur: _Cursor, name: str) -> _Statement:
    operation, negated = _JUMPS[name]
    operand = _operand(cur)
    if operand is None or operand.kind not in ("imm", "x"):
        where = operand.column if operand else cur.end_column
        raise CbpfAsmError(cur.line, where, f"bad operand for {name}: it compares A with #k or x")
    cur.expect(",")
    first = cur.label()
    second = None
    if cur.at(","):
        cur.position += 1
        second = cur.label()
    code = c.JMP | operation | (c.X if operand.kind == "x" else c.K)
    if second is not None:
        targets = {"jt": second, "jf": first} if negated else {"jt": first, "jf": second}
    else:
        targets = {"jf": first} if negated else {"jt": first}
    return _Statement(cur.line, code, operand.k, targets)


# ---------------------------------------------------------------- assembler

def assemble(text: str) -> list[Instruction]:
    """The instructions bpf_asm makes of ``text`` (see the module text for the syntax)."""
    statements: list[_Statement] = []
    labels: dict[str, tuple[int, int]] = {}        # name -> (instruction index, line)
    for number, raw in enumerate(text.splitlines(), 1):
        source = raw.split(";", 1)[0]
        cur = _Cursor(_tokens(source, number), number, len(source.rstrip()) + 1)
        while cur.at(":", 1) and cur.kind_is("name", "number"):
            label = cur.take("a label")
            if label.text in labels:
                cur.fail(label, f"label {label.text!r} already defined on line {labels[label.text][1]}")
            labels[label.text] = (len(statements), number)
            cur.position += 1
        mnemonic = cur.peek()
        if mnemonic is None:
            continue
        cur.position += 1
        if mnemonic.kind != "name":
            cur.fail(mnemonic, f"expected an instruction, found {mnemonic.text!r}")
        statement = _statement(cur, mnemonic)
        extra = cur.peek()
        if extra is not None:
            cur.fail(extra, f"unexpected {extra.text!r} after the instruction")
        if len(statements) == c.MAXINSNS:
            cur.fail(mnemonic, f"more than {c.MAXINSNS} instructions (the kernel's BPF_MAXINSNS)")
        statements.append(statement)
    return [_resolve(pc, s, labels, len(statements)) for pc, s in enumerate(statements)]


def _resolve(pc: int, statement: _Statement, labels: dict[str, tuple[int, int]], count: int) -> Instruction:
    fields = {"jt": 0, "jf": 0, "k": statement.k}
    for field, token in statement.targets.items():
        if token.text not in labels:
            raise CbpfAsmError(statement.line, token.column, f"unknown label {token.text!r}")
        target, defined = labels[token.text]
        distance = target - pc - 1
        if target >= count:
            raise CbpfAsmError(statement.line, token.column,
                           f"label {token.text!r} (line {defined}) is after the last instruction")
        if distance < 0:
            raise CbpfAsmError(statement.line, token.column,
                           f"backward jump to {token.text!r} (line {defined}): classic BPF jumps only forward")
        if field != "k" and distance > 255:
            raise CbpfAsmError(statement.line, token.column,
                           f"jump to {token.text!r} is {distance} instructions ahead; a conditional jump "
                           f"reaches at most 255 (jump to a 'ja' instead)")
        fields[field] = distance
    return Instruction(statement.code, fields["jt"], fields["jf"], fields["k"])


# ---------------------------------------------------------------- disassembler

def _number(k: int) -> str:
    return str(k) if k < 0x100 else f"0x{k:x}"


def _text(ins: Instruction, pc: int, label) -> str:
    """One instruction in bpf_asm words; ``label(pc)`` names a jump target."""
    code, k = ins.code, ins.k
    kind = c.cls(code)
    if kind == c.LD and c.mode(code) in (c.ABS, c.IND) and c.size(code) in c.SIZE_BYTES:
        name = {c.W: "ld", c.H: "ldh", c.B: "ldb"}[c.size(code)]
        if c.mode(code) == c.IND:
            return f"{name} [x + {_number(k)}]"
        extension = _EXTENSION_NAMES.get((k - (c.SKF_AD_OFF & M32)) & M32)
        return f"{name} #{extension}" if extension else f"{name} [{_number(k)}]"
    simple = {c.LD | c.IMM: f"ld #{_number(k)}", c.LD | c.W | c.LEN: "ld #len", c.LD | c.MEM: f"ld M[{k}]",
              c.LDX | c.IMM: f"ldx #{_number(k)}", c.LDX | c.W | c.LEN: "ldx #len", c.LDX | c.MEM: f"ldx M[{k}]",
              c.LDX | c.B | c.MSH: f"ldxb 4*([{_number(k)}]&0xf)", c.ST: f"st M[{k}]", c.STX: f"stx M[{k}]",
              c.ALU | c.NEG: "neg", c.RET | c.K: f"ret #{_number(k)}", c.RET | c.A: "ret a", c.RET | c.X: "ret x",
              c.MISC | c.TAX: "tax", c.MISC | c.TXA: "txa"}
    if code in simple:
        return simple[code]
    operand = "x" if c.src(code) == c.X else f"#{_number(k)}"
    if kind == c.ALU and code & ~0x08 in {c.ALU | op for op in _ALU_OPS.values()}:
        return f"{_ALU_NAME[c.op(code)]} {operand}"
    if code == c.JMP | c.JA:
        return f"ja {label(pc + 1 + k)}"
    if kind == c.JMP and code & ~0x08 in {c.JMP | op for op in _COND_NAMES}:
        positive, negative = _COND_NAMES[c.op(code)]
        if ins.jf == 0:
            return f"{positive} {operand}, {label(pc + 1 + ins.jt)}"
        if ins.jt == 0 and negative:
            return f"{negative} {operand}, {label(pc + 1 + ins.jf)}"
        return f"{positive} {operand}, {label(pc + 1 + ins.jt)}, {label(pc + 1 + ins.jf)}"
    raise CbpfError(f"instruction {pc}: opcode 0x{code:02x} has no bpf_asm form")


_ALU_NAME = {op: name for name, op in _ALU_OPS.items()}
_COND_NAMES = {c.JEQ: ("jeq", "jne"), c.JGT: ("jgt", "jle"), c.JGE: ("jge", "jlt"), c.JSET: ("jset", None)}


def disassemble(program: Sequence[Instruction]) -> str:
    """bpf_asm text for ``program``; :func:`assemble` gives the program back for any
    program of kernel opcodes (plus ``ret x``) with in-range forward jumps and with the
    fields an instruction does not use left 0. Jump targets are labelled ``l<index>``."""
    targets: set[int] = set()

    def label(target: int) -> str:
        if not 0 <= target < len(program):
            raise CbpfError(f"a jump goes to instruction {target}, outside the program")
        targets.add(target)
        return f"l{target}"

    body = [_text(ins, pc, label) for pc, ins in enumerate(program)]
    return "".join(f"{f'l{pc}:' if pc in targets else ''}\t{line}\n" for pc, line in enumerate(body))


# ---------------------------------------------------------------- bpf_asm's outputs

def _c_hex(value: int, width: int) -> str:
    """C's ``%#0<width>x``: ``0x`` only before a non-zero value, zero padded."""
    text = f"0x{value:x}" if value else "0"
    return ("0x" + text[2:].rjust(width - 2, "0")) if value else text.rjust(width, "0")


def format_bytecode(program: Sequence[Instruction]) -> str:
    """bpf_asm's default output (``4,40 0 0 12,...,``), which xt_bpf and ``tc`` read."""
    return f"{len(program)}," + "".join(f"{i.code} {i.jt} {i.jf} {i.k & M32}," for i in program) + "\n"


def format_c(program: Sequence[Instruction]) -> str:
    """bpf_asm ``-c`` output: C initialisers for a ``struct sock_filter`` array."""
    return "".join(f"{{ {_c_hex(i.code, 4)}, {i.jt:2d}, {i.jf:2d}, {_c_hex(i.k & M32, 10)} }},\n" for i in program)


def parse_bytecode(text: str) -> list[Instruction]:
    """The program in bpf_asm's default output (the trailing comma optional)."""
    parts = [part.strip() for part in text.strip().rstrip(",").split(",")]
    rows = [part.split() for part in parts[1:]]
    limits = (0xFFFF, 0xFF, 0xFF, M32)
    if not parts[0].isdigit() or not all(
            len(row) == 4 and all(f.isdigit() and int(f) <= top for f, top in zip(row, limits)) for row in rows):
        raise CbpfError(f"not bpf_asm bytecode ('count,code jt jf k,...'): {text[:60]!r}")
    if int(parts[0]) != len(rows):
        raise CbpfError(f"bytecode says {parts[0]} instructions but has {len(rows)}")
    return [Instruction(*map(int, row)) for row in rows]
