"""Assembly text → instructions, in either syntax (line by line, freely mixed): the
C-like one of the kernel's verifier log and llvm-objdump, and the mnemonic one of uBPF
and the conformance suite.

Two passes: the first parses every line and records labels; the second turns label
references into slot-relative offsets. Lines copied from a verifier log (``12: (bf)
r6 = r1``) or from llvm-objdump (``3:  b7 00 00 00 0b 00 00 00  r0 = 0xb``) are accepted
as they are. Every error is an :class:`AsmError` naming line and column.
"""

from __future__ import annotations

import re

from pybpf.errors import PybpfError
from pybpf.isa.asm_c import LabelRef, parse_c
from pybpf.isa.asm_mnemonic import is_mnemonic, parse_mnemonic
from pybpf.isa.instruction import Instruction, problem
from pybpf.isa.syntax import REGISTER, SyntaxProblem

_VERIFIER_PREFIX = re.compile(r"^\s*[0-9]+:\s*\([0-9a-f]{2}\)\s*")
_OBJDUMP_PREFIX = re.compile(r"^\s*[0-9]+:\s+(?:[0-9a-f]{2}\s){8}\s*")
_OBJDUMP_SECOND_SLOT = re.compile(r"^\s*[0-9]+:\s+(?:[0-9a-f]{2}\s?){8}\s*$")
_OBJDUMP_FUNCTION = re.compile(r"^[0-9a-f]+\s+<(?P<name>[\w.$]+)>:\s*$")
_OBJDUMP_NOISE = re.compile(r"^(?:Disassembly of section .*|.*:\s+file format .*)$")
_LABEL = re.compile(r"^\s*(?P<name>[A-Za-z_.$][\w.$]*)\s*:(?!=)\s*")
_ANNOTATION = re.compile(r"\s*<[^<>]*>\s*$")


class AsmError(PybpfError):
    """Assembly that does not parse: ``line`` and ``column`` are 1-based."""

    def __init__(self, line: int, column: int, message: str, text: str = ""):
        self.line, self.column, self.reason, self.text = line, column, message, text
        detail = f"\n  {text}\n  {' ' * (column - 1)}^" if text else ""
        super().__init__(f"line {line}, column {column}: {message}{detail}")


#: a line this long has its whitespace runs cut to one space before it is parsed: the
#: patterns' neighbouring ``\s*`` would try every split of a long run (minutes for a
#: line of 50,000 spaces); columns in such a line's errors are then approximate
_LONG_LINE = 512
_LONG_SPACE = re.compile(r"\s{2,}")


def _strip_comment(text: str) -> str:
    cut = len(text)
    for marker in ("//", "#", ";"):
        at = text.find(marker)
        if at >= 0:
            cut = min(cut, at)
    return text[:cut]


def _unknown_register(text: str) -> SyntaxProblem | None:
    """A clearer error than "cannot parse" when the line names a register that does not exist."""
    for match in re.finditer(r"%?\b[rw][0-9]+\b", text):
        number = REGISTER.match(match[0])
        if number is not None and (len(number[2]) > 2 or int(number[2]) > 10):
            return SyntaxProblem(match.start() + 1, f"unknown register {match[0]!r} (registers are r0-r10)")
    return None


def _parse_line(text: str) -> tuple[Instruction, LabelRef | None]:
    first = text.split(None, 1)[0].lower()
    mnemonic_call = re.match(r"\s*call\s+(local\s|%?r[0-9]+\s*$)", text)
    if is_mnemonic(first) and not (first == "lock" and "*" in text) and (first != "call" or mnemonic_call):
        return parse_mnemonic(text)
    parsed = parse_c(text.strip())
    if parsed is None:
        problem_at = _unknown_register(text)
        if problem_at is not None:
            raise problem_at
        column = len(text) - len(text.lstrip()) + 1
        word = re.match(r"\s*([A-Za-z_][\w.]*)(?:\s|$)", text)
        if word and "=" not in text and "(" not in text:
            raise SyntaxProblem(column, f"unknown mnemonic {word[1]!r}")
        raise SyntaxProblem(column, f"cannot parse {text.strip()!r} as an instruction")
    return parsed


