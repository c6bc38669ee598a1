"""Trace program → eBPF instructions, one program per attach point.

Code is generated straight from the syntax tree (no LLVM: see docs/trace.md). Integer
expressions are computed into r0, spilling the left operand of a binary operator to the
stack; strings and tuples live in stack buffers. r6 keeps the context. Maps are hash
maps (per-CPU for the aggregations count/sum/avg/stats/min/max/hist/lhist, as bpftrace
keeps them); hist, lhist, avg and stats append an 8-byte bucket to the key. printf,
exit, print, clear, zero and time send an event over one ring buffer: an 8-byte action
id, then the arguments, which userspace formats (:mod:`pybpf.trace.runtime`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from pybpf._dataclass import field_names
from pybpf.isa import opcodes as o
from pybpf.isa.helpers import HELPER_IDS
from pybpf.isa.instruction import Instruction
from pybpf.trace import ast
from pybpf.trace.emit import Emitter
from pybpf.trace.errors import TraceSyntaxError
from pybpf.trace.kernel_types import KernelTypes
from pybpf.trace.types import INT64, NONE, STRLEN, UINT64, T, string, tuple_of

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
    from typing import Any
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

# helper ids (include/uapi/linux/bpf.h)
MAP_LOOKUP, MAP_UPDATE, MAP_DELETE, PROBE_READ, KTIME, PRANDOM, SMP_ID = 1, 2, 3, 4, 5, 7, 8
PID_TGID, UID_GID, COMM, GET_STACKID, CURRENT_TASK, PROBE_READ_STR, CGROUP_ID = 14, 15, 16, 27, 35, 45, 80
RINGBUF_OUTPUT = 130
TRACE_PRINTK = 6
HELPER_NAMES = {number: name for name, number in HELPER_IDS.items()}  #: as -k's warnings name them
FOR_EACH_MAP_ELEM, LOOP, MAP_LOOKUP_PERCPU = 164, 181, 195
#: what a for loop's body may read or write of a map's value: per-CPU aggregations are
#: summed (or reduced) over the CPUs as print() does; bucketed ones have no one value
FOR_AGGREGATIONS = ("count", "sum", "min", "max")
# the legacy reads: on x86-64 they read user or kernel memory by the address, as the
# pointers of a uprobe's own structs and of BTF's kernel structs need
PROBE_READ_KERNEL, PROBE_READ_KERNEL_STR = PROBE_READ, PROBE_READ_STR
USER_STACK = 1 << 8          #: BPF_F_USER_STACK for get_stackid

#: value kinds kept in stack buffers (everything that is not a plain integer)
MEM_KINDS = ("str", "tuple", "ksym", "usym", "kstack", "ustack", "username", "inet", "mac", "buf", "timestamp",
             "bytes", "strerror", "cgroup_path", "record", "array")
SEND_SIGNAL = 109
STACKS = "stacks"            #: the stack trace map kstack/ustack record into
JOIN = "join"                #: the per-CPU scratch buffer join() fills
JOIN_ARGS, JOIN_ARG_SIZE = 16, 1024

AGGREGATIONS = {"count": 0, "sum": 1, "avg": 1, "stats": 1, "min": 1, "max": 1, "hist": 1, "lhist": 4}
BUCKETED = ("avg", "stats", "hist", "lhist")
RING = "ringbuf"
#: x86-64 struct pt_regs offsets of the argument and return registers (uprobes)
PT_REGS_ARGS = (112, 104, 96, 88, 72, 64)
PT_REGS_RC = 80
PT_REGS_IP = 128
PT_REGS_SP = 152
#: struct pt_regs (x86-64) offsets by register name, for reg("...")
PT_REGS = {"r15": 0, "r14": 8, "r13": 16, "r12": 24, "bp": 32, "bx": 40, "r11": 48, "r10": 56, "r9": 64, "r8": 72,
           "ax": 80, "cx": 88, "dx": 96, "si": 104, "di": 112, "orig_ax": 120, "ip": 128, "cs": 136, "flags": 144,
           "sp": 152, "ss": 160}
NUMA_NODE = 42


@dataclass
class MapInfo:
    """A map of the program: its key layout and what it holds."""

    name: str
    keys: list[T]
    value: str | T            #: an aggregation name, or the type of assigned values
    lhist: tuple[int, int, int] = (0, 0, 0)
    bits: int = 0             #: hist(n, bits): 2^bits linear buckets per power of two

    @property
    def aggregation(self) -> str | None:
        return self.value if isinstance(self.value, str) else None

    @property
    def key_size(self) -> int:
        return sum(k.slot for k in self.keys) or 8

    @property
    def full_key_size(self) -> int:
        return self.key_size + (8 if self.aggregation in BUCKETED else 0)

    @property
    def value_size(self) -> int:
        if self.aggregation in ("min", "max"):
            return 16
        return 8 if self.aggregation else max(8, self.value.slot)

    @property
    def per_cpu(self) -> bool:
        return self.aggregation is not None


@dataclass
class Action:
    """What userspace does with one kind of ring buffer event."""

    kind: str                 #: printf, exit, clear, zero, print_map, print_value, time, system, cat
    text: str = ""
    types: list[T] = field(default_factory=list)
    map: str = ""
    top: int = 0
    div: int = 0
    position: int = -1        #: helper_error: where in the program text (with ``length``)
    length: int = 1


@dataclass
class CompiledProbe:
    point: ast.AttachPoint
    target: str               #: the expanded probe name (one tracepoint of a wildcard)
    instructions: list
    references: dict[int, str]
    program_type: str
    usdt_site: Any = None     #: the one site of a usdt probe this program is attached to
    watch: tuple[str, int] | None = None  #: see Context.watch


@dataclass
class Compiled:
    probes: list[CompiledProbe]
    maps: dict[str, MapInfo]
    actions: list[Action]
    start_ns: int
    uses: set[str] = field(default_factory=set)
    kernel: Any = None        #: the KernelTypes records and arrays in values are described by
    warnings: list[str] = field(default_factory=list)  #: compile-time warnings, placed in the text
    source: str = ""          #: the program text and its file name (to place -k's warnings)
    filename: str = "stdin"


class CodegenError(TraceSyntaxError):
    pass


def _err(reason: str, node: ast.Node) -> CodegenError:
    return CodegenError(reason, "", node.position, node.length)


_INT_BUILTINS = {"numaid": False, "ctx": False, "cpid": False, "pid": False, "tid": False, "uid": False, "gid": False, "nsecs": False, "elapsed": False,
                 "cpu": False, "cgroup": False, "rand": False, "curtask": False, "retval": True,
                 }
_COMPARE = {"==": "==", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class Context:
    """What an attach point gives the program: the tracepoint format, the probe kind."""

    def __init__(self, point: ast.AttachPoint, target: str, fmt: Any = None, usdt: Any = None):
        self.point = point
        self.kind = point.kind
        self.target = target
        self.format = fmt
        self.usdt_site: Any = None        #: a usdt probe's site (pybpf.usdt UsdtProbe: where, arguments)
        #: FUNCTION+argN watchpoints: ("setup", i) for the uprobe asking to watch an address,
        #: ("deferred", i) for the probe's program, attached once it is known
        self.watch: tuple[str, int] | None = None


class Generator:
    """Compiles a checked program; one instance per program text."""

    def __init__(self, program: ast.Script, params: list[str], formats: Any):
        self.program = program
        self.params = params
        self.formats = formats    #: callable: "cat:name" -> TracepointFormat
        self.maps: dict[str, MapInfo] = {}
        self.actions: list[Action] = []
        self.start_ns = time.monotonic_ns()
        self._action_ids: dict[tuple, int] = {}
        self.uses: set[str] = set()   #: runtime maps the code refers to (stacks, join)
        self.kernel = KernelTypes()
        self.cpid = 0                 #: pid of the -c command (the cpid builtin)
        self.unsafe = False           #: --unsafe: signal() and system() allowed
        self.helper_checks = 0        #: -k: 1 reports failing helpers (but reads and lookups), -kk: 2 all
        self.warnings: list[tuple[str, int, int]] = []  #: compile-time warnings: (reason, position, length)
        self._user_symbols: dict[tuple[str, str], tuple[int, int]] = {}

    # -- types -------------------------------------------------------------------------

    def type_of(self, e: ast.Expr, ctx: Context, env: dict[str, T]) -> T:
        if isinstance(e, ast.Integer):
            return INT64
        if isinstance(e, ast.String):
            return string(len(e.value.encode()) + 1)
        if isinstance(e, ast.Positional):
            if e.index == 0:
                return INT64
            if e.index > len(self.params):  # a missing parameter: 0, or "" in str()
                return INT64
            value = self.param(e)
            return INT64 if _is_int(value) else string(len(value.encode()) + 1)
        if isinstance(e, ast.Builtin):
            if e.name == "comm":
                return string(16)
            if e.name == "probe":
                return string(len(ctx.target.encode()) + 1)
            if e.name == "ctx" and ctx.kind == "iter":
                found = self.kernel.named(f"struct bpf_iter__{ctx.point.parts[0]} *")
                if found is None:
                    raise _err(f"the kernel's BTF has no struct bpf_iter__{ctx.point.parts[0]}", e)
                return found
            if e.name == "curtask":
                return self.kernel.named("struct task_struct *") or UINT64
            if e.name in _INT_BUILTINS:
                return T("int", 8, _INT_BUILTINS[e.name])
            if (e.name.startswith("arg") and e.name[3:].isdigit()) or (e.name.startswith("sarg") and e.name[4:].isdigit()):
                return UINT64
            if e.name == "args":
                return T("args")
            if e.name == "username":
                return T("username", 8)
            if e.name.isupper() and self.kernel.enum_value(e.name) is not None:
                return INT64
            if e.name in ("kstack", "ustack"):
                return T(e.name, 8 if e.name == "kstack" else 16)
            if e.name == "func":
                if ctx.kind in ("uprobe", "uretprobe"):
                    return T("usym", 16)
                if ctx.kind not in ("kprobe", "kretprobe", "kfunc", "kretfunc"):
                    raise _err(f"The func builtin can not be used with '{ctx.kind}' probes", e)
                return string(len(ctx.target.encode()) + 1)
            raise _err(f"unknown identifier '{e.name}'", e)
        if isinstance(e, ast.Variable):
            if e.name not in env:
                raise _err(f"undefined variable '{e.name}'", e)
            return env[e.name]
        if isinstance(e, ast.MapRef):
            info = self.maps.get(e.name)
            if info is None:
                raise _err(f"undefined map '{e.name}'", e)
            return INT64 if info.aggregation else info.value
        if isinstance(e, ast.Call):
            name = e.name
            if name == "str":
                constant = self.constant_string(e)
                if constant is not None:
                    return string(len(constant.encode()) + 1)
                if e.args and self.type_of(e.args[0], ctx, env).kind == "str":
                    return self.type_of(e.args[0], ctx, env)
                return string(STRLEN)
            if name == "ntop":
                return T("inet", 24)
            if name == "bswap":
                if len(e.args) != 1:
                    raise _err("bswap() takes one integer", e)
                arg = self.type_of(e.args[0], ctx, env)
                return T("int", arg.size if arg.kind == "int" else 8, False)
            if name == "strerror":
                return T("strerror", 8)
            if name == "cgroup_path":
                hierarchies = e.args[1] if len(e.args) == 2 else ast.String("*")
                if not 1 <= len(e.args) <= 2 or not isinstance(hierarchies, ast.String):
                    raise _err("cgroup_path() takes a cgroup id and optionally a hierarchy filter string literal", e)
                return T("cgroup_path", 8, name=hierarchies.value)
            if name == "pton":
                if len(e.args) != 1 or not isinstance(e.args[0], ast.String):
                    raise _err("pton() takes an address string literal", e)
                return T("bytes", 4 if ":" not in e.args[0].value else 16)
            if name == "macaddr":
                return T("mac", 8)
            if name == "strftime":
                if len(e.args) != 2 or not isinstance(e.args[0], ast.String):
                    raise _err("strftime() takes a format string literal and a time in nanoseconds", e)
                return T("timestamp", 8, name=e.args[0].value)
            if name == "buf":
                if len(e.args) == 1:
                    source = self.type_of(e.args[0], ctx, env)
                    size = self.kernel.sizeof(source) if source.kind in ("array", "record") else source.size
                    if source.kind not in ("array", "bytes", "str") or not 0 < size <= STRLEN:
                        raise _err("buf() of one argument takes an array", e)
                    return T("buf", 8 + size)
                length = self.literal(e.args[1])  # else a length known when run: up to STRLEN bytes
                if length is not None and not 0 < length <= STRLEN:
                    raise _err(f"buf() takes a pointer and a length of 1 to {STRLEN} bytes", e)
                return T("buf", 8 + (length or STRLEN))
            if name in ("uptr", "kptr"):
                if len(e.args) != 1:
                    raise _err(f"{name}() takes one pointer", e)
                return self.type_of(e.args[0], ctx, env)
            if name == "reg":
                return UINT64
            if name == "uaddr":
                return self.kernel.pointer_to_scalar(*self.user_symbol(e, ctx)[1:], 1)
            if name == "kaddr":
                return UINT64
            if name in ("ksym", "usym", "strncmp", "strcontains", "sizeof", "len", "cgroupid"):
                return T(name, 8 if name == "ksym" else 16) if name in ("ksym", "usym") else INT64
            if name in ("kstack", "ustack"):
                return T(name, 8 if name == "kstack" else 16)
            if name in AGGREGATIONS:
                raise _err(f"{name}() should be directly assigned to a map", e)
            return NONE
        if isinstance(e, ast.Binary):
            if e.op in _COMPARE or e.op in ("&&", "||"):
                return INT64
            left, right = self.type_of(e.left, ctx, env), self.type_of(e.right, ctx, env)
            if left.kind == "ptr" and e.op in ("+", "-") and right.kind == "int":
                return left
            if e.op in ("<<", ">>"):
                return INT64 if left.signed else UINT64
            return INT64 if left.signed and right.signed else UINT64
        if isinstance(e, ast.Unary):
            if e.op == "*":
                operand = self.type_of(e.operand, ctx, env)
                if operand.kind != "ptr":
                    raise _err(f"cannot dereference a {operand}", e)
                return self.kernel.element(operand)
            if e.op == "&":
                raise _err("taking an address with '&' is not supported", e)
            if e.op in ("++pre", "--pre", "post++", "post--"):
                if isinstance(e.operand, ast.MapRef) and e.operand.name not in self.maps:
                    return INT64
                operand = self.type_of(e.operand, ctx, env)
                if operand.kind not in ("int", "ptr"):
                    raise _err(f"cannot increment or decrement a {operand}", e)
                return operand
            if e.op == "!":
                return INT64
            operand = self.type_of(e.operand, ctx, env)  # - and ~: 64 bits, of the operand's sign
            return T("int", 8, operand.signed) if operand.kind == "int" else operand
        if isinstance(e, ast.Index):
            base = self.type_of(e.base, ctx, env)
            if base.kind not in ("ptr", "array"):
                raise _err(f"cannot index a {base}", e)
            return self.kernel.element(base)
        if isinstance(e, ast.OffsetOf):
            return UINT64
        if isinstance(e, ast.Ternary):
            then, otherwise = self.type_of(e.then, ctx, env), self.type_of(e.otherwise, ctx, env)
            if (then.kind == "str") != (otherwise.kind == "str"):
                raise _err(f"ternary operator branches have different types: '{then}' and '{otherwise}'", e)
            return _wider(then, otherwise)
        if isinstance(e, ast.Tuple):
            return tuple_of([self.type_of(i, ctx, env) for i in e.items])
        if isinstance(e, ast.Cast):
            from pybpf.trace.parser import INT_TYPES
            if e.ctype in INT_TYPES:
                size, signed = INT_TYPES[e.ctype]
                return T("int", size, signed)
            if e.ctype.split()[0] in INT_TYPES and e.ctype.endswith("*"):
                return self.kernel.pointer_to_scalar(*INT_TYPES[e.ctype.split()[0]], e.ctype.count("*"))
            found = self.kernel.named(e.ctype)
            if found is None:
                raise _err(f"unknown type '{e.ctype}' (not in the kernel's BTF)", e)
            if found.kind in ("record", "array"):
                raise _err(f"cannot cast to {e.ctype}; cast to a pointer ({e.ctype} *)", e)
            return found
        if isinstance(e, ast.FieldAccess):
            base = self.type_of(e.base, ctx, env)
            if base.kind == "args":
                f = self.field(e, ctx)
                if f.is_string:
                    return string(f.array_len if f.array_len and not f.dynamic else STRLEN)
                if f.array_len and not f.dynamic:
                    return T("bytes", f.size)
                if f.type.startswith(("struct ", "const struct ")) and f.type.endswith("*"):
                    found = self.kernel.named(f.type)
                    if found is not None:
                        return found
                return T("int", 8, f.signed)
            if base.kind == "tuple" and e.field.isdigit():
                index = int(e.field)
                if index >= len(base.items):
                    raise _err(f"invalid tuple index: {index}, tuple has {len(base.items)} items", e)
                return base.items[index]
            if base.kind in ("ptr", "record"):
                return self.kernel_member(base, e).type
            raise _err(f"cannot access field '{e.field}' of a {base}", e)
        if isinstance(e, ast.SizeOf):
            return UINT64
        raise _err("unsupported expression", e)

    def kernel_address(self, name: ast.String) -> int:
        """The address of kernel symbol ``name`` (from /proc/kallsyms)."""
        from pybpf.symbols.kallsyms import KernelSymbols
        try:
            address = KernelSymbols.load().address(name.value)
        except Exception:  # noqa: BLE001 - unreadable kallsyms: say so below
            address = None
        if not address:
            raise _err(f"Failed to resolve kernel symbol: {name.value}", name)
        return address

    def user_symbol(self, call: ast.Call, ctx: Context) -> tuple[int, int, bool]:
        """uaddr("name"): the symbol's address in the probed binary, and the integer it
        points to as bpftrace types it (its size when 1, 2, 4 or 8 bytes, else 8; signed)."""
        if len(call.args) != 1 or not isinstance(call.args[0], ast.String):
            raise _err("uaddr() takes a symbol name as a string literal", call)
        if ctx.kind not in ("uprobe", "uretprobe", "usdt"):
            raise _err("uaddr can only be used with u(ret)probes and usdt probes", call)
        from pybpf.symbols import SymbolError, find_library
        from pybpf.symbols.elf import symbol_value
        binary = ctx.point.parts[0]
        name = call.args[0].value
        if (binary, name) not in self._user_symbols:
            try:
                found = symbol_value(binary if "/" in binary else find_library(binary), name)
            except SymbolError as exc:
                raise _err(str(exc), call) from None
            if found is None:
                raise _err(f"Could not resolve symbol: {binary}:{name}", call.args[0])
            self._user_symbols[(binary, name)] = found
        address, size = self._user_symbols[(binary, name)]
        return address, size if size in (1, 2, 4, 8) else 8, True

    def kernel_member(self, base: T, e: ast.FieldAccess) -> Any:
        """The member ``e`` names of a struct (through a pointer with ``->``)."""
        record = base
        if base.kind == "ptr":
            if not e.arrow:
                raise _err(f"cannot access field '{e.field}' of a pointer ({base}); use '->'", e)
            record = self.kernel.element(base)
        if record.kind != "record":
            raise _err(f"cannot access field '{e.field}' of {record}", e)
        found = self.kernel.member(record, e.field)
        if found is None:
            raise _err(f"{record} has no field named '{e.field}'", e)
        return found

    def field(self, e: ast.FieldAccess, ctx: Context) -> Any:
        if ctx.format is None:
            raise _err(f"args is only available in tracepoint probes, not in {ctx.kind}", e)
        for f in ctx.format.fields:
            if f.name == e.field:
                return f
        raise _err(f"tracepoint {ctx.target} has no field '{e.field}'", e)

    def literal(self, e: ast.Expr) -> int | None:
        """The integer an integer literal or a positional parameter holding one ($1) is,
        where bpftrace wants a literal; None otherwise."""
        if isinstance(e, ast.Integer):
            return e.value
        if isinstance(e, ast.Positional) and e.index and _is_int(self.param(e)):
            return _c_int(self.param(e))
        return None

    def constant_string(self, e: ast.Expr) -> str | None:
        """The text of a string known when compiling, None for others: a literal, a
        positional parameter that is not a number, ``str()`` of one, or one plus an
        integer literal (bpftrace's pointer arithmetic into the literal: ``str($1 + 1)``)."""
        if isinstance(e, ast.String):
            return e.value
        if isinstance(e, ast.Positional) and e.index and not _is_int(self.param(e)):
            return self.param(e)
        if isinstance(e, ast.Call) and e.name == "str" and len(e.args) == 1:
            return self.constant_string(e.args[0])
        if isinstance(e, ast.Binary) and e.op == "+" and isinstance(e.right, ast.Integer):
            text = self.constant_string(e.left)
            if text is not None and 0 <= e.right.value <= len(text.encode()):
                return text.encode()[e.right.value:].decode(errors="replace")
        return None

    def param(self, e: ast.Positional) -> str:
        return self.params[e.index - 1] if e.index <= len(self.params) else ""

    # -- maps: layout from every use ------------------------------------------------------

    def declare_maps(self, contexts: list[tuple[ast.Probe, Context]]) -> None:
        """Key and value types of every map, from its assignments (two passes, so maps
        assigned from other maps resolve), after every call's argument count is checked."""
        from pybpf.trace.arity import check_arity
        for probe, _ in contexts:
            for node in _walk(probe):
                if isinstance(node, ast.Call):
                    check_arity(node)
        for _ in range(2):
            for probe, ctx in contexts:
                self._declare_in(probe.body, ctx, {})
        for probe, ctx in contexts:
            self._check_used(probe, ctx)

    def _declare_in(self, body: list[ast.Statement], ctx: Context, env: dict[str, T]) -> None:
        for s in body:
            for node in _walk(s):  # maps first seen in @x++ / ++@x are integers
                if isinstance(node, ast.Unary) and node.op in ("++pre", "--pre", "post++", "post--") and \
                        isinstance(node.operand, ast.MapRef) and node.operand.name not in self.maps:
                    self._declare_map(ast.Assign(node.operand, "+=", ast.Integer(1), position=node.position), ctx, env)
            if isinstance(s, ast.Assign):
                if isinstance(s.target, ast.Variable):
                    if s.step and s.target.name in env:  # $x++ keeps $x's type, wrapping as bpftrace's
                        continue
                    try:
                        found = self.type_of(s.value, ctx, env)
                    except TraceSyntaxError:
                        continue
                    name = s.target.name
                    env[name] = _wider(env[name], found) if name in env else found
                elif isinstance(s.target, ast.MapRef):
                    self._declare_map(s, ctx, env)
            elif isinstance(s, ast.If):
                self._declare_in(s.then, ctx, env)
                self._declare_in(s.otherwise, ctx, env)
            elif isinstance(s, (ast.Unroll, ast.While)):
                self._declare_in(s.body, ctx, env)
            elif isinstance(s, ast.For):
                loop = self.loop_type(s)
                if loop is not None:
                    env[s.variable] = _wider(env[s.variable], loop) if s.variable in env else loop
                self._declare_in(s.body, ctx, env)

    def _declare_map(self, s: ast.Assign, ctx: Context, env: dict[str, T]) -> None:
        target = s.target
        try:
            keys = [self.type_of(k, ctx, env) for k in target.keys]
            value: str | T
            if isinstance(s.value, ast.Call) and s.value.name in AGGREGATIONS:
                value = s.value.name
            else:
                value = self.type_of(s.value, ctx, env)
                if s.op != "=":
                    value = INT64
        except TraceSyntaxError:
            return
        keys = [T("int", 8, k.signed) if k.kind not in MEM_KINDS else k for k in keys]
        info = self.maps.get(target.name)
        if info is None:
            lhist = (0, 0, 0)
            if value == "lhist":
                lhist = self._lhist_params(s.value)
            bits = self._hist_bits(s.value) if value == "hist" and isinstance(s.value, ast.Call) else 0
            self.maps[target.name] = MapInfo(target.name, keys, value, lhist, bits)
            return
        if len(info.keys) != len(keys):
            raise _err(f"argument mismatch for {target.name}: trying to access with {len(keys)} arguments "
                       f"when map expects {len(info.keys)} arguments", target)
        info.keys = [_wider(a, b) for a, b in zip(info.keys, keys)]
        if isinstance(info.value, T) and isinstance(value, T):
            info.value = _wider(info.value, value)
        elif info.value != value:
            raise _err(f"type mismatch for {target.name}: trying to assign value of type "
                       f"'{value}' when map already contains a value of type '{info.value}'", s.value)

    def _lhist_params(self, call: ast.Call) -> tuple[int, int, int]:
        if len(call.args) != 4 or not all(isinstance(a, ast.Integer) for a in call.args[1:]):
            raise _err("lhist() takes 4 arguments: value, min, max and step (integer literals)", call)
        low, high, step = (a.value for a in call.args[1:])
        if step <= 0:  # bpftrace's checks, in its order
            raise _err(f"lhist() step must be >= 1 ({step} provided)", call)
        if (high - low) // step > 1000:
            raise _err(f"lhist() too many buckets, must be <= 1000 (would need {(high - low) // step})", call)
        if low < 0:
            raise _err(f"lhist() min must be non-negative (provided min {low})", call)
        if low > high:
            raise _err(f"lhist() min must be less than max (provided min {low} and max {high})", call)
        if high - low < step:
            raise _err(f"lhist() step is too large for the given range (provided step {step} for range {high - low})",
                       call)
        return low, high, step

    def loop_type(self, s: ast.For) -> T | None:
        """The type of a for loop's variable: (key, value) of the map (the keys as a
        tuple when there are several), or an integer of a range; None while the map's
        layout is unknown."""
        if not isinstance(s.source, ast.MapRef):
            return INT64
        info = self.maps.get(s.source.name)
        if info is None:
            return None
        key = info.keys[0] if len(info.keys) == 1 else tuple_of(info.keys) if info.keys else INT64
        return tuple_of([key, info.value if isinstance(info.value, T) else INT64])

    def _hist_bits(self, call: ast.Call) -> int:
        if len(call.args) == 1:
            return 0
        bits = call.args[1] if len(call.args) == 2 else None
        if not isinstance(bits, ast.Integer) or not 0 <= bits.value <= 5:
            raise _err("hist() takes a value and optionally the bits per power of two (an integer literal, 0-5)",
                       call)
        return bits.value

    def _check_used(self, probe: ast.Probe, ctx: Context) -> None:
        for node in _walk(probe):
            if isinstance(node, ast.MapRef) and node.name not in self.maps:
                raise _err(f"undefined map: {node.name}", node)

    # -- actions ----------------------------------------------------------------------

    def action(self, action: Action) -> int:
        key = (action.kind, action.text, tuple(action.types), action.map, action.top, action.div, action.position)
        if key not in self._action_ids:
            self._action_ids[key] = len(self.actions)
            self.actions.append(action)
        return self._action_ids[key]

    # -- programs ---------------------------------------------------------------------

    def compile_probe(self, probe: ast.Probe, ctx: Context) -> CompiledProbe:
        body = ProbeCompiler(self, ctx)
        instructions, references = body.compile(probe)
        kinds = {"tracepoint": "tracepoint", "BEGIN": "raw_tracepoint", "END": "raw_tracepoint",
                 "rawtracepoint": "raw_tracepoint", "uprobe": "kprobe", "uretprobe": "kprobe", "usdt": "kprobe",
                 "profile": "perf_event", "interval": "perf_event", "software": "perf_event",
                 "hardware": "perf_event", "iter": "tracing", "watchpoint": "perf_event",
                 "asyncwatchpoint": "perf_event"}
        return CompiledProbe(ctx.point, ctx.target, instructions, references, kinds.get(ctx.kind, "kprobe"),
                             ctx.usdt_site, ctx.watch)


def _wider(a: T, b: T) -> T:
    if a.kind == "str" and b.kind == "str":
        return a if a.size >= b.size else b
    if a.kind == "int" and b.kind == "int":
        return a if a.signed or not b.signed else b
    if a.kind == "tuple" and b.kind == "tuple" and len(a.items) == len(b.items):
        return tuple_of([_wider(x, y) for x, y in zip(a.items, b.items)])
    return a


def _c_int(text: str) -> int | None:
    """The integer a positional parameter spells as C does (``123``, ``0x7b``, octal
    ``0775``), None when it is not one."""
    import re
    if re.fullmatch(r"[-+]?0[0-7]+", text.strip()):
        return int(text, 8)
    try:
        return int(text, 0)
    except ValueError:
        return None


def _is_int(text: str) -> bool:
    return _c_int(text) is not None


def _walk(node: Any):
    """Every node under ``node``."""
    yield node
    if isinstance(node, list):
        for item in node:
            yield from _walk(item)
        return
    if not isinstance(node, ast.Node):
        return
    for name in field_names(node):
        if name in ("type", "position", "length"):
            continue
        value = getattr(node, name)
        if isinstance(value, (ast.Node, list, tuple)):
            yield from _walk(list(value) if isinstance(value, tuple) else value)


@dataclass(frozen=True)
class SharedArea:
    """The top of a probe's stack that its for loops' callbacks share (see ProbeCompiler)."""

    size: int
    flag: int                 #: set when the body ran ``return``: the probe ends
    start: int                #: a range loop's first value
    context: int              #: the probe's context pointer (r6)


class ProbeCompiler:
    """Instructions of one attach point's program."""

    def __init__(self, gen: Generator, ctx: Context):
        self.gen = gen
        self.ctx = ctx
        self.e = Emitter()
        self.vars: dict[str, tuple[int, T]] = {}
        self.end = self.e.label("exit")
        self.loops: list[tuple[str, str]] = []
        #: for loops' bodies are callbacks with frames of their own: the variables, then a
        #: "returned" flag, a range's start and the context pointer, on top of the stack,
        #: are copied into the callback's frame (the same offsets) and back out
        self.shared: SharedArea | None = None

    def compile(self, probe: ast.Probe) -> tuple[list, dict[int, str]]:
        e = self.e
        e.movr(6, 1)
        env: dict[str, T] = {}
        self.gen._declare_in(probe.body, self.ctx, env)
        loop_variables = {node.variable for node in _walk(probe.body) if isinstance(node, ast.For)}
        assigned = {node.target.name for node in _walk(probe.body)
                    if isinstance(node, ast.Assign) and isinstance(node.target, ast.Variable)}
        for name, t in env.items():
            if name in loop_variables - assigned:
                continue  # lives in its loop's callback only
            offset = e.alloc(t.slot)
            e.zero(offset, t.slot)
            self.vars[name] = (offset, t)
        if loop_variables:
            flag, start, context = e.alloc(8), e.alloc(8), e.alloc(8)
            e.zero(context, e.stack)
            e.store(10, context, 6)
            self.shared = SharedArea(e.stack, flag, start, context)
        if probe.predicate is not None:
            mark = e.stack
            self.int_expr(probe.predicate)
            e.stack = mark
            e.jump_if("==", 0, 0, self.end)
        self.block(probe.body)
        e.place(self.end)
        e.mov(0, 0)
        e.exit()
        return e.finish()

    def type_of(self, expr: ast.Expr) -> T:
        return self.gen.type_of(expr, self.ctx, {n: t for n, (_, t) in self.vars.items()})

    # -- statements ------------------------------------------------------------------

    def block(self, statements: list[ast.Statement]) -> None:
        for s in statements:
            mark = self.e.stack
            self.statement(s)
            self.e.stack = mark

    def if_else(self, condition: ast.Expr, then: Callable[[], None], otherwise: Callable[[], None]) -> None:
        """Code for ``condition``, then ``then()`` where it is non-zero and ``otherwise()``
        where it is zero (``if``/``else`` statements and ``?:`` alike)."""
        e = self.e
        other, done = e.label("else"), e.label("fi")
        self.int_expr(condition)
        e.jump_if("==", 0, 0, other)
        then()
        e.jump(done)
        e.place(other)
        otherwise()
        e.place(done)

    def statement(self, s: ast.Statement) -> None:
        e = self.e
        if isinstance(s, ast.ExprStatement):
            if isinstance(s.expr, ast.Ternary):  # cond ? printf(...) : printf(...)
                self.statement(ast.If(s.expr.condition, [ast.ExprStatement(s.expr.then, position=s.position)],
                                      [ast.ExprStatement(s.expr.otherwise, position=s.position)],
                                      position=s.position, length=s.length))
            elif isinstance(s.expr, ast.Call):
                self.call_statement(s.expr)
            else:
                self.value_into_r0_or_buffer(s.expr)
        elif isinstance(s, ast.Assign):
            self.assign(s)
        elif isinstance(s, ast.If):
            self.if_else(s.condition, lambda: self.block(s.then), lambda: self.block(s.otherwise))
        elif isinstance(s, ast.Unroll):
            for _ in range(s.count):
                self.block(s.body)
        elif isinstance(s, ast.While):
            top, done = e.label("while"), e.label("done")
            e.place(top)
            self.int_expr(s.condition)
            e.jump_if("==", 0, 0, done)
            self.loops.append((top, done))
            self.block(s.body)
            self.loops.pop()
            e.jump(top)
            e.place(done)
        elif isinstance(s, ast.For):
            self.for_loop(s)
        elif isinstance(s, ast.Jump):
            if s.kind == "return":
                e.jump(self.end)
            elif not self.loops:
                raise _err(f"'{s.kind}' outside of a loop", s)
            else:
                e.jump(self.loops[-1][0 if s.kind == "continue" else 1])
        else:
            raise _err("unsupported statement", s)

    # -- for loops: bpf_for_each_map_elem / bpf_loop with a callback ----------------------

    def loop_map(self, ref: ast.MapRef, what: str) -> MapInfo:
        """The map a for loop or len() goes over."""
        info = self.gen.maps[ref.name]
        if ref.keys:
            raise _err(f"{what} takes a whole map ({ref.name}), not an element", ref)
        if info.aggregation and info.aggregation not in FOR_AGGREGATIONS:
            raise _err(f"{what} cannot go over {ref.name}: its {info.aggregation}() values are kept in buckets "
                       f"(only {', '.join(a + '()' for a in FOR_AGGREGATIONS)} maps and plain maps)", ref)
        return info

    def for_loop(self, s: ast.For) -> None:
        """The body becomes a callback of bpf_for_each_map_elem (maps) or bpf_loop
        (ranges), which gets the shared area's address; a ``return`` in it ends the probe."""
        e = self.e
        assert self.shared is not None
        body = ProbeCompiler(self.gen, self.ctx).loop_body(s, self)
        skip = e.label("noloop")
        if isinstance(s.source, ast.MapRef):
            self.loop_map(s.source, "for")
            e.load_map(1, s.source.name)
            e.load_function(2, body)
            helper = FOR_EACH_MAP_ELEM
        else:
            start, end = s.source
            self.int_expr(start)
            e.store(10, self.shared.start, 0)
            self.int_expr(end)
            e.movr(1, 0)
            e.load(2, 10, self.shared.start)
            e.alur("-", 1, 2)
            e.jump_if("s<=", 1, 0, skip)
            e.load_function(2, body)
            helper = LOOP
        e.movr(3, 10)
        e.alu("+", 3, -self.shared.size)
        e.mov(4, 0)
        e.call(helper)
        e.place(skip)
        e.load(1, 10, self.shared.flag)
        e.jump_if("!=", 1, 0, self.end)

    def loop_body(self, s: ast.For, parent: ProbeCompiler) -> tuple[list, dict[int, str]]:
        """The callback: copy the shared area in, set the loop variable, run the body,
        copy the variables and the flag back out; 0 continues the loop, 1 stops it."""
        e = self.e
        shared = parent.shared
        assert shared is not None
        on_map = isinstance(s.source, ast.MapRef)
        area = 4 if on_map else 2    # callback(map, key, value, ctx) / callback(index, ctx)
        e.alloc(shared.size)
        for at in range(0, shared.size, 8):
            e.load(0, area, at)
            e.store(10, at - shared.size, 0)
        saved, result = e.alloc(8), e.alloc(8)
        e.store(10, saved, area)
        e.load(6, 10, shared.context)
        t = self.gen.loop_type(s)
        if t is None:
            assert isinstance(s.source, ast.MapRef)
            raise _err(f"undefined map: {s.source.name}", s.source)
        offset = e.alloc(t.slot)
        self.vars = dict(parent.vars)
        self.vars[s.variable] = (offset, t)
        # a loop inside this one shares this frame's variables, its own variable included
        self.shared = SharedArea(e.stack, shared.flag, shared.start, shared.context)
        if isinstance(s.source, ast.MapRef):
            self.loop_element(self.gen.maps[s.source.name], offset, t)
        else:
            e.load(0, 10, shared.start)
            e.alur("+", 0, 1)
            e.store(10, offset, 0)
        following, stop, out = e.label("next"), e.label("stop"), e.label("out")
        self.loops.append((following, stop))
        self.block(s.body)
        e.place(following)
        e.store_imm(10, result, 0)
        e.jump(out)
        e.place(self.end)
        e.store_imm(10, shared.flag, 1)
        e.place(stop)
        e.store_imm(10, result, 1)
        e.place(out)
        e.load(1, 10, saved)
        for at in range(shared.flag, 0, 8):  # the probe's variables and the flag (not a loop's own variable)
            e.load(0, 10, at)
            e.store(1, at + shared.size, 0)
        e.load(0, 10, result)
        e.exit()
        return e.finish()

    def loop_element(self, info: MapInfo, offset: int, t: T) -> None:
        """$kv = (key, value) from the callback's key (r2) and value (r3) pointers; the
        value of a per-CPU aggregation reduced over every CPU."""
        e = self.e
        key_t, value_t = t.items
        value_at = offset + t.offsets()[1]
        e.zero_exact(offset, t.size)
        # the map's key has each key in an 8-byte slot; the tuple has them at C offsets
        keys = key_t.items if key_t.kind == "tuple" and len(info.keys) > 1 else (key_t,)
        item_offsets = key_t.offsets() if len(keys) > 1 else [0]
        slot_at = 0
        for one, at in zip(keys, item_offsets):
            self.copy_from(2, slot_at, offset + at, one)
            slot_at += one.slot
        if not info.aggregation:
            self.copy_from(3, 0, value_at, value_t)
            return
        from pybpf.engine.cpus import possible_cpus
        e.store_imm(10, value_at, 0)
        seen = e.alloc(8)
        e.store_imm(10, seen, 0)
        for cpu in range(possible_cpus()):
            following, take = e.label("cpu"), e.label("take")
            e.load_map(1, info.name)
            e.movr(2, 10)
            e.alu("+", 2, offset)
            e.mov(3, cpu)
            e.call(MAP_LOOKUP_PERCPU)
            e.jump_if("==", 0, 0, following)
            e.load(1, 0, 0)
            e.load(2, 10, value_at)
            if info.aggregation in ("count", "sum"):
                e.alur("+", 2, 1)
                e.store(10, value_at, 2)
                e.place(following)
                continue
            e.load(3, 0, 8)
            e.jump_if("==", 3, 0, following)
            e.load(3, 10, seen)
            e.jump_if("==", 3, 0, take)
            e.jump_if("s<=" if info.aggregation == "max" else "s>=", 1, 2, following, register=True)
            e.place(take)
            e.store(10, value_at, 1)
            e.store_imm(10, seen, 1)
            e.place(following)

    def copy_from(self, pointer: int, at: int, offset: int, t: T) -> None:
        """Copy a ``t`` kept in its 8-byte slot at ``pointer + at`` to a tuple's item at
        stack ``offset`` (an integer in its own size there)."""
        e = self.e
        if t.kind == "int":
            e.load(0, pointer, at)
            e.store(10, offset, 0, t.size if t.size in (1, 2, 4) else 8)
            return
        done = 0
        while done < t.size:
            width = next(w for w in (8, 4, 2, 1) if (offset + done) % w == 0 and done + w <= t.size)
            e.load(0, pointer, at + done, width)
            e.store(10, offset + done, 0, width)
            done += width

    def map_length(self, ref: ast.MapRef) -> None:
        """r0 = len(@map): the number of elements bpf_for_each_map_elem visits with a
        callback that only continues."""
        e = self.e
        self.loop_map(ref, "len()")
        callback = Emitter()
        callback.mov(0, 0)
        callback.exit()
        e.load_map(1, ref.name)
        e.load_function(2, callback.finish())
        e.mov(3, 0)
        e.mov(4, 0)
        e.call(FOR_EACH_MAP_ELEM)

    def value_into_r0_or_buffer(self, expr: ast.Expr) -> None:
        t = self.type_of(expr)
        if t.kind in MEM_KINDS:
            self.mem_expr(expr)
        else:
            self.int_expr(expr)

    def assign(self, s: ast.Assign) -> None:
        e = self.e
        target = s.target
        if isinstance(target, ast.Variable):
            if target.name not in self.vars:
                self.type_of(s.value)  # raises the reason its type is unknown
                raise _err(f"cannot tell the type of {target.name}", s.value)
            offset, t = self.vars[target.name]
            if s.op == "=":
                self.store_value(s.value, t, offset)
            else:
                self.int_expr(ast.Binary(s.op[:-1], target, s.value, position=s.position, length=s.length))
                if s.step:
                    self.narrow(t)
                e.store(10, offset, 0)
            return
        info = self.gen.maps[target.name]
        if info.aggregation:
            self.aggregate(info, target, s.value)
            return
        key = self.key(info, target)
        if s.op == "=":
            value = e.alloc(info.value_size)
            self.store_value(s.value, info.value if isinstance(info.value, T) else INT64, value)
        else:
            self.int_expr(ast.Binary(s.op[:-1], target, s.value, position=s.position, length=s.length))
            value = e.alloc(8)
            e.store(10, value, 0)
        self.map_update(info.name, key, value, s)

    def map_update(self, name: str, key: int, value: int, node: ast.Node) -> None:
        e = self.e
        e.load_map(1, name)
        e.movr(2, 10)
        e.alu("+", 2, key)
        e.movr(3, 10)
        e.alu("+", 3, value)
        e.mov(4, 0)
        self.checked_call(MAP_UPDATE, node)

    def checked_call(self, helper: int, node: ast.Node | None, null_fails: bool = False) -> None:
        """Call ``helper``; under -k, a failure (a negative int result, or a NULL one when
        ``null_fails``) also sends a helper_error event naming the helper and ``node``'s
        place, as bpftrace's -k does (-k leaves out reads and lookups, whose failure
        yields 0 for the program to test; -kk reports them too). r0 is kept."""
        e = self.e
        e.call(helper)
        level = self.gen.helper_checks
        if node is None or level == 0 or (level == 1 and helper in (MAP_LOOKUP, PROBE_READ, PROBE_READ_STR)):
            return
        ok = e.label("helper_ok")
        if null_fails:
            e.jump_if("!=", 0, 0, ok)
        else:
            e.movr(1, 0)
            e.sign_extend(1, 4)  # helpers return int: its sign, as bpftrace tests it
            e.jump_if("s>=", 1, 0, ok)
        kept, event = e.alloc(8), e.alloc(16)
        e.store(10, kept, 0)
        e.store(10, event + 8, 1) if not null_fails else e.store_imm(10, event + 8, 0)
        action = self.gen.action(Action("helper_error", HELPER_NAMES[helper], position=node.position,
                                        length=node.length))
        e.store_imm(10, event, action)
        e.load_map(1, RING)
        e.movr(2, 10)
        e.alu("+", 2, event)
        e.mov(3, 16)
        e.mov(4, 0)
        e.call(RINGBUF_OUTPUT)
        e.load(0, 10, kept)
        e.place(ok)

    def key(self, info: MapInfo, ref: ast.MapRef, bucket: bool = False) -> int:
        """Build ``ref``'s key on the stack (with room for a bucket); its offset."""
        e = self.e
        if len(ref.keys) != len(info.keys):
            raise _err(f"argument mismatch for {info.name}: trying to access with {len(ref.keys)} arguments "
                       f"when map expects {len(info.keys)} arguments", ref)
        size = info.key_size + (8 if bucket else 0)
        offset = e.alloc(size, ref)
        if not ref.keys:
            e.store_imm(10, offset, 0)
        at = offset
        for expr, t in zip(ref.keys, info.keys):
            self.store_value(expr, t, at)
            at += t.slot
        return offset

    def aggregate(self, info: MapInfo, target: ast.MapRef, call: ast.Expr) -> None:
        e = self.e
        if not isinstance(call, ast.Call) or call.name != info.aggregation:
            raise _err(f"type mismatch for {info.name}: it holds {info.aggregation}()", call)
        kind = info.aggregation
        need = AGGREGATIONS[kind]
        if len(call.args) != need and not (kind == "hist" and len(call.args) == 2):
            raise _err(f"{kind}() takes {need} argument{'s' if need != 1 else ''}", call)
        slot = e.alloc(8)
        if need:
            self.int_expr(call.args[0])
            e.store(10, slot, 0)
        key = self.key(info, target, bucket=kind in BUCKETED)
        bucket = key + info.key_size
        if kind == "count":
            self.add_to(info.name, key, None, None, target)  # bpftrace checks no lookup of count()
        elif kind == "sum":
            self.add_to(info.name, key, slot, call, target)
        elif kind in ("avg", "stats"):
            e.store_imm(10, bucket, 0)
            self.add_to(info.name, key, None, call, target)
            e.store_imm(10, bucket, 1)
            self.add_to(info.name, key, slot, call, target)
        elif kind in ("min", "max"):
            self.min_max(info.name, key, slot, kind, call, target)
        elif kind == "hist":
            e.load(1, 10, slot)
            self.log2_bucket(info.bits)
            e.store(10, bucket, 0)
            self.add_to(info.name, key, None, call, target)
        else:
            low, high, step = info.lhist
            done = e.label("lh")
            e.load(1, 10, slot)
            e.mov(0, 0)
            e.jump_if("s<", 1, low, done)
            e.mov(0, (high - low) // step + 1)
            e.jump_if("s>=", 1, high, done)
            e.movr(0, 1)
            e.alu("-", 0, low)
            e.alu("/", 0, step)
            e.alu("+", 0, 1)
            e.place(done)
            e.store(10, bucket, 0)
            self.add_to(info.name, key, None, call, target)

    def log2_bucket(self, bits: int) -> None:
        """r0 = hist bucket of the signed value in r1, as bpftrace numbers them: 0 for
        negatives, v + 1 for 0 <= v < 2^bits, then 2^bits buckets per power of two
        (``((l - bits + 1) << bits) + next bits of v + 1`` with l = floor(log2 v))."""
        e = self.e
        done = e.label("h")
        mask = (1 << bits) - 1
        e.mov(0, 0)
        e.jump_if("s<", 1, 0, done)
        e.movr(0, 1)
        e.alu("+", 0, 1)
        e.jump_if("<=", 1, mask, done)
        e.movr(3, 1)
        e.mov(0, 0)
        for shift in (32, 16, 8, 4, 2, 1):
            skip = e.label("h")
            e.mov(2, (1 << shift) - 1)
            e.jump_if("<=", 1, 2, skip, register=True)
            e.alu(">>", 1, shift)
            e.alu("+", 0, shift)
            e.place(skip)
        if bits:
            e.alu("-", 0, bits)
            e.alur(">>", 3, 0)
            e.alu("&", 3, mask)
        e.alu("+", 0, 1)
        e.alu("<<", 0, bits)
        if bits:
            e.alur("+", 0, 3)
        e.alu("+", 0, 1)
        e.place(done)

    def add_to(self, name: str, key: int, amount: int | None, call: ast.Node | None, target: ast.Node) -> None:
        """Per-CPU ``map[key] += amount`` (1 when None): in place, or a new element
        (``call``, ``target``: where -k places a failing lookup and update)."""
        e = self.e
        missing, done = e.label("new"), e.label("added")
        e.load_map(1, name)
        e.movr(2, 10)
        e.alu("+", 2, key)
        self.checked_call(MAP_LOOKUP, call, null_fails=True)
        e.jump_if("==", 0, 0, missing)
        e.load(1, 0, 0)
        if amount is None:
            e.alu("+", 1, 1)
        else:
            e.load(2, 10, amount)
            e.alur("+", 1, 2)
        e.store(0, 0, 1)
        e.jump(done)
        e.place(missing)
        value = e.alloc(8)
        if amount is None:
            e.store_imm(10, value, 1)
        else:
            e.load(1, 10, amount)
            e.store(10, value, 1)
        self.map_update(name, key, value, target)
        e.place(done)

    def min_max(self, name: str, key: int, slot: int, kind: str, call: ast.Node, target: ast.Node) -> None:
        """value = (extreme so far, 1 once set); userspace reduces over CPUs."""
        e = self.e
        write, done = e.label("mm"), e.label("mmdone")
        e.load_map(1, name)
        e.movr(2, 10)
        e.alu("+", 2, key)
        self.checked_call(MAP_LOOKUP, call, null_fails=True)
        e.jump_if("==", 0, 0, write)
        e.load(1, 0, 0)
        e.load(2, 10, slot)
        e.jump_if("s<=" if kind == "max" else "s>=", 2, 1, done, register=True)
        e.store(0, 0, 2)
        e.jump(done)
        e.place(write)
        value = e.alloc(16)
        e.load(1, 10, slot)
        e.store(10, value, 1)
        e.store_imm(10, value + 8, 1)
        self.map_update(name, key, value, target)
        e.place(done)

    # -- calls as statements ---------------------------------------------------------

    def send(self, action_id: int, args: list[tuple[ast.Expr, T]], node: ast.Node) -> None:
        """Ring buffer event: the action id, then each argument in its slot."""
        e = self.e
        size = 8 + sum(t.slot for _, t in args)
        event = e.alloc(size, node)
        e.store_imm(10, event, action_id)
        at = event + 8
        for expr, t in args:
            self.store_value(expr, t, at)
            at += t.slot
        e.load_map(1, RING)
        e.movr(2, 10)
        e.alu("+", 2, event)
        e.mov(3, size)
        e.mov(4, 0)
        e.call(RINGBUF_OUTPUT)

    def call_statement(self, call: ast.Call) -> None:
        e = self.e
        name, args = call.name, call.args
        gen = self.gen
        if name in ("printf", "system", "cat"):
            if name == "system" and not gen.unsafe:
                raise _err("system() is an unsafe function being used in safe mode: use --unsafe", call)
            if not args or not isinstance(args[0], ast.String):
                raise _err(f"{name}() requires a string literal as the first argument", call)
            types = [self.type_of(a) for a in args[1:]]
            from pybpf.trace.printf import check_format
            check_format(args[0].value, types, call)
            self.send(gen.action(Action(name, args[0].value, types)), list(zip(args[1:], types)), call)
        elif name == "join":
            self.join(call)
        elif name == "debugf":
            self.debugf(call)
        elif name == "signal":
            if len(args) != 1:
                raise _err("signal() takes a signal number or name", call)
            if not gen.unsafe:
                raise _err("signal() is unsafe: use --unsafe", call)
            import signal as signals
            if isinstance(args[0], ast.String):
                name_ = args[0].value if args[0].value.startswith("SIG") else "SIG" + args[0].value
                number = getattr(signals, name_, None)
                if not isinstance(number, int):
                    raise _err(f"unknown signal '{args[0].value}'", args[0])
                e.mov(1, int(number))
            else:
                self.int_expr(args[0])
                e.movr(1, 0)
            self.checked_call(SEND_SIGNAL, call)
        elif name == "exit":  # exit(code): a newer bpftrace's exit status
            self.send(gen.action(Action("exit", types=[INT64] * len(args))), [(arg, INT64) for arg in args], call)
            e.jump(self.end)
        elif name in ("clear", "zero", "print") and args and isinstance(args[0], ast.MapRef) and not args[0].keys:
            if args[0].name not in gen.maps:
                raise _err(f"undefined map: {args[0].name}", args[0])
            if name == "print" and len(args) > 1 and gen.maps[args[0].name].aggregation == "stats":
                gen.warnings.append(("print()'s top and div arguments are ignored when used on stats() maps.",
                                     call.position, call.length))
            top = args[1].value if len(args) > 1 and isinstance(args[1], ast.Integer) else 0
            div = args[2].value if len(args) > 2 and isinstance(args[2], ast.Integer) else 0
            kind = "print_map" if name == "print" else name
            self.send(gen.action(Action(kind, map=args[0].name, top=top, div=div)), [], call)
        elif name == "print":
            if len(args) != 1:
                raise _err("print() takes a map, or one value", call)
            t = self.type_of(args[0])
            self.send(gen.action(Action("print_value", types=[t])), [(args[0], t)], call)
        elif name == "time":
            text = "%H:%M:%S\n"
            if args:
                if not isinstance(args[0], ast.String):
                    raise _err("time() takes a string literal", args[0])
                text = args[0].value
            self.send(gen.action(Action("time", text)), [], call)
        elif name == "__watch" and self.ctx.watch is not None:  # made by runtime for FUNCTION+argN watchpoints
            index, address, asynchronous = args
            self.send(gen.action(Action("watch")), [(index, INT64), (address, UINT64)], call)
            if not (isinstance(asynchronous, ast.Integer) and asynchronous.value):  # stopped until SIGCONT
                e.mov(1, 19)  # SIGSTOP
                e.call(SEND_SIGNAL)
        elif name == "unwatch":
            if len(args) != 1:
                raise _err("unwatch() takes an address", call)
            self.send(gen.action(Action("unwatch")), [(args[0], UINT64)], call)
        elif name == "delete":
            if len(args) != 1 or not isinstance(args[0], ast.MapRef):
                raise _err("delete() takes a map element: delete(@map[key])", call)
            info = gen.maps[args[0].name]
            if not info.keys and info.aggregation in ("count", "sum", "min", "max"):
                # bpftrace zeroes a keyless aggregation (on every CPU) rather than delete it
                self.send(gen.action(Action("zero", map=info.name)), [], call)
                return
            key = self.key(info, args[0])
            e.load_map(1, info.name)
            e.movr(2, 10)
            e.alu("+", 2, key)
            self.checked_call(MAP_DELETE, call)
        elif name in AGGREGATIONS:
            raise _err(f"{name}() should be directly assigned to a map", call)
        else:
            self.value_into_r0_or_buffer(call)

    # -- values ----------------------------------------------------------------------

    def store_value(self, expr: ast.Expr, t: T, offset: int, item: bool = False) -> None:
        """Write ``expr`` laid out as ``t`` at stack ``offset``: its whole 8-byte-rounded
        slot, or (``item``: a tuple's item, in a tuple already zeroed) exactly its bytes
        at the item's offset, which may be unaligned."""
        e = self.e
        if t.kind == "str":
            src_t = self.type_of(expr)
            if src_t.kind != "str":
                raise _err(f"expected a string, got {src_t}", expr)
            src = self.mem_expr(expr)
            if item:
                e.copy_exact(offset, src, min(src_t.size, t.size))
            else:
                e.zero(offset, t.slot) if src_t.slot < t.slot else None
                e.copy(offset, src, min(src_t.slot, t.slot))
            if src_t.size > t.size:
                e.store_imm(10, offset + t.size - 1, 0, 1)
        elif t.kind in MEM_KINDS and t.kind != "tuple":
            src_t = self.type_of(expr)
            if src_t.kind != t.kind:
                raise _err(f"expected a {t.kind}, got {src_t}", expr)
            if item:
                e.copy_exact(offset, self.mem_expr(expr), t.size)
            else:
                e.copy(offset, self.mem_expr(expr), t.slot)
        elif t.kind == "tuple":
            if isinstance(expr, ast.Tuple):
                if len(expr.items) != len(t.items):
                    raise _err(f"tuple of {len(expr.items)} items where {len(t.items)} are expected", expr)
                if item:
                    e.zero_exact(offset, t.size)
                else:
                    e.zero(offset, t.slot)  # the padding between items too (map keys compare every byte)
                for value, item_t, at in zip(expr.items, t.items, t.offsets()):
                    self.store_value(value, item_t, offset + at, item=True)
            else:
                src_t = self.type_of(expr)
                src = self.mem_expr(expr)
                if item:
                    e.copy_exact(offset, src, min(src_t.size, t.size))
                else:
                    e.copy(offset, src, min(src_t.slot, t.slot))
        else:
            src_t = self.type_of(expr)
            if src_t.kind in MEM_KINDS:
                raise _err(f"expected an integer, got {src_t}", expr)
            self.int_expr(expr)
            e.store(10, offset, 0, t.size if item and t.size in (1, 2, 4) else 8)

    def mem_expr(self, expr: ast.Expr) -> int:
        """Put a string or tuple value in a stack buffer; its offset."""
        e = self.e
        t = self.type_of(expr)
        if isinstance(expr, ast.Variable):
            if expr.name not in self.vars:
                raise _err(f"undefined variable '{expr.name}'", expr)
            return self.vars[expr.name][0]
        if isinstance(expr, (ast.String, ast.Positional)) or (isinstance(expr, ast.Builtin) and expr.name == "probe"):
            text = (expr.value if isinstance(expr, ast.String) else
                    self.gen.param(expr) if isinstance(expr, ast.Positional) else self.ctx.target)
            data = text.encode() + b"\0"
            offset = e.alloc(len(data), expr)
            data = data.ljust((len(data) + 7) // 8 * 8, b"\0")
            for at in range(0, len(data), 8):
                e.mov(0, int.from_bytes(data[at:at + 8], "little"))
                e.store(10, offset + at, 0)
            return offset
        if isinstance(expr, ast.Builtin) and expr.name == "comm":
            offset = e.alloc(16)
            e.movr(1, 10)
            e.alu("+", 1, offset)
            e.mov(2, 16)
            e.call(COMM)
            return offset
        if isinstance(expr, ast.Tuple):
            offset = e.alloc(t.slot, expr)
            self.store_value(expr, t, offset)
            return offset
        if isinstance(expr, ast.Builtin) and expr.name in ("kstack", "ustack"):
            self.gen.uses.add(STACKS)
            offset = e.alloc(t.slot)
            if expr.name == "ustack":
                e.call(PID_TGID)
                e.alu(">>", 0, 32)
                e.store(10, offset + 8, 0)
            e.movr(1, 6)
            e.load_map(2, STACKS)
            e.mov(3, USER_STACK if expr.name == "ustack" else 0)
            e.call(GET_STACKID)
            e.store(10, offset, 0)
            return offset
        if (isinstance(expr, ast.Call) and expr.name in ("ksym", "usym")) or (
                isinstance(expr, ast.Builtin) and expr.name == "func" and t.kind == "usym"):
            if isinstance(expr, ast.Call) and len(expr.args) != 1:
                raise _err(f"{expr.name}() takes one address", expr)
            offset = e.alloc(t.slot)
            if t.kind == "usym":
                e.call(PID_TGID)
                e.alu(">>", 0, 32)
                e.store(10, offset + 8, 0)
            if isinstance(expr, ast.Call):
                self.int_expr(expr.args[0])
            else:
                e.load(0, 6, PT_REGS_IP)
            e.store(10, offset, 0)
            return offset
        if isinstance(expr, ast.Call) and expr.name in ("ntop", "macaddr", "buf", "strftime"):
            return self.special_value(expr, t)
        if isinstance(expr, ast.Call) and expr.name in ("strerror", "cgroup_path"):  # resolved in userspace
            offset = e.alloc(8)
            self.int_expr(expr.args[0])
            e.store(10, offset, 0)
            return offset
        if isinstance(expr, ast.Call) and expr.name == "pton":
            import socket
            text = expr.args[0].value
            try:
                data = socket.inet_pton(socket.AF_INET6 if ":" in text else socket.AF_INET, text)
            except OSError:
                raise _err(f"pton(): '{text}' is not an IPv4 or IPv6 address", expr.args[0]) from None
            offset = e.alloc(len(data))
            padded = data.ljust((len(data) + 7) // 8 * 8, b"\0")
            for at in range(0, len(padded), 8):
                e.mov(0, int.from_bytes(padded[at:at + 8], "little"))
                e.store(10, offset + at, 0)
            return offset
        if isinstance(expr, ast.FieldAccess) and t.kind == "bytes":
            f = self.gen.field(expr, self.ctx)
            offset = e.alloc(t.slot)
            e.zero(offset, t.slot)
            self.read_ctx_bytes(offset, f.offset, f.size)
            return offset
        if isinstance(expr, ast.Builtin) and expr.name == "username":
            offset = e.alloc(8)
            e.call(UID_GID)
            e.zero_extend(0, 4)
            e.store(10, offset, 0)
            return offset
        if isinstance(expr, ast.Builtin) and expr.name == "func":
            return self.mem_expr(ast.Builtin("probe", position=expr.position, length=expr.length))
        if isinstance(expr, ast.Call) and expr.name == "str":
            constant = self.gen.constant_string(expr)
            if constant is not None:
                return self.mem_expr(ast.String(constant, position=expr.position, length=expr.length))
            return self.read_string(expr, t)
        if isinstance(expr, ast.FieldAccess) and self.type_of(expr.base).kind == "args":
            f = self.gen.field(expr, self.ctx)
            offset = e.alloc(t.slot)
            e.zero(offset, t.slot)
            e.movr(3, 6)
            if f.dynamic:
                e.load(0, 6, f.offset, 4)
                e.alu("&", 0, 0xFFFF)
                e.alur("+", 3, 0)
                if f.relative:
                    e.alu("+", 3, f.offset + 4)
            else:
                e.alu("+", 3, f.offset)
            e.movr(1, 10)
            e.alu("+", 1, offset)
            e.mov(2, t.size)
            e.call(PROBE_READ_STR)
            return offset
        if t.kind in ("record", "array") and self._in_memory(expr):
            offset = e.alloc(t.slot, expr)
            e.zero(offset, t.slot)
            self.address(expr)
            e.movr(3, 0)
            e.movr(1, 10)
            e.alu("+", 1, offset)
            e.mov(2, t.size)
            e.call(PROBE_READ)
            return offset
        if isinstance(expr, (ast.FieldAccess, ast.Index)) and self._in_memory(expr.base, True):
            base_t = self.type_of(expr.base)
            access = (self.gen.kernel_member(base_t, expr) if isinstance(expr, ast.FieldAccess)
                      else None)
            base = self.mem_expr(expr.base)
            if access is not None:
                return base + access.offset
            if isinstance(expr, ast.Index):
                return base + self.element_offset(expr)
        if isinstance(expr, (ast.FieldAccess, ast.Index)) and self.type_of(expr.base).kind in ("ptr", "record", "array"):
            # a char array member: all its bytes (bpftrace prints char s[5] = "hello" whole)
            offset = e.alloc(t.slot)
            e.zero(offset, t.slot)
            self.address(expr)
            e.movr(3, 0)
            e.movr(1, 10)
            e.alu("+", 1, offset)
            e.mov(2, t.size)
            self.checked_call(PROBE_READ, expr)
            return offset
        if isinstance(expr, ast.FieldAccess) and self.type_of(expr.base).kind == "tuple":
            at = self.mem_expr(expr.base) + self.type_of(expr.base).offsets()[int(expr.field)]
            if at % 8 == 0 or t.kind == "int":
                return at
            aligned = e.alloc(t.slot, expr)  # users of a buffer read it 8 bytes at a time
            e.zero(aligned, t.slot)
            e.copy_exact(aligned, at, t.size)
            return aligned
        if isinstance(expr, ast.MapRef):
            info = self.gen.maps[expr.name]
            key = self.key(info, expr)
            offset = e.alloc(t.slot)
            e.zero(offset, t.slot)
            missing = e.label("nomap")
            e.load_map(1, info.name)
            e.movr(2, 10)
            e.alu("+", 2, key)
            self.checked_call(MAP_LOOKUP, expr, null_fails=True)
            e.jump_if("==", 0, 0, missing)
            e.movr(7, 0)
            for at in range(0, t.slot, 8):
                e.load(1, 7, at)
                e.store(10, offset + at, 1)
            e.place(missing)
            return offset
        if isinstance(expr, ast.Ternary):
            offset = e.alloc(t.slot, expr)
            otherwise, done = e.label("else"), e.label("fi")
            self.int_expr(expr.condition)
            e.jump_if("==", 0, 0, otherwise)
            self.store_value(expr.then, t, offset)
            e.jump(done)
            e.place(otherwise)
            self.store_value(expr.otherwise, t, offset)
            e.place(done)
            return offset
        raise _err(f"unsupported {t} expression", expr)

    def debugf(self, call: ast.Call) -> None:
        """debugf(FORMAT, ...): bpf_trace_printk, as bpftrace: the kernel formats the
        message into the trace buffer (at most 3 conversions; integers passed as 64-bit
        values, strings as pointers to their stack copies)."""
        e = self.e
        args = call.args
        if not args or not isinstance(args[0], ast.String):
            raise _err("debugf() requires a string literal as the first argument", call)
        from pybpf.trace.printf import check_format, conversions
        types = [self.type_of(a) for a in args[1:]]
        check_format(args[0].value, types, call, "debugf")
        if len(conversions(args[0].value)) > 3:
            raise _err("debugf: Cannot use more than 3 conversion specifiers", call)
        self.gen.warnings.append(("The debugf() builtin is not recommended for production use. For more "
                                  "information see bpf_trace_printk in bpf-helpers(7).", call.position, call.length))
        values = []
        for arg, t in zip(args[1:], types):
            if t.kind in MEM_KINDS:
                values.append((True, self.mem_expr(arg)))
            else:
                slot = e.alloc(8)
                self.int_expr(arg)
                e.store(10, slot, 0)
                values.append((False, slot))
        text = self.mem_expr(args[0])
        for register, (pointer, slot) in zip((3, 4, 5), values):
            if pointer:
                e.movr(register, 10)
                e.alu("+", register, slot)
            else:
                e.load(register, 10, slot)
        e.movr(1, 10)
        e.alu("+", 1, text)
        e.mov(2, len(args[0].value.encode()) + 1)
        e.call(TRACE_PRINTK)  # unchecked under -k, as bpftrace's

    def join(self, call: ast.Call) -> None:
        """join(argv[, delim]): up to 16 strings of a NULL-terminated pointer array, read
        into the per-CPU join buffer and sent as one event (bpftrace's layout and sizes)."""
        e = self.e
        if not 1 <= len(call.args) <= 2 or (len(call.args) == 2 and not isinstance(call.args[1], ast.String)):
            raise _err("join() takes an array of strings and an optional delimiter literal", call)
        if self.type_of(call.args[0]).kind in MEM_KINDS:
            raise _err("join() takes a pointer to an array of string pointers", call.args[0])
        delim = call.args[1].value if len(call.args) == 2 else " "
        self.gen.uses.add(JOIN)
        action = self.gen.action(Action("join", delim))
        array, pointer, zero = e.alloc(8), e.alloc(8), e.alloc(4)
        self.int_expr(call.args[0])
        e.store(10, array, 0)
        e.store_imm(10, zero, 0, 4)
        done = e.label("join")
        e.load_map(1, JOIN)
        e.movr(2, 10)
        e.alu("+", 2, zero)
        e.call(MAP_LOOKUP)
        e.jump_if("==", 0, 0, done)
        e.movr(7, 0)
        e.store_imm(7, 0, action)
        for i in range(JOIN_ARGS):
            e.movr(1, 10)
            e.alu("+", 1, pointer)
            e.mov(2, 8)
            e.load(3, 10, array)
            e.alu("+", 3, 8 * i)
            e.call(PROBE_READ)
            e.movr(1, 7)
            e.alu("+", 1, 8 + i * JOIN_ARG_SIZE)
            e.mov(2, JOIN_ARG_SIZE)
            e.load(3, 10, pointer)
            e.call(PROBE_READ_STR)
        e.load_map(1, RING)
        e.movr(2, 7)
        e.mov(3, 8 + JOIN_ARGS * JOIN_ARG_SIZE)
        e.mov(4, 0)
        e.call(RINGBUF_OUTPUT)
        e.place(done)

    def read_ctx_bytes(self, offset: int, at: int, size: int) -> None:
        """Copy ``size`` bytes of the tracepoint record at ``at`` to stack ``offset``."""
        e = self.e
        e.movr(1, 10)
        e.alu("+", 1, offset)
        e.mov(2, size)
        e.movr(3, 6)
        e.alu("+", 3, at)
        e.call(PROBE_READ_KERNEL)

    def bytes_into(self, expr: ast.Expr, offset: int, size: int, own_bytes: bool = False) -> None:
        """``size`` bytes of ``expr`` at stack ``offset``: a record array's bytes, an
        integer's own bytes (``own_bytes``: ntop's address), or what a pointer or any
        other integer points to (buf, macaddr)."""
        e = self.e
        t = self.type_of(expr)
        if t.kind == "bytes" and isinstance(expr, ast.FieldAccess) and self.type_of(expr.base).kind == "args":
            f = self.gen.field(expr, self.ctx)
            self.read_ctx_bytes(offset, f.offset, min(size, f.size))
        elif isinstance(expr, (ast.FieldAccess, ast.Index)) and t.kind != "ptr" and \
                self.type_of(expr.base).kind in ("ptr", "record", "array"):  # a member's own bytes
            self.address(expr)
            e.movr(3, 0)
            e.movr(1, 10)
            e.alu("+", 1, offset)
            e.mov(2, size)
            e.call(PROBE_READ)
        elif t.kind in MEM_KINDS:
            source = self.mem_expr(expr)
            for at in range(min(size, t.size)):
                e.load(0, 10, source + at, 1)
                e.store(10, offset + at, 0, 1)
        elif own_bytes and t.kind == "int" and size <= 8 and not isinstance(expr, ast.Unary):
            self.int_expr(expr)
            e.store(10, offset, 0, 4 if size == 4 else 8)
        else:
            self.int_expr(expr)
            e.movr(3, 0)
            e.movr(1, 10)
            e.alu("+", 1, offset)
            e.mov(2, size)
            e.call(PROBE_READ)

    def special_value(self, call: ast.Call, t: T) -> int:
        """ntop, macaddr, buf and strftime values, for userspace to format."""
        e = self.e
        offset = e.alloc(t.slot, call)
        e.zero(offset, t.slot)
        args = call.args
        if call.name == "ntop":
            if not 1 <= len(args) <= 2:
                raise _err("ntop() takes an address, or a family and an address", call)
            address = args[-1]
            address_t = self.type_of(address)
            size = address_t.size if address_t.kind == "bytes" else 4
            if size not in (4, 16):
                raise _err(f"ntop() needs 4 or 16 bytes of address, not {size}", address)
            if len(args) == 2:
                self.int_expr(args[0])
                e.store(10, offset, 0)
            else:
                e.store_imm(10, offset, 2 if size == 4 else 10)
            self.bytes_into(address, offset + 8, size, own_bytes=True)
        elif call.name == "macaddr":
            if len(args) != 1:
                raise _err("macaddr() takes one address", call)
            given = self.type_of(args[0])
            if (given.kind == "bytes" and given.size != 6) or (given.kind == "str" and given.size < 6):
                raise _err("macaddr() argument must be 6 bytes in size", call)
            self.bytes_into(args[0], offset, 6)
        elif call.name == "buf" and len(args) == 2 and self.gen.literal(args[1]) is None:
            # as bpftrace: min(length, STRLEN) bytes read from the pointer
            capacity, fits = t.size - 8, e.label("buflen")
            self.int_expr(args[1])
            e.jump_if("<=", 0, capacity, fits)
            e.mov(0, capacity)
            e.place(fits)
            e.store(10, offset, 0)
            self.int_expr(args[0])
            e.movr(3, 0)
            e.load(2, 10, offset)
            e.movr(1, 10)
            e.alu("+", 1, offset + 8)
            e.call(PROBE_READ)
        elif call.name == "buf":
            e.store_imm(10, offset, t.size - 8)
            self.bytes_into(args[0], offset + 8, t.size - 8)
        else:
            self.int_expr(args[1])
            e.store(10, offset, 0)
        return offset

    def read_string(self, call: ast.Call, t: T) -> int:
        e = self.e
        if not 1 <= len(call.args) <= 2:
            raise _err("str() takes 1 or 2 arguments", call)
        source_t = self.type_of(call.args[0])
        if source_t.kind == "str" and len(call.args) == 1:
            return self.mem_expr(call.args[0])
        if isinstance(call.args[0], ast.Positional) and call.args[0].index:  # str($1): the parameter's text
            return self.mem_expr(ast.String(self.gen.param(call.args[0]), position=call.position))
        offset = e.alloc(t.slot)
        e.zero(offset, t.slot)
        if len(call.args) == 2:
            self.int_expr(call.args[1])
            limit, skip = e.label("lim"), e.label("lim")
            e.alu("+", 0, 1)
            e.jump_if("<=", 0, t.size, limit)
            e.mov(0, t.size)
            e.place(limit)
            e.jump_if("!=", 0, 0, skip)
            e.mov(0, 1)
            e.place(skip)
            e.store(10, offset, 0)
        if source_t.kind == "str":  # str($s, n): its first n - 1 characters, read as from a pointer
            source = self.mem_expr(call.args[0])
            e.movr(0, 10)
            e.alu("+", 0, source)
        else:
            self.int_expr(call.args[0])
        e.movr(3, 0)
        if len(call.args) == 2:
            e.load(2, 10, offset)
            e.store_imm(10, offset, 0)
        else:
            e.mov(2, t.size)
        e.movr(1, 10)
        e.alu("+", 1, offset)
        e.call(PROBE_READ_STR)
        return offset

    def int_expr(self, expr: ast.Expr) -> None:
        """Compute an integer-valued expression into r0."""
        e = self.e
        if isinstance(expr, ast.Integer):
            e.mov(0, expr.value)
        elif isinstance(expr, ast.Positional):
            if expr.index == 0:
                e.mov(0, len(self.gen.params))
            else:
                value = self.gen.param(expr) or "0"
                number = _c_int(value)
                if number is None:
                    raise _err(f"${expr.index} is used as an integer but '{value}' is not one", expr)
                e.mov(0, number)
        elif isinstance(expr, ast.Variable):
            if expr.name not in self.vars:
                raise _err(f"undefined variable '{expr.name}'", expr)
            offset, t = self.vars[expr.name]
            if t.kind in MEM_KINDS:
                raise _err(f"{expr.name} is a {t}, not an integer", expr)
            e.load(0, 10, offset)
        elif isinstance(expr, ast.Builtin):
            value = self.gen.kernel.enum_value(expr.name) if expr.name.isupper() else None
            if value is not None:
                e.mov(0, value)
            else:
                self.builtin(expr)
        elif isinstance(expr, ast.MapRef):
            info = self.gen.maps[expr.name]
            key = self.key(info, expr, bucket=info.aggregation in BUCKETED)
            if info.aggregation in ("avg", "stats"):
                raise _err(f"{info.name} holds {info.aggregation}() and cannot be read in a probe", expr)
            if info.aggregation in BUCKETED:
                raise _err(f"{info.name} holds {info.aggregation}() and cannot be read in a probe", expr)
            missing = e.label("nomap")
            e.load_map(1, info.name)
            e.movr(2, 10)
            e.alu("+", 2, key)
            self.checked_call(MAP_LOOKUP, expr, null_fails=True)
            e.jump_if("==", 0, 0, missing)
            e.load(0, 0, 0)
            e.place(missing)
        elif isinstance(expr, ast.Binary):
            self.binary(expr)
        elif isinstance(expr, ast.Index) and self._in_memory(expr.base, True) and isinstance(expr.index, ast.Integer):
            element = self.type_of(expr)
            size = self.gen.kernel.sizeof(element) if element.kind in ("record", "array") else element.size
            offset = self.mem_expr(expr.base) + self.element_offset(expr)
            e.load(0, 10, offset, size if size in (1, 2, 4, 8) else 8)
            if element.kind == "int" and element.signed:
                e.sign_extend(0, size)
        elif isinstance(expr, ast.Unary) and expr.op == "*" or isinstance(expr, ast.Index):
            self.read_kernel(expr)
        elif isinstance(expr, ast.Unary) and expr.op in ("++pre", "--pre", "post++", "post--"):
            self.increment(expr)
        elif isinstance(expr, ast.Unary):
            self.type_of(expr)
            operand = self.type_of(expr.operand)
            self.int_expr(expr.operand)
            if expr.op in ("-", "~"):  # at the operand's width, as bpftrace: ~(uint8)0 is 255
                e.neg(0) if expr.op == "-" else e.alu("^", 0, -1)
                if operand.kind == "int":
                    (e.sign_extend if operand.signed else e.zero_extend)(0, operand.size)
            else:
                yes = e.label("not")
                e.movr(1, 0)
                e.mov(0, 1)
                e.jump_if("==", 1, 0, yes)
                e.mov(0, 0)
                e.place(yes)
        elif isinstance(expr, ast.Ternary):
            self.if_else(expr.condition, lambda: self.int_expr(expr.then), lambda: self.int_expr(expr.otherwise))
        elif isinstance(expr, ast.Cast):
            t = self.type_of(expr)
            self.int_expr(expr.operand)
            if t.kind != "int":
                return
            if t.signed:
                e.sign_extend(0, t.size)
            else:
                e.zero_extend(0, t.size)
        elif isinstance(expr, ast.FieldAccess):
            base = self.type_of(expr.base)
            if base.kind == "args":
                f = self.gen.field(expr, self.ctx)
                if f.is_string:
                    raise _err(f"{expr.field} is a string; compare it as one or print it with %s", expr)
                size = f.size if f.size in (1, 2, 4, 8) else 8
                e.load(0, 6, f.offset, size)
                if f.signed:
                    e.sign_extend(0, size)
            elif base.kind == "tuple":
                offset = self.mem_expr(expr)
                item = base.items[int(expr.field)]
                size = item.size if item.kind == "int" and item.size in (1, 2, 4) else 8
                e.load(0, 10, offset, size)
                if item.signed:
                    e.sign_extend(0, size)
            elif base.kind == "record" and self._in_memory(expr.base, True):
                member = self.gen.kernel_member(base, expr)
                offset = self.mem_expr(expr.base) + member.offset
                size = member.type.size if member.type.kind == "int" else 8
                e.load(0, 10, offset, size if size in (1, 2, 4, 8) else 8)
                if member.type.kind == "int" and member.type.signed:
                    e.sign_extend(0, size)
            elif base.kind in ("ptr", "record"):
                self.read_kernel(expr)
            else:
                raise _err(f"cannot access field '{expr.field}' of a {base}", expr)
        elif isinstance(expr, ast.Call):
            self.int_call(expr)
        elif isinstance(expr, ast.SizeOf):
            if expr.operand is None:
                from pybpf.trace.parser import INT_TYPES
                if expr.ctype in INT_TYPES:
                    e.mov(0, INT_TYPES[expr.ctype][0])
                else:
                    found = self.gen.kernel.named(expr.ctype)
                    if found is None:
                        raise _err(f"unknown type '{expr.ctype}' (not in the kernel's BTF)", expr)
                    e.mov(0, self.gen.kernel.sizeof(found))
            else:
                t = self.type_of(expr.operand)
                e.mov(0, self.gen.kernel.sizeof(t) if t.kind in ("record", "array") else t.size)
        elif isinstance(expr, ast.OffsetOf):
            found = self.gen.kernel.named(expr.ctype)
            if found is None or found.kind != "record":
                raise _err(f"offsetof() needs a struct or union, not '{expr.ctype}'", expr)
            member = self.gen.kernel.member(found, expr.member)
            if member is None:
                raise _err(f"{expr.ctype} has no field named '{expr.member}'", expr)
            e.mov(0, member.offset)
        else:
            t = self.type_of(expr)
            raise _err(f"a {t} cannot be used as an integer here", expr)

    def increment(self, expr: ast.Unary) -> None:
        """``x++``/``++x`` (and ``--``) on a variable or map element: r0 = the old value
        (postfix) or the new one (prefix)."""
        e = self.e
        target = expr.operand
        step = 1 if "++" in expr.op else -1
        target_t = self.type_of(target)
        if target_t.kind == "ptr" and target_t.btf:
            step *= self.gen.kernel.sizeof(self.gen.kernel.element(target_t))
        old = e.alloc(8)
        self.int_expr(target)
        e.store(10, old, 0)
        e.alu("+", 0, step)
        if isinstance(target, ast.Variable):
            self.narrow(target_t)
            e.store(10, self.vars[target.name][0], 0)
        else:
            info = self.gen.maps[target.name]
            if info.aggregation:
                raise _err(f"{info.name} holds {info.aggregation}(); it cannot be incremented", expr)
            value = e.alloc(8)
            e.store(10, value, 0)
            self.map_update(info.name, self.key(info, target), value, expr)
        e.load(0, 10, old)
        if expr.op.endswith("pre"):
            e.alu("+", 0, step)
            if isinstance(target, ast.Variable):
                self.narrow(target_t)

    def narrow(self, t: T) -> None:
        """r0 held in ``t``'s width (sign- or zero-extended): a narrow integer variable
        wraps as bpftrace's does (``$x = (uint8)255; $x++`` is 0)."""
        if t.kind == "int" and t.size < 8:
            (self.e.sign_extend if t.signed else self.e.zero_extend)(0, t.size)

    def element_offset(self, expr: ast.Index) -> int:
        """Where element ``expr`` (a constant index) is in its array: checked against
        the array's length, as bpftrace checks it when compiling."""
        if not isinstance(expr.index, ast.Integer):
            raise _err("an array held by the program is indexed with a constant", expr.index)
        element = self.type_of(expr)
        size = self.gen.kernel.sizeof(element) if element.kind in ("record", "array") else element.size
        base = self.type_of(expr.base)
        count = (self.gen.kernel.sizeof(base) if base.kind in ("record", "array") else base.size) // max(size, 1)
        if not 0 <= expr.index.value < count:
            raise _err(f"the index {expr.index.value} is out of bounds for array of size {count}", expr)
        return expr.index.value * size

    def _in_memory(self, expr: ast.Expr, on_stack: bool = False) -> bool:
        """Whether ``expr`` names kernel/user memory (False) or a value this program holds
        on its stack (``on_stack``: a variable, map value or tuple item of record type)."""
        if on_stack:  # also an element or member of such a value: @m[k][1].t, $a[1][0]
            if self.type_of(expr).kind not in ("record", "array"):
                return False
            return isinstance(expr, (ast.Variable, ast.MapRef)) or (
                isinstance(expr, (ast.Index, ast.FieldAccess)) and self._in_memory(expr.base, True))
        if isinstance(expr, ast.Unary) and expr.op == "*":
            return True
        if isinstance(expr, (ast.FieldAccess, ast.Index)):
            base = self.type_of(expr.base)
            return base.kind == "ptr" or (base.kind in ("record", "array") and self._in_memory(expr.base))
        return False

    def address(self, expr: ast.Expr) -> Any:
        """r0 = the kernel address of a struct member, pointee or element; its access."""
        from pybpf.trace.kernel_types import MemberAccess
        e = self.e
        kernel = self.gen.kernel
        if isinstance(expr, ast.FieldAccess):
            base = self.type_of(expr.base)
            member = self.gen.kernel_member(base, expr)
            if base.kind == "ptr":
                self.int_expr(expr.base)
            else:
                self.address(expr.base)
            if member.offset:
                e.alu("+", 0, member.offset)
            return member
        if isinstance(expr, ast.Unary) and expr.op == "*":
            target = self.type_of(expr)
            self.int_expr(expr.operand)
            return MemberAccess(0, 0, 0, target)
        if isinstance(expr, ast.Index):
            base = self.type_of(expr.base)
            element = kernel.element(base)
            if base.kind == "array" and isinstance(expr.index, ast.Integer):
                self.element_offset(expr)  # the bounds check
            spill = e.alloc(8)
            if base.kind == "ptr":
                self.int_expr(expr.base)
            else:
                self.address(expr.base)
            e.store(10, spill, 0)
            self.int_expr(expr.index)
            e.alu("*", 0, kernel.sizeof(element) if element.kind in ("record", "array") else element.size)
            e.load(1, 10, spill)
            e.alur("+", 0, 1)
            return MemberAccess(0, 0, 0, element)
        raise _err("not a kernel memory location", expr)

    def read_kernel(self, expr: ast.Expr) -> None:
        """r0 = the integer (or pointer) at a kernel location; a struct's address."""
        e = self.e
        access = self.address(expr)
        t = access.type
        if t.kind in ("record", "array"):
            return
        if t.kind == "str":
            raise _err(f"{t} is a string; use it as one (printf %s, comparisons)", expr)
        size = t.size if t.kind == "int" else 8
        count = min(8, (access.bit_offset + access.bit_size + 7) // 8) if access.bit_size else size
        tmp = e.alloc(8)
        e.store_imm(10, tmp, 0)
        e.movr(3, 0)
        e.movr(1, 10)
        e.alu("+", 1, tmp)
        e.mov(2, count)
        self.checked_call(PROBE_READ_KERNEL, expr)
        e.load(0, 10, tmp)
        if self.ctx.kind == "iter" and isinstance(expr, ast.FieldAccess) and \
                isinstance(expr.base, ast.Builtin) and expr.base.name == "ctx":
            e.jump_if("==", 0, 0, self.end)  # the iterator's last call has no task (or file): bpftrace skips it
        if access.bit_size:
            if access.bit_offset:
                e.alu(">>", 0, access.bit_offset)
            e.alu("&", 0, (1 << access.bit_size) - 1) if access.bit_size < 32 else e.zero_extend(0, 4)
        elif t.kind == "int" and t.signed:
            e.sign_extend(0, size)

    def builtin(self, b: ast.Builtin) -> None:
        e = self.e
        name = b.name
        if name in ("pid", "tid"):
            e.call(PID_TGID)
            e.alu(">>", 0, 32) if name == "pid" else e.zero_extend(0, 4)
        elif name in ("uid", "gid"):
            e.call(UID_GID)
            e.alu(">>", 0, 32) if name == "gid" else e.zero_extend(0, 4)
        elif name == "nsecs":
            e.call(KTIME)
        elif name == "elapsed":
            e.call(KTIME)
            e.mov(1, self.gen.start_ns)
            e.alur("-", 0, 1)
        elif name == "cpu":
            e.call(SMP_ID)
        elif name == "numaid":
            e.call(NUMA_NODE)
        elif name == "ctx":
            e.movr(0, 6)
        elif name.startswith("sarg") and name[4:].isdigit():
            if self.ctx.kind not in ("uprobe", "uretprobe", "usdt"):
                raise _err(f"{name} is only available in uprobes", b)
            tmp = e.alloc(8)
            e.store_imm(10, tmp, 0)
            e.load(3, 6, PT_REGS_SP)
            e.alu("+", 3, 8 * (int(name[4:]) + 1))
            e.movr(1, 10)
            e.alu("+", 1, tmp)
            e.mov(2, 8)
            e.call(PROBE_READ)
            e.load(0, 10, tmp)
        elif name == "cpid":
            if not self.gen.cpid:
                raise _err("cpid cannot be used without a child command (-c)", b)
            e.mov(0, self.gen.cpid)
        elif name == "rand":
            e.call(PRANDOM)
        elif name == "cgroup":
            e.call(CGROUP_ID)
        elif name == "curtask":
            e.call(CURRENT_TASK)
        elif name.startswith("arg") and name[3:].isdigit() and self.ctx.kind == "usdt":
            self.usdt_argument(int(name[3:]), b)
        elif name.startswith("arg") and name[3:].isdigit():
            index = int(name[3:])
            if self.ctx.kind not in ("uprobe", "uretprobe", "usdt", "kprobe"):
                raise _err(f"{name} is only available in uprobes (use args.FIELD in tracepoints)", b)
            if index >= len(PT_REGS_ARGS):
                raise _err(f"{name} is past the {len(PT_REGS_ARGS)} register arguments", b)
            e.load(0, 6, PT_REGS_ARGS[index])
        elif name == "retval":
            if self.ctx.kind not in ("uretprobe", "kretprobe"):
                raise _err("the retval builtin can only be used with 'kretprobe' and 'uretprobe' probes", b)
            e.load(0, 6, PT_REGS_RC)
        else:
            t = self.type_of(b)
            raise _err(f"'{name}' is a {t}, not an integer", b)

    def usdt_argument(self, index: int, node: ast.Node) -> None:
        """r0 = USDT argument ``index`` where the probe's stapsdt note says it is: a
        constant, a register, or memory at register + displacement (+ index * scale),
        narrowed to its size and sign-extended when signed."""
        from pybpf.usdt.arguments import ArgKind
        e = self.e
        arguments = self.ctx.usdt_site.arguments if self.ctx.usdt_site is not None else ()
        if index >= len(arguments):
            raise _err(f"usdt probe {self.ctx.target} has {len(arguments)} argument"
                       f"{'s' if len(arguments) != 1 else ''}: there is no arg{index}", node)
        arg = arguments[index]
        if arg.kind == ArgKind.CONST:
            e.mov(0, arg.value)
        else:
            e.load(0, 6, arg.reg_offset)
        if arg.kind in (ArgKind.REG_DEREF, ArgKind.SIB):
            if arg.kind == ArgKind.SIB:
                e.load(1, 6, arg.index_offset)
                e.alu("*", 1, arg.scale)
                e.alur("+", 0, 1)
            e.alu("+", 0, arg.value)
            tmp = e.alloc(8)
            e.store_imm(10, tmp, 0)
            e.movr(3, 0)
            e.movr(1, 10)
            e.alu("+", 1, tmp)
            e.mov(2, arg.size)
            e.call(PROBE_READ)
            e.load(0, 10, tmp)
        if arg.signed:
            e.sign_extend(0, arg.size)
        else:
            e.zero_extend(0, arg.size)

    def int_call(self, call: ast.Call) -> None:
        e = self.e
        if call.name in ("strncmp",):
            limit = self.gen.literal(call.args[2]) if len(call.args) == 3 else None
            if limit is None:
                raise _err("strncmp() takes two strings and an integer literal", call)
            self.string_compare(call.args[0], call.args[1], limit)
            e.alu("^", 0, 1)
        elif call.name == "strcontains":
            self.string_contains(call)
        elif call.name in ("uptr", "kptr"):  # address-space annotations: the legacy reads take both
            self.int_expr(call.args[0])
        elif call.name == "reg":
            if len(call.args) != 1 or not isinstance(call.args[0], ast.String) or call.args[0].value not in PT_REGS:
                raise _err(f"reg() takes a register name: {', '.join(PT_REGS)}", call)
            if self.ctx.kind not in ("uprobe", "uretprobe", "usdt", "profile", "software", "hardware"):
                raise _err(f"reg() is not available in {self.ctx.kind} probes", call)
            e.load(0, 6, PT_REGS[call.args[0].value])
        elif call.name == "bswap":
            t = self.type_of(call)
            self.int_expr(call.args[0])
            if t.size > 1:
                e.raw(Instruction(o.ALU | o.END | o.TO_BE, 0, 0, 0, 8 * t.size))
            if t.size < 8:
                e.zero_extend(0, t.size)
        elif call.name == "cgroupid":
            if len(call.args) != 1 or not isinstance(call.args[0], ast.String):
                raise _err("cgroupid() takes a cgroup path string literal", call)
            try:
                e.mov(0, os.stat(call.args[0].value).st_ino)
            except OSError as exc:
                raise _err(f"cgroupid(\"{call.args[0].value}\"): {exc.strerror}", call.args[0]) from None
        elif call.name == "uaddr":
            e.mov(0, self.gen.user_symbol(call, self.ctx)[0])
        elif call.name == "len":
            if len(call.args) != 1 or not isinstance(call.args[0], ast.MapRef):
                raise _err("len() takes a map: len(@map)", call)
            self.map_length(call.args[0])
        elif call.name == "kaddr":
            name = self.gen.constant_string(call.args[0]) if len(call.args) == 1 else None
            if name is None:
                raise _err("kaddr() takes a kernel symbol name as a string literal", call)
            e.mov(0, self.gen.kernel_address(ast.String(name, position=call.args[0].position,
                                                        length=call.args[0].length)))
        else:
            raise _err(f"unknown function '{call.name}'" if call.name not in
                       ("printf", "debugf", "exit", "clear", "zero", "print", "time", "delete") else
                       f"{call.name}() has no value", call)

    def binary(self, expr: ast.Binary) -> None:
        e = self.e
        op = expr.op
        if op in ("&&", "||"):
            short, done = e.label("sc"), e.label("scdone")
            self.int_expr(expr.left)
            e.jump_if("==" if op == "&&" else "!=", 0, 0, short)
            self.int_expr(expr.right)
            e.jump_if("==" if op == "&&" else "!=", 0, 0, short)
            e.mov(0, 1 if op == "&&" else 0)
            e.jump(done)
            e.place(short)
            e.mov(0, 0 if op == "&&" else 1)
            e.place(done)
            return
        left_t, right_t = self.type_of(expr.left), self.type_of(expr.right)
        if left_t.kind == "str" or right_t.kind == "str":
            if op not in ("==", "!="):
                raise _err(f"strings can only be compared with == and !=, not {op}", expr)
            if left_t.kind != right_t.kind:
                raise _err(f"type mismatch for '{op}': comparing '{left_t}' with '{right_t}'", expr)
            self.string_compare(expr.left, expr.right, max(left_t.size, right_t.size))
            if op == "!=":
                e.alu("^", 0, 1)
            return
        if left_t.kind == "buf" and right_t.kind == "buf" and op in ("==", "!="):
            self.buffer_compare(expr.left, expr.right)
            if op == "!=":
                e.alu("^", 0, 1)
            return
        if left_t.kind == "tuple" or right_t.kind == "tuple":
            raise _err(f"tuples cannot be used with '{op}'", expr)
        self.sign_warnings(expr, left_t, right_t)
        signed = left_t.signed and right_t.signed
        spill = e.alloc(8)
        self.int_expr(expr.left)
        e.store(10, spill, 0)
        self.int_expr(expr.right)
        e.movr(1, 0)
        if left_t.kind == "ptr" and op in ("+", "-") and right_t.kind == "int":
            step = self.gen.kernel.sizeof(self.gen.kernel.element(left_t)) if left_t.btf else 1
            if step != 1:
                e.alu("*", 1, step)
        e.load(0, 10, spill)
        if op in _COMPARE:
            yes = e.label("cmp")
            jop = ("s" + op) if signed and op not in ("==", "!=") else op
            e.movr(2, 0)
            e.mov(0, 1)
            e.jump_if(jop, 2, 1, yes, register=True)
            e.mov(0, 0)
            e.place(yes)
        else:  # as bpftrace: / and % unsigned (x / 0 is 0, x % 0 is x), >> logical
            e.alur(op, 0, 1)

    def sign_warnings(self, expr: ast.Binary, left_t: T, right_t: T) -> None:
        """bpftrace's warnings for operands whose signs make the result surprising: mixed
        signs in a comparison or arithmetic, signed operands of / and % (done unsigned);
        a literal that is not negative counts as unsigned."""
        if left_t.kind != "int" or right_t.kind != "int":
            return
        left_literal, right_literal = self.gen.literal(expr.left), self.gen.literal(expr.right)
        lsign, rsign, op = left_t.signed, right_t.signed, expr.op
        reasons = []
        if lsign != rsign:
            if lsign and left_literal is not None and left_literal >= 0:
                lsign = False
            elif rsign and right_literal is not None and right_literal >= 0:
                rsign = False
            elif op in _COMPARE or op in ("+", "-", "*", "/", "%"):
                names = " and ".join(f"'{'' if t.signed else 'unsigned '}int{t.size * 8}'" for t in (left_t, right_t))
                reasons.append(f"{'comparison of' if op in _COMPARE else 'arithmetic on'} integers of different signs: "
                               f"{names} can lead to undefined behavior")
        if op in ("/", "%"):
            lsign = lsign and not (left_literal is not None and left_literal >= 0)
            rsign = rsign and not (right_literal is not None and right_literal >= 0)
            if lsign or rsign:
                reasons.append(f"signed operands for '{op}' can lead to undefined behavior "
                               "(cast to unsigned to silence warning)")
        for reason in reasons:
            warning = (reason, expr.at, len(op))
            if warning not in self.gen.warnings:
                self.gen.warnings.append(warning)

    def buffer_compare(self, left: ast.Expr, right: ast.Expr) -> None:
        """r0 = 1 when two buf() values hold the same bytes: their lengths and data (kept
        zero-padded), word by word; the longer buffer's extra words must be zero."""
        e = self.e
        left_t, right_t = self.type_of(left), self.type_of(right)
        a, b = self.mem_expr(left), self.mem_expr(right)
        differ, done = e.label("bufne"), e.label("bufeq")
        for at in range(0, max(left_t.slot, right_t.slot), 8):
            if at < left_t.slot:
                e.load(1, 10, a + at)
            else:
                e.mov(1, 0)
            if at < right_t.slot:
                e.load(2, 10, b + at)
            else:
                e.mov(2, 0)
            e.jump_if("!=", 1, 2, differ, register=True)
        e.mov(0, 1)
        e.jump(done)
        e.place(differ)
        e.mov(0, 0)
        e.place(done)

    def string_compare(self, left: ast.Expr, right: ast.Expr, limit: int) -> None:
        """r0 = 1 when the strings are equal in their first ``limit`` bytes (or up to a NUL)."""
        e = self.e
        if isinstance(left, ast.String) and not isinstance(right, ast.String):
            left, right = right, left
        a = self.mem_expr(left)
        a_t = self.type_of(left)
        differ, done = e.label("ne"), e.label("eq")
        if isinstance(right, ast.String):
            data = right.value.encode() + b"\0"
            for i, byte in enumerate(data[:limit]):
                if i >= a_t.size:
                    break
                e.load(1, 10, a + i, 1)
                e.jump_if("!=", 1, byte, differ)
            if len(data) > a_t.size and limit > a_t.size:
                e.jump(differ)
        else:
            b = self.mem_expr(right)
            b_t = self.type_of(right)
            n = min(limit, a_t.size, b_t.size)
            for i in range(n):
                e.load(1, 10, a + i, 1)
                e.load(2, 10, b + i, 1)
                e.jump_if("!=", 1, 2, differ, register=True)
                e.jump_if("==", 1, 0, done)
        e.place(done)
        e.mov(0, 1)
        end = e.label("cmpend")
        e.jump(end)
        e.place(differ)
        e.mov(0, 0)
        e.place(end)

    def string_contains(self, call: ast.Call) -> None:
        """r0 = 1 when the first string contains the second (a literal)."""
        e = self.e
        if len(call.args) != 2 or not isinstance(call.args[1], ast.String):
            raise _err("strcontains() takes a string and a string literal", call)
        hay_t = self.type_of(call.args[0])
        if hay_t.kind != "str":
            raise _err("strcontains() needs a string as its first argument", call.args[0])
        hay = self.mem_expr(call.args[0])
        needle = call.args[1].value.encode()
        found, end = e.label("found"), e.label("scend")
        if not needle:
            e.mov(0, 1)
            return
        for start in range(hay_t.size - len(needle) + 1):
            miss = e.label("miss")
            for i, byte in enumerate(needle):
                e.load(1, 10, hay + start + i, 1)
                if i == 0:
                    e.jump_if("==", 1, 0, end)
                e.jump_if("!=", 1, byte, miss)
            e.jump(found)
            e.place(miss)
        e.mov(0, 0)
        done = e.label("scdone")
        e.jump(done)
        e.place(end)
        e.mov(0, 0)
        e.jump(done)
        e.place(found)
        e.mov(0, 1)
        e.place(done)
