"""BCC's implicit reads of kernel memory: ``task->real_parent->tgid`` in a BCC program is
a chain of loads through kernel pointers, which the verifier refuses as plain loads.
BCC's rewriter turns each into a probe read; so does this module, deciding from clang's
typed syntax tree of the translated program (:mod:`pybpf.toolchain.syntax_tree`) which
expressions are pointers into kernel memory and which loads go through them.

Which pointers point into the kernel follows BCC's rules, as a data flow over the
program's functions until nothing changes:

- the extra parameters of a probe function (``struct sock *sk`` after ``ctx``) and
  pointers made from what a probe's context holds (``(struct sock *)PT_REGS_PARM1(ctx)``,
  ``(struct task_struct *)ctx->args[0]``, a tracepoint's pointer fields);
- ``bpf_get_current_task()``;
- anything loaded from kernel memory (``task->real_parent``), an element or member
  address inside it (``&task->se``, ``task->comm``), pointer arithmetic and casts on it
  and either arm of a ``?:``;
- variables, struct members and function parameters assigned one (or filled by a
  probe read from kernel memory: ``bpf_probe_read_kernel(&p, sizeof(p), &t->parent)``),
  and functions returning one;
- a table whose values were updated with one (``currsock.update(&pid, &sk)``): what its
  lookups return points at a kernel pointer (``(*skpp)->__sk_common``).

Every load (clang's lvalue-to-rvalue conversion) of a place in kernel memory becomes
``bpf_probe_read_kernel`` of its address — nested loads first, so ``a->b->c`` is two
reads. Taking an address (``&task->pid``), an array decaying to a pointer
(``task->comm``) and ``sizeof`` read nothing. vmlinux.h's structs are declared with
``preserve_access_index``, so the addresses read carry CO-RE relocations, as
``BPF_CORE_READ`` would. Writing to kernel memory is an error naming the place.

The reads use pybpf's address-following reader (:mod:`pybpf.bcc.address_space`), as
BCC's ``bpf_probe_read`` does on x86-64: a pointer a tracepoint passes
(``args->filename[0]``) may point into user memory.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pybpf.bcc.tokens import BccSyntaxError, tokenize, where
from pybpf.btf import BTF, Kind
from pybpf.cache import DiskCache

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

#: the rewritten text of each program, by its text and flags (an analysis costs a
#: clang run of about 0.3 s; a script started again costs a file read)
READS = DiskCache("bcc-reads", max_entries=1024, max_bytes=64 << 20)

#: the first parameter types whose members BCC takes as values from the probed code
#: (``(struct sock *)PT_REGS_PARM1(ctx)`` points into the kernel)
_CONTEXTS = ("struct pt_regs *", "struct bpf_raw_tracepoint_args *", "struct tracepoint__")

_READER = "__bcc_probe_read_kernel"
#: the helpers (and pybpf's readers) that copy memory the program names into its own
_PROBE_READS = {"bpf_probe_read", "bpf_probe_read_kernel", "bpf_probe_read_user", "__bcc_probe_read_kernel"}
#: ``base->member`` / ``base.member`` at the end of an expression's text
_LAST_MEMBER = re.compile(r"^(.*?)\s*(->|\.)\s*([A-Za-z_]\w*)\s*$", re.S)

# What the analysis knows of a value: nothing (None), a pointer to the probe's
# context ("ctxptr"), a value read from the context ("ctx": a pointer into the kernel
# once it is used as one), or N >= 0: a pointer that, dereferenced N times, gives a
# pointer into kernel memory (0: it points into the kernel itself; 1: it points at a
# stack slot or table value holding such a pointer).
Value = str | int | None
# Where an lvalue lives: nowhere known (None), "kernel" memory, inside the context
# ("inctx"), or a slot of the program's own memory holding a known value ("slot", v).
Place = str | tuple[str, str | int] | None


def _kernel_btf() -> BTF:
    """The running kernel's BTF, parsed once per process (shared with the loader's)."""
    from pybpf.kernel.btf_targets import vmlinux

    return vmlinux()


def rewrite_kernel_reads(prefix: str, text: str, cflags: Sequence[str] = ()) -> str:
    """``text`` (a translated program, compiled after ``prefix``) with every load from
    kernel memory made a probe read. Raises :class:`BccSyntaxError` for a write to
    kernel memory."""
    from pybpf.toolchain.syntax_tree import function_trees

    functions = _defined_functions(text)
    if not functions:
        return text
    # keyed by the analysis' own code too, so a changed rule never meets an old answer,
    # and by the running kernel (whose types vmlinux.h declares)
    key = hashlib.sha256("\0".join([Path(__file__).read_text(), " ".join(os.uname()), prefix, text,
                                    *cflags]).encode()).hexdigest()
    cached = READS.read(key)
    if cached is not None:
        return cached.decode()
    parsed = function_trees(prefix, text, functions, cflags)
    if parsed is None:      # clang could not parse it: the compile names the errors
        return text
    base, trees = parsed
    flow = _Flow(trees, text, base, set(functions))
    reads = flow.run()
    if flow.writes:
        start, end = (offset - base for offset in min(flow.writes))
        raise BccSyntaxError(f"{where(text, start)}: writes to kernel memory ({' '.join(text[start:end].split())}); "
                             "BPF programs can only read it")
    rewritten = _render(text, {(s - base, e - base): bits for (s, e), bits in reads.items()
                               if 0 <= s - base and e - base <= len(text)})
    READS.write(key, rewritten.encode())
    return rewritten


def _defined_functions(text: str) -> list[str]:
    """Names of the functions ``text`` defines (``name(...) {`` outside any braces)."""
    tokens = tokenize(text)
    names, depth, i = [], 0, 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.text == "{":
            depth += 1
        elif tok.text == "}":
            depth -= 1
        elif depth == 0 and tok.kind == "id" and i + 1 < len(tokens) and tokens[i + 1].text == "(":
            level, j = 0, i + 1
            while j < len(tokens):
                level += {"(": 1, ")": -1}.get(tokens[j].text, 0)
                if level == 0:
                    break
                j += 1
            if j + 1 < len(tokens) and tokens[j + 1].text == "{":
                names.append(tok.text)
            i = j
        i += 1
    return names


def _render(text: str, spans: dict[tuple[int, int], bool]) -> str:
    """``text`` with each span (nested spans inside others) replaced by a probe read; a
    span marked True is a bitfield member (``task->in_execve``), whose address cannot be
    taken: it is read with ``BPF_CORE_READ_BITFIELD_PROBED``."""
    counter = [0]

    def render(lo: int, hi: int, inner: list[tuple[int, int]]) -> str:
        out, pos, i = [], lo, 0
        while i < len(inner):
            start, end = inner[i]
            j = i + 1
            while j < len(inner) and inner[j][1] <= end:
                j += 1
            body = render(start, end, inner[i + 1:j])
            member = _LAST_MEMBER.match(body) if spans[inner[i]] else None
            if member is not None:
                address = "&" if member.group(2) == "." else ""
                out.append(text[pos:start] + f"BPF_CORE_READ_BITFIELD_PROBED({address}({member.group(1)}), "
                           f"{member.group(3)})")
                pos, i = end, j
                continue
            counter[0] += 1
            v = f"__bcc_v{counter[0]}"
            out.append(text[pos:start] + f"({{ __typeof__({text[start:end].replace(chr(10), ' ')}) {v}; __builtin_memset((void *)&{v}, 0, "
                       f"sizeof({v})); {_READER}((void *)&{v}, sizeof({v}), (const void *)&({body})); {v}; }})")
            pos = end
            i = j
        out.append(text[pos:hi])
        return "".join(out)

    unique = sorted(spans, key=lambda s: (s[0], -s[1]))
    return render(0, len(text), unique)


@dataclass
class _Flow:
    """BCC's kernel-pointer rules over the functions' syntax trees, to a fixed point."""

    trees: list[dict[str, Any]]
    text: str               # the program's text, at offset ``base`` of the file clang parsed
    base: int
    functions: set[str]     # the functions defined in it
    variables: dict[str, Value] = field(default_factory=dict)   # VarDecl/ParmVarDecl id →
    members: dict[str, Value] = field(default_factory=dict)     # FieldDecl id →
    returns: dict[str, Value] = field(default_factory=dict)     # function name →
    tables: dict[str, Value] = field(default_factory=dict)      # map variable id → its values'
    params: dict[str, list[str]] = field(default_factory=dict)  # function name → parameter ids
    reads: dict[tuple[int, int], bool] = field(default_factory=dict)   # span → a bitfield
    writes: list[tuple[int, int]] = field(default_factory=list)     # spans of assignments
    changed: bool = False
    function: str = ""

    def run(self) -> dict[tuple[int, int], bool]:
        """The (start, end) file offsets of every load from kernel memory, and whether
        it loads a bitfield."""
        from pybpf.toolchain.syntax_tree import source_name

        for tree in self.trees:
            name = source_name(tree["name"])
            params = [c for c in tree.get("inner", ()) if c.get("kind") == "ParmVarDecl"]
            self.params[name] = [p["id"] for p in params]
            types = [p.get("type", {}).get("desugaredQualType", p.get("type", {}).get("qualType", ""))
                     for p in params]
            # a probe function's inlined body, or a static helper taking registers, has
            # __bcc_sys first; only the body's extra parameters are the probed function's
            context = 1 if params and params[0].get("name") == "__bcc_sys" else 0
            wrapped = context == 1 and name.startswith("__bcc_body_")
            if len(params) > context and types[context].startswith(_CONTEXTS):
                self._set(self.variables, params[context]["id"], "ctxptr")
            if wrapped:     # its extra parameters come from the probed function's arguments
                for param, type_text in zip(params[2:], types[2:]):
                    if "*" in type_text or type_text.startswith(("struct ", "union ")):
                        self._set(self.variables, param["id"], 0)
        for _ in range(20):
            self.changed = False
            self.reads.clear()
            self.writes.clear()
            for tree in self.trees:
                self.function = source_name(tree["name"])
                self._statement(tree)
            if not self.changed:
                break
        return self.reads

    def _set(self, table: dict[str, Value], key: str, value: Value) -> None:
        """Record ``value`` (the first known one wins, except that a pointer into kernel
        memory wins over a context value)."""
        old = table.get(key)
        if value is None or old == value or (old is not None and not (old in ("ctx", "ctxptr") and value == 0)):
            return
        table[key] = value
        self.changed = True

    # -- statements ----------------------------------------------------------------------

    def _statement(self, node: dict[str, Any]) -> None:
        kind = node.get("kind")
        if kind in ("UnaryExprOrTypeTraitExpr", "OffsetOfExpr"):
            return
        if "valueCategory" in node:
            self._eval(node)
            return
        if kind == "VarDecl":
            init = [c for c in node.get("inner", ()) if "valueCategory" in c]
            if init:
                self._set(self.variables, node["id"], self._value(init[0]))
            return
        if kind == "ReturnStmt":
            for child in node.get("inner", ()):
                self._set(self.returns, self.function, self._value(child))
            return
        for child in node.get("inner", ()):
            self._statement(child)

    # -- expressions ---------------------------------------------------------------------

    def _eval(self, node: dict[str, Any]) -> Any:
        """The Place of an lvalue, the Value of anything else."""
        if node.get("valueCategory") == "lvalue":
            return self._place(node)
        return self._value(node)

    def _value(self, node: dict[str, Any]) -> Value:
        if node.get("valueCategory") == "lvalue":    # an lvalue where a value is used: no load
            self._place(node)
            return None
        kind = node.get("kind")
        inner = node.get("inner", [])
        is_pointer = _is_pointer(node)
        if kind in ("UnaryExprOrTypeTraitExpr", "OffsetOfExpr"):
            return None
        if kind in ("ParenExpr", "ConstantExpr", "ExprWithCleanups") and inner:
            return self._value(inner[0])
        if kind in ("ImplicitCastExpr", "CStyleCastExpr"):
            cast = node.get("castKind")
            if cast == "LValueToRValue":
                return self._load(inner[0])
            if cast in ("ArrayToPointerDecay", "FunctionToPointerDecay"):
                return _address(self._place(inner[0]))
            value = self._value(inner[0])
            return 0 if value == "ctx" and is_pointer else value
        if kind == "UnaryOperator":
            opcode = node.get("opcode")
            if opcode == "&":
                return _address(self._place(inner[0]))
            if opcode in ("++", "--"):
                place = self._place(inner[0])
                self._write(place, node)
                return _loaded(place)
            self._value(inner[0])
            return None
        if kind in ("BinaryOperator", "CompoundAssignOperator"):
            return self._binary(node, inner, is_pointer)
        if kind in ("ConditionalOperator", "BinaryConditionalOperator"):
            values = [self._value(child) for child in inner]
            return _either(values[1:])
        if kind == "CallExpr":
            return self._call(inner)
        if kind == "StmtExpr":
            body = inner[0].get("inner", []) if inner else []
            for statement in body[:-1]:
                self._statement(statement)
            if body and "valueCategory" in body[-1]:
                return self._value(body[-1])
            if body:
                self._statement(body[-1])
            return None
        for child in inner:
            self._statement(child)
        return None

    def _binary(self, node: dict[str, Any], inner: list[dict[str, Any]], is_pointer: bool) -> Value:
        opcode = node.get("opcode", "")
        if opcode == "=" or node.get("kind") == "CompoundAssignOperator":
            place = self._place(inner[0])
            self._write(place, node)
            value = self._value(inner[1])
            if opcode == "=":
                self._assign(inner[0], value)
                return value
            return _loaded(place) if is_pointer else None
        values = [self._value(child) for child in inner]
        if opcode == ",":
            return values[1]
        if is_pointer and opcode in ("+", "-"):     # pointer arithmetic keeps what it points into
            pointers = [v for child, v in zip(inner, values) if _is_pointer(child)]
            return _either(pointers)
        return None

    def _assign(self, target: dict[str, Any], value: Value) -> None:
        """``target = value``: a variable, member, array element or ``*pointer`` now
        holds the value."""
        target = _bare(target)
        kind = target.get("kind")
        if kind == "DeclRefExpr":
            self._set(self.variables, target.get("referencedDecl", {}).get("id", ""), value)
        elif kind == "MemberExpr":
            self._set(self.members, target.get("referencedMemberDecl", ""), value)
        elif kind == "ArraySubscriptExpr":     # an element of the program's own array
            array = _bare(target["inner"][0])
            if array.get("kind") == "DeclRefExpr" and "[" in array.get("type", {}).get("qualType", ""):
                self._set(self.variables, array.get("referencedDecl", {}).get("id", ""), value)
        elif kind == "UnaryOperator" and target.get("opcode") == "*" and isinstance(value, int):
            pointer = _bare(target["inner"][0])
            if pointer.get("kind") == "DeclRefExpr":
                self._set(self.variables, pointer.get("referencedDecl", {}).get("id", ""), value + 1)

    def _call(self, inner: list[dict[str, Any]]) -> Value:
        callee = _bare(inner[0]) if inner else {}
        name = callee.get("referencedDecl", {}).get("name", "") if callee.get("kind") == "DeclRefExpr" else ""
        if callee.get("kind") != "DeclRefExpr":
            self._value(inner[0])
        args = [self._value(arg) for arg in inner[1:]]
        from pybpf.toolchain.syntax_tree import source_name

        name = source_name(name)
        if name == "bpf_get_current_task":
            return 0
        if name in _PROBE_READS and len(args) >= 3 and args[2] in (0, "ctx"):
            # bpf_probe_read_kernel(&p, sizeof(p), &task->real_parent): p holds what
            # kernel memory held
            destination = _bare(inner[1])
            if destination.get("kind") == "UnaryOperator" and destination.get("opcode") == "&":
                self._assign(destination["inner"][0], 0)
            return None
        if name in ("bpf_map_update_elem", "bpf_map_push_elem") and len(args) >= 2:
            table = _table(inner[1])
            stored = args[2] if name == "bpf_map_update_elem" and len(args) > 2 else args[1]
            if table and isinstance(stored, int) and stored >= 1:
                self._set(self.tables, table, stored - 1)
            return None
        if name == "bpf_map_lookup_elem" and args:
            table = _table(inner[1])
            held = self.tables.get(table) if table else None
            return held + 1 if isinstance(held, int) else None
        if name in self.params:
            for param, value in zip(self.params[name], args):
                self._set(self.variables, param, value)
            return self.returns.get(name)
        return None

    def _load(self, node: dict[str, Any]) -> Value:
        """The value loaded from lvalue ``node``; a load from kernel memory is a read."""
        place = self._place(node)
        if place == "kernel":
            span = _span(node, self.text, self.base, self.functions)
            if span is not None:
                self.reads[span] = _bitfield(node)
        return _loaded(place)

    def _write(self, place: Place, node: dict[str, Any]) -> None:
        if place == "kernel":
            span = _span(node, self.text, self.base, self.functions)
            if span is not None:
                self.writes.append(span)

    def _place(self, node: dict[str, Any]) -> Place:
        kind = node.get("kind")
        inner = node.get("inner", [])
        if kind == "DeclRefExpr":
            value = self.variables.get(node.get("referencedDecl", {}).get("id", ""))
            return None if value is None else ("slot", value)
        if kind == "ParenExpr" and inner:
            return self._place(inner[0])
        if kind == "UnaryOperator" and node.get("opcode") == "*":
            return _dereferenced(self._value(inner[0]))
        if kind == "ArraySubscriptExpr":
            base, index = self._value(inner[0]), self._value(inner[1])
            return _dereferenced(base if _is_pointer(inner[0]) else index)
        if kind == "MemberExpr":
            if node.get("isArrow"):
                where_ = _dereferenced(self._value(inner[0]))
            else:
                where_ = self._place(inner[0]) if inner[0].get("valueCategory") == "lvalue" else None
                if inner[0].get("valueCategory") != "lvalue":
                    self._value(inner[0])
            if where_ in ("kernel", "inctx"):
                return where_
            held = self.members.get(node.get("referencedMemberDecl", ""))
            return None if held is None else ("slot", held)
        for child in inner:
            self._statement(child)
        return None


def _loaded(place: Place) -> Value:
    if place == "kernel":
        return 0
    if place == "inctx":
        return "ctx"
    if isinstance(place, tuple):
        return place[1]
    return None


def _address(place: Place) -> Value:
    if place == "kernel":
        return 0
    if place == "inctx":
        return "ctxptr"
    if isinstance(place, tuple) and isinstance(place[1], int):
        return place[1] + 1
    return None


def _dereferenced(value: Value) -> Place:
    if value == "ctxptr":
        return "inctx"
    if value in ("ctx", 0):
        return "kernel"
    if isinstance(value, int):
        return ("slot", value - 1)
    return None


def _either(values: list[Value]) -> Value:
    """What a ``?:`` (or pointer arithmetic) gives: a kernel pointer if either may be one."""
    ints = [v for v in values if isinstance(v, int)]
    if ints:
        return min(ints)
    return next((v for v in values if v is not None), None)


def _bitfield(node: dict[str, Any]) -> bool:
    """Whether lvalue ``node`` is a bitfield member of a kernel struct (clang's JSON does
    not say; the kernel's BTF does)."""
    node = _bare(node)
    if node.get("kind") != "MemberExpr" or not node.get("inner"):
        return False
    words = node["inner"][0].get("type", {}).get("qualType", "").replace("*", " ").split()
    names = [w for w in words if w not in ("struct", "union", "const", "volatile")]
    if len(names) != 1:
        return False
    btf = _kernel_btf()
    record = btf.find(names[0], Kind.STRUCT) or btf.find(names[0], Kind.UNION)
    return record is not None and _bit_size(btf, record.id, node.get("name", "")) > 0


def _bit_size(btf: BTF, record: int, name: str) -> int:
    """The bit size of member ``name`` (0 if not a bitfield), looking inside anonymous
    struct/union members too."""
    for member in btf.resolve(record).members:
        if member.name == name:
            return member.bit_size
        if not member.name:
            inner = btf.resolve(member.type)
            if inner.kind in (Kind.STRUCT, Kind.UNION):
                found = _bit_size(btf, inner.id, name)
                if found:
                    return found
    return 0


def _is_pointer(node: dict[str, Any]) -> bool:
    """Whether expression ``node`` has a pointer type (seen through typedefs)."""
    kind = node.get("type", {})
    return "*" in kind.get("desugaredQualType", kind.get("qualType", ""))


def _bare(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` without parentheses and casts around it."""
    while node.get("kind") in ("ParenExpr", "ImplicitCastExpr", "CStyleCastExpr") and node.get("inner"):
        node = node["inner"][0]
    return node


def _table(node: dict[str, Any]) -> str | None:
    """The map variable of ``(void *)&table``."""
    node = _bare(node)
    if node.get("kind") == "UnaryOperator" and node.get("opcode") == "&":
        ref = _bare(node["inner"][0])
        if ref.get("kind") == "DeclRefExpr":
            return ref.get("referencedDecl", {}).get("id")
    return None


def _span(node: dict[str, Any], text: str, base: int, functions: set[str]) -> tuple[int, int] | None:
    """(start, end) file offsets of ``node``'s text, or None inside a macro's own text.
    An expression spelled in a macro argument is where the program spelled it; a call
    begins at the function's name, which the dump's ``#define`` renamed."""
    ends = []
    for key in ("begin", "end"):
        loc = node.get("range", {}).get(key, {})
        if "spellingLoc" in loc:
            expansion = loc.get("expansionLoc", {})
            at = expansion.get("offset", -1) - base
            if text[at:at + expansion.get("tokLen", 0)] in functions:
                loc = expansion
            elif expansion.get("isMacroArgExpansion"):
                loc = loc["spellingLoc"]
            else:
                return None
        if "offset" not in loc:
            return None
        ends.append((loc["offset"], loc.get("tokLen", 0)))
    (start, _), (last, length) = ends
    return (start, last + length) if last >= start else None


def own_structs(text: str) -> set[str]:
    """Structs the program defines itself (``struct name {``)."""
    tokens = tokenize(text)
    return {tokens[i + 1].text for i in range(len(tokens) - 2)
            if tokens[i].text == "struct" and tokens[i + 1].kind == "id" and tokens[i + 2].text == "{"}



def flavor_kernel_structs(text: str) -> str:
    """A program's own definition of a kernel struct (BCC tools copy private ones such
    as ``struct mnt_namespace``) would clash with vmlinux.h: it is renamed to the CO-RE
    flavor ``NAME___bcc`` with ``preserve_access_index``, so its members are relocated
    to where the running kernel has them."""
    btf = _kernel_btf()
    tokens = tokenize(text)
    clashing = {name for name in own_structs(text)
                if btf.find(name, Kind.STRUCT) is not None or btf.find(name, Kind.UNION) is not None}
    if not clashing:
        return text
    out, pos = [], 0
    for i in range(len(tokens) - 1):
        if tokens[i].text == "struct" and tokens[i + 1].text in clashing:
            defining = i + 2 < len(tokens) and tokens[i + 2].text == "{"
            attribute = " __attribute__((preserve_access_index))" if defining else ""
            out.append(text[pos:tokens[i].start] + f"struct{attribute} {tokens[i + 1].text}___bcc")
            pos = tokens[i + 1].end
    out.append(text[pos:])
    return "".join(out)
