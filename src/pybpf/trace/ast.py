"""The trace language's syntax tree. Every node keeps ``position``/``length`` (its place in
the program text) so that later stages report errors where the user wrote the code;
the checker fills ``type`` on expressions."""

from __future__ import annotations

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
    from typing import Any
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field


@dataclass(eq=False)
class Node:
    position: int = field(default=0, kw_only=True)
    length: int = field(default=1, kw_only=True)


@dataclass(eq=False)
class Expr(Node):
    type: Any = field(default=None, kw_only=True)


@dataclass(eq=False)
class Integer(Expr):
    value: int


@dataclass(eq=False)
class String(Expr):
    value: str


@dataclass(eq=False)
class Builtin(Expr):
    name: str


@dataclass(eq=False)
class Positional(Expr):
    index: int               #: $1 -> 1; 0 stands for $#


@dataclass(eq=False)
class Variable(Expr):
    name: str                #: with the '$'


@dataclass(eq=False)
class MapRef(Expr):
    name: str                #: with the '@'
    keys: list[Expr]


@dataclass(eq=False)
class Call(Expr):
    name: str
    args: list[Expr]


@dataclass(eq=False)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr
    at: int = field(default=0, kw_only=True)  #: the operator's place (bpftrace's warnings point there)


@dataclass(eq=False)
class Unary(Expr):
    op: str                  #: ! ~ - * &
    operand: Expr


@dataclass(eq=False)
class Ternary(Expr):
    condition: Expr
    then: Expr
    otherwise: Expr


@dataclass(eq=False)
class FieldAccess(Expr):
    base: Expr
    field: str
    arrow: bool


@dataclass(eq=False)
class Index(Expr):
    base: Expr
    index: Expr


@dataclass(eq=False)
class Cast(Expr):
    ctype: str               #: as written: "uint32", "struct task_struct *"
    operand: Expr


@dataclass(eq=False)
class Tuple(Expr):
    items: list[Expr]


@dataclass(eq=False)
class SizeOf(Expr):
    ctype: str | None
    operand: Expr | None


@dataclass(eq=False)
class OffsetOf(Expr):
    ctype: str
    member: str


@dataclass(eq=False)
class Statement(Node):
    pass


@dataclass(eq=False)
class ExprStatement(Statement):
    expr: Expr


@dataclass(eq=False)
class Assign(Statement):
    target: Expr             #: Variable or MapRef
    op: str                  #: "=" or "+=", "-=", ... ("++"/"--" become "+="/"-=" 1)
    value: Expr
    step: bool = field(default=False, kw_only=True)  #: made from ++/--: the target keeps its type


@dataclass(eq=False)
class If(Statement):
    condition: Expr
    then: list[Statement]
    otherwise: list[Statement]


@dataclass(eq=False)
class Unroll(Statement):
    count: int
    body: list[Statement]


@dataclass(eq=False)
class While(Statement):
    condition: Expr
    body: list[Statement]


@dataclass(eq=False)
class For(Statement):
    """``for ($kv : @map) {...}`` (``source`` a MapRef) or ``for ($i : start..end) {...}``
    (``source`` a (start, end) pair)."""

    variable: str            #: with the '$'
    source: MapRef | tuple[Expr, Expr]
    body: list[Statement]


@dataclass(eq=False)
class Jump(Statement):
    kind: str                #: return, break, continue


@dataclass(eq=False)
class AttachPoint(Node):
    text: str                #: as written: "t:syscalls:sys_enter_openat"
    kind: str                #: normalised: tracepoint, uprobe, BEGIN, ...
    parts: list[str]         #: the fields after the kind


@dataclass(eq=False)
class Probe(Node):
    points: list[AttachPoint]
    predicate: Expr | None
    body: list[Statement]


@dataclass(eq=False)
class Script(Node):
    """A whole bpftrace script: its probes, its text, and the C definitions it declares
    (named apart from the engine's :class:`pybpf.engine.Program`, a loaded program)."""

    probes: list[Probe]
    source: str = ""
    c_definitions: list[str] = field(default_factory=list)  #: ``struct x { ... };`` texts


def walk(node: Any):
    """``node`` and every node under it (probes, statements, expressions), depth first."""
    yield node
    for value in vars(node).values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Node):
                yield from walk(item)