def assemble(text: str) -> list[Instruction]:
    """Assemble ``text``; raises :class:`AsmError` (with line and column) on bad input."""
    program: list[tuple[Instruction, LabelRef | None, int, str]] = []   # + line number, line text
    labels: dict[str, int] = {}     # name → slot
    slot = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if _OBJDUMP_SECOND_SLOT.match(raw) or _OBJDUMP_NOISE.match(raw.strip()):
            continue
        line = _LONG_SPACE.sub(" ", raw) if len(raw) > _LONG_LINE else raw
        line = _VERIFIER_PREFIX.sub(lambda m: " " * len(m[0]), line)
        line = _OBJDUMP_PREFIX.sub(lambda m: " " * len(m[0]), line)
        line = _ANNOTATION.sub("", _strip_comment(line)).rstrip()
        if not line.isascii():
            column, char = next((i, c) for i, c in enumerate(line, 1) if not c.isascii())
            raise AsmError(number, column, f"{char!r} (U+{ord(char):04X}) is not ASCII: instructions, numbers "
                                           "(digits 0-9) and labels are written in ASCII", raw)
        function = _OBJDUMP_FUNCTION.match(line.strip())
        if function:
            labels.setdefault(function["name"], slot)
            continue
        while (label := _LABEL.match(line)) and not REGISTER.match(label["name"]):
            name = label["name"]
            if name in labels:
                raise AsmError(number, label.start("name") + 1, f"label {name!r} is defined twice", raw)
            labels[name] = slot
            line = " " * label.end() + line[label.end():]
        if not line.strip():
            continue
        try:
            ins, ref = _parse_line(line)
        except SyntaxProblem as exc:
            raise AsmError(number, exc.column, exc.message, raw) from None
        program.append((ins, ref, number, raw))
        slot += ins.slots
    return _resolve(program, labels)


def _next_exit(program: list[tuple[Instruction, LabelRef | None, int, str]], index: int, slot: int) -> int | None:
    """The slot of the first ``exit`` after instruction ``index`` (uBPF's implicit
    ``exit`` jump target, which the conformance suite uses)."""
    for ins, _, _, _ in program[index:]:
        if ins.opcode == 0x95:
            return slot
        slot += ins.slots
    return None


def _resolve(program: list[tuple[Instruction, LabelRef | None, int, str]], labels: dict[str, int]) -> list[Instruction]:
    out: list[Instruction] = []
    slot = 0
    for index, (ins, ref, number, raw) in enumerate(program):
        if ref is not None:
            name, column, kind = ref
            if name == "exit" and name not in labels and kind == "off":
                exit_slot = _next_exit(program, index + 1, slot + ins.slots)
                if exit_slot is not None:
                    labels = {**labels, "exit": exit_slot}
            if name not in labels:
                if kind == "call":
                    raise AsmError(number, column, f"cannot call {name!r}: not a helper name or id, "
                                                   "and no such label", raw)
                raise AsmError(number, column, f"undefined label {name!r}", raw)
            relative = labels[name] - (slot + 1)
            if kind == "off":
                if not -(1 << 15) <= relative < 1 << 15:
                    raise AsmError(number, column, f"label {name!r} is {relative} slots away: too far "
                                                   "for a 16-bit offset (use gotol)", raw)
                ins = ins.replace(off=relative)
            elif kind == "func":
                ins = ins.replace(imm=relative & 0xFFFF_FFFF)
            else:
                ins = ins.replace(imm=relative)
        reason = problem(ins)
        if reason is not None:
            raise AsmError(number, 1, reason, raw)
        out.append(ins)
        slot += ins.slots
    return out
