"""A seccomp policy, a default action and rules per system call, compiled to classic BPF.

The filter first checks ``seccomp_data.arch`` and kills the process on anything but
x86-64, and kills x32 calls (nr with bit 30 set), because a system call number means a
different call under another ABI: without the check a policy is bypassed by switching
ABI. Then each system call with rules gets a block; its rules are tried in the order
they were added, the first whose conditions all hold decides, and a call no rule
matches gets the default action.

The program is written as bpf_asm text (:meth:`SeccompPolicy.assembly`, commented per
rule, a readable listing of what the filter does) and assembled by
:mod:`pybpf.cbpf.asm`, so the listing and the program cannot disagree.
"""

from __future__ import annotations

from pybpf.cbpf.asm import assemble
from pybpf.cbpf.instruction import CbpfError, Instruction
from pybpf.seccomp import syscalls
from pybpf.seccomp.actions import Action
from pybpf.seccomp.check import check_filter
from pybpf.seccomp.conditions import Condition, emit
from pybpf.seccomp.data import ARCH, AUDIT_ARCH_X86_64, NR, X32_SYSCALL_BIT

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

_EPERM = 1
#: the most a conditional jump skips: a longer system call block is entered through a ja
_REACH = 255


@dataclass(frozen=True)
class Rule:
    """``action`` for ``syscall`` when every condition holds."""

    syscall: str
    nr: int
    action: Action
    conditions: tuple[Condition, ...] = ()

    def __str__(self) -> str:
        when = f" if {' and '.join(map(str, self.conditions))}" if self.conditions else ""
        return f"{self.syscall}{when}: {self.action}"


class SeccompPolicy:
    """Rules per system call over a default action; :meth:`build` makes the filter.

    ``SeccompPolicy(default="allow").deny("ptrace", errno=1).allow("write", arg(0) == 1)``
    """

    def __init__(self, default: str | Action, bad_arch: str | Action = "kill_process"):
        self.default = Action.parse(default)
        self.bad_arch = Action.parse(bad_arch)
        self.rules: list[Rule] = []

    def rule(self, action: str | Action, syscall: str | int, *conditions: Condition) -> SeccompPolicy:
        """Add a rule: ``action`` (``"log"``, ``"errno(13)"``, an :class:`Action`) for
        ``syscall`` (a name, or a number) when all ``conditions`` hold."""
        for cond in conditions:
            if not isinstance(cond, Condition):
                raise CbpfError(f"{cond!r} is not an argument condition (write arg(0) == 1 and the like)")
        nr = syscalls.number(syscall)
        self.rules.append(Rule(syscalls.name(nr), nr, Action.parse(action), tuple(conditions)))
        return self

    def allow(self, syscall: str | int, *conditions: Condition) -> SeccompPolicy:
        """Let the call run (when the conditions hold)."""
        return self.rule("allow", syscall, *conditions)

    def deny(self, syscall: str | int, *conditions: Condition, errno: int = _EPERM) -> SeccompPolicy:
        """Fail the call with ``errno`` (EPERM unless given) without running it."""
        return self.rule(Action.of("errno", errno), syscall, *conditions)

    def kill(self, syscall: str | int, *conditions: Condition) -> SeccompPolicy:
        """Kill the whole process (SIGSYS) at the call."""
        return self.rule("kill_process", syscall, *conditions)

    def listing(self) -> str:
        """One line per rule, in the order they are tried: what the policy says."""
        lines = [f"arch != x86_64: {self.bad_arch}"] + [str(rule) for rule in self.rules]
        return "\n".join(lines + [f"otherwise: {self.default}"]) + "\n"

    def assembly(self) -> str:
        """The filter as commented bpf_asm text (see the module text)."""
        blocks: dict[int, list[Rule]] = {}
        for rule in self.rules:
            blocks.setdefault(rule.nr, []).append(rule)
        code = _Code()
        code.ins(f"ld [{ARCH}]", "seccomp_data.arch")
        code.ins(f"jeq #{AUDIT_ARCH_X86_64:#x}, arch_ok", "AUDIT_ARCH_X86_64")
        code.ins(f"ret #{self.bad_arch.value:#x}", f"another ABI: {self.bad_arch}")
        code.label("arch_ok")
        code.ins(f"ld [{NR}]", "seccomp_data.nr")
        code.ins(f"jlt #{X32_SYSCALL_BIT:#x}, native", "x32 calls have bit 30 set")
        code.ins(f"ret #{self.bad_arch.value:#x}", f"x32 ABI: {self.bad_arch}")
        code.label("native")
        for number, rules in blocks.items():
            body = self._block(number, rules)
            skip = f"not_{number}"
            if body.count <= _REACH:
                code.ins(f"jne #{number}, {skip}", f"{rules[0].syscall} ({number})?")
            else:
                code.ins(f"jeq #{number}, sys_{number}", f"{rules[0].syscall} ({number})?")
                code.ins(f"ja {skip}", "")
                code.label(f"sys_{number}")
            code.extend(body)
            code.label(skip)
        code.ins(f"ret #{self.default.value:#x}", f"no rule: {self.default}")
        return code.text()

    def _block(self, number: int, rules: list[Rule]) -> _Code:
        """The rules of one system call, tried in order, then the default."""
        code = _Code()
        for index, rule in enumerate(rules):
            code.comment(f"rule: {rule}")
            fail = f"s{number}_r{index}_no"
            for position, cond in enumerate(rule.conditions):
                ok = f"s{number}_r{index}_c{position}_ok"
                lines = emit(cond, fail, ok)
                for instruction, comment in lines:
                    code.ins(instruction, comment)
                if any(instruction.endswith(f", {ok}") for instruction, _ in lines):
                    code.label(ok)
            code.ins(f"ret #{rule.action.value:#x}", str(rule.action))
            if not rule.conditions:
                return code          # later rules for this call can never match
            code.label(fail)
        code.ins(f"ret #{self.default.value:#x}", f"no {rules[0].syscall} rule matched: {self.default}")
        return code

    def build(self) -> list[Instruction]:
        """The classic BPF filter, checked as the kernel will check it."""
        program = assemble(self.assembly())
        check_filter(program)
        return program


class _Code:
    """bpf_asm lines under construction, counting instructions (labels and comments
    take a line each; the assembler attaches a label to the next instruction)."""

    def __init__(self):
        self.lines: list[str] = []
        self.count = 0

    def label(self, name: str) -> None:
        self.lines.append(f"{name}:")

    def comment(self, text: str) -> None:
        self.lines.append(f"\t; {text}")

    def ins(self, instruction: str, comment: str) -> None:
        note = f"; {comment}" if comment else ""
        self.lines.append(f"\t{instruction:<32}{note}".rstrip())
        self.count += 1

    def extend(self, other: _Code) -> None:
        self.lines += other.lines
        self.count += other.count

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"
