"""BCC's C dialect → libbpf-style C for pybpf's toolchain.

Two passes over tokens (:mod:`pybpf.bcc.tokens`), each replacing exact spans:

1. *Declarations* at file scope: map macros become BTF-defined maps, ``TRACEPOINT_PROBE``
   and ``RAW_TRACEPOINT_PROBE`` become sectioned functions, kernel ``#include <...>`` lines
   go (the kernel's types come from ``vmlinux.h``, made from its BTF), and every
   non-static function taking a context becomes an inlined body plus entry points: a
   kprobe/uprobe one that reads extra parameters from the registers (as BCC does) and
   two syscall tracepoint ones (``bcc_N_enter``/``bcc_N_exit``), so a "kprobe" on
   a syscall's entry function can run on ``syscalls:sys_enter_*`` where kprobes do not
   exist. Which entry point is loaded is decided at attach time.
2. *Expressions* (on the program's text, before pass 1 changes it, so errors name exact
   columns): ``table.method(args)`` becomes helper calls on ``&table`` (nested calls
   inside arguments are rewritten first) and ``bpf_trace_printk("fmt", ...)`` gets its
   format's size.
"""

from __future__ import annotations

from pybpf.bcc.address_space import reads_of_either_space
from pybpf.bcc.kernel_reads import flavor_kernel_structs
from pybpf.bcc.packet_headers import rewrite_packet_accesses
from pybpf.bcc.tables_c import TABLE_MACROS, TableDecl, table_from_macro
from pybpf.bcc.tokens import (
    BccSyntaxError,
    Token,
    matching,
    split_arguments,
    tokenize,
    where,
)

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field


@dataclass(frozen=True)
class ProbeFunction:
    """A function BCC could load as a program: its name, context type and the extra
    parameters (type text, name) that BCC fills from the probed function's arguments."""

    name: str
    context_type: str
    extra: tuple[tuple[str, str], ...] = ()
    section: str = ""        # set for TRACEPOINT_PROBE/RAW_TRACEPOINT_PROBE/tracepoint__ functions
    #: the C name of its entry point (``bcc_N``; the kernel keeps 15 characters of a
    #: program's name); the syscall entry points are ``bcc_N_enter`` and ``bcc_N_exit``
    symbol: str = ""
    #: how many of the kernel function's arguments (and, for a fexit, its return value)
    #: a KFUNC_PROBE/KRETFUNC_PROBE/LSM_PROBE declares
    arguments: int = 0

    @property
    def wrapped(self) -> bool:
        """Whether it has kprobe and syscall-tracepoint entry points (else it is itself one)."""
        return not self.section


@dataclass
class Translation:
    """The C text for pybpf's compiler and what the Python side needs to know of it."""

    source: str
    tables: dict[str, TableDecl] = field(default_factory=dict)
    functions: dict[str, ProbeFunction] = field(default_factory=dict)
    #: ``cat:event`` of every ``struct tracepoint__cat__event`` the program uses
    tracepoint_structs: set[tuple[str, str]] = field(default_factory=set)
    #: output table → C type of the records the program sends through it ("struct data_t")
    event_types: dict[str, str] = field(default_factory=dict)
    #: table → the name of its map in the object (the kernel keeps 15 characters of a name)
    map_names: dict[str, str] = field(default_factory=dict)


_CONTEXT_SECTIONS = {"xdp_md": "xdp", "__sk_buff": "socket", "bpf_perf_event_data": "perf_event",
                     "bpf_raw_tracepoint_args": "raw_tracepoint"}


def translate(text: str) -> Translation:
    """The libbpf-style C of a BCC program, with its tables and loadable functions."""
    result = Translation("")
    text = flavor_kernel_structs(reads_of_either_space(rewrite_packet_accesses(text)))
    # methods are rewritten on the program's own text (the tables found by a first pass of
    # declarations), so their errors name exact columns; then the declarations for real
    declared_tables = Translation("")
    _declarations(text, declared_tables)
    sent: dict[str, list[str]] = {}
    methods = _expressions(text, declared_tables.tables, sent)
    result.source = _declarations(methods, result)
    result.source = _short_map_names(result) + result.source
    tokens = tokenize(result.source)
    for table, expressions in sent.items():
        for expression in expressions:
            type_text = _type_of(expression, tokens)
            if type_text:
                result.event_types[table] = type_text
                break
    # a record type used only inside functions is not in the object's BTF: a pointer
    # variable of that type puts it there, for table.event() to decode records with
    result.source += "".join(f"\n__attribute__((used)) static {type_text} *__bcc_event_{table};"
                             for table, type_text in result.event_types.items())
    return result


def _short_map_names(result: Translation) -> str:
    """Give each table a distinct map name of at most 15 characters: a long name is cut
    there (as the kernel cuts it) unless another table's name cuts to the same text — as
    trace.py's ``probe_getenv_1_events`` and ``probe_getenv_1_stack`` do — and such a
    table's C symbol becomes ``bcc_mapN`` (a #define, so every use of it follows)."""
    cut: dict[str, list[str]] = {}
    for name in result.tables:
        cut.setdefault(name[:15], []).append(name)
    defines: list[str] = []
    for short, names in cut.items():
        if len(names) == 1:
            result.map_names[names[0]] = short
            continue
        for name in names:
            symbol = f"bcc_map{len(defines)}"
            defines.append(f"#define {name} {symbol}\n")
            result.map_names[name] = symbol
    return "".join(defines)


def _type_of(expression: str, tokens: list[Token]) -> str | None:
    """The struct type of ``&var``, ``var`` or ``sizeof(struct x)``, from the variable's
    declaration (``struct x var``, ``struct x *var``) where it is a variable."""
    words = [t.text for t in tokenize(expression) if t.text not in "&()*"]
    if words[:1] == ["sizeof"]:
        words = words[1:]
    if len(words) == 2 and words[0] in ("struct", "union"):
        return " ".join(words)
    if len(words) != 1:
        return None
    for i in range(2, len(tokens) - 1):
        if tokens[i].text != words[0] or tokens[i + 1].text not in ("=", ";", "[", ",", ")"):
            continue
        j = i - 1
        while j > 0 and tokens[j].text == "*":
            j -= 1
        if tokens[j - 1].text in ("struct", "union") and tokens[j].kind == "id":
            return f"{tokens[j - 1].text} {tokens[j].text}"
        if tokens[j].kind == "id" and tokens[j].text not in ("return", "struct"):
            return tokens[j].text
    return None


def _text(text: str, tokens: list[Token], lo: int, hi: int) -> str:
    return text[tokens[lo].start:tokens[hi - 1].end] if hi > lo else ""


def _declarations(text: str, result: Translation) -> str:
    tokens = tokenize(text)
    out: list[str] = []
    pos = 0  # text copied up to here
    i, depth, statement_start = 0, 0, 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == "pp":
            if tok.text.replace(" ", "").startswith("#include<"):
                out.append(text[pos:tok.start] + f"/* {tok.text}: kernel types come from vmlinux.h */")
                pos = tok.end
            statement_start = i + 1
            i += 1
            continue
        if tok.kind == "punct" and tok.text in "{(":
            depth += 1
        elif tok.kind == "punct" and tok.text in "})":
            depth -= 1
            if depth == 0 and tok.text == "}":
                statement_start = i + 1
        elif depth == 0 and tok.text == ";":
            statement_start = i + 1
        if depth or tok.kind != "id" or i + 1 >= len(tokens) or tokens[i + 1].text != "(":
            i += 1
            continue
        close = matching(tokens, i + 1, text)
        place = where(text, tok.start)
        args = [_text(text, tokens, a, b) for a, b in split_arguments(tokens, i + 1, close)]
        if tok.text in TABLE_MACROS:
            table = table_from_macro(tok.text, args, place)
            if table.name in result.tables:
                raise BccSyntaxError(f"{place}: table {table.name!r} is declared twice")
            result.tables[table.name] = table
            end = close + 1
            if end < len(tokens) and tokens[end].text == ";":
                end += 1
            out.append(text[pos:tok.start] + table.to_c())
            pos = tokens[end - 1].end
            i, statement_start = end, end
            continue
        if tok.text in _PROBE_MACROS:
            # the replacement is one line: the lines the macro's arguments took follow it
            newlines = "\n" * text.count("\n", tok.start, tokens[close].end)
            out.append(text[pos:tok.start] + _probe_macro(tok.text, args, place, result) + newlines)
            pos = tokens[close].end
            i = close + 1
            continue
        if close + 1 < len(tokens) and tokens[close + 1].text == "{":
            qualifiers = {t.text for t in tokens[statement_start:i]}
            body_close = matching(tokens, close + 1, text)
            if qualifiers & {"static", "inline", "__always_inline"} and args and "pt_regs" in args[0].split():
                out.append(text[pos:tok.start] + _regs_helper(text, tokens, i, close, body_close))
                pos = tokens[body_close].end
            elif not qualifiers & {"static", "inline", "__always_inline", "extern"} \
                    and (args not in ([], ["void"]) or not _called(tokens, tok.text, i)):
                function = _probe_function(tok.text, args, result)
                if function.wrapped:
                    out.append(text[pos:tokens[statement_start].start])
                    returns = _text(text, tokens, statement_start, i)
                    out.append(_wrapped(text, tokens, i, close, body_close, function, returns))
                    pos = tokens[body_close].end
                else:
                    out.append(text[pos:tokens[statement_start].start] + f'SEC("{function.section}") '
                               + text[tokens[statement_start].start:tok.start] + function.symbol)
                    pos = tok.end
            for j in range(close + 1, body_close):  # struct tracepoint__cat__ev inside bodies
                _note_tracepoint_struct(tokens, j, result)
            i, depth, statement_start = body_close + 1, 0, body_close + 1
            continue
        i += 1
    for j in range(len(tokens)):
        _note_tracepoint_struct(tokens, j, result)
    out.append(text[pos:])
    return "".join(out)


def _called(tokens: list[Token], name: str, definition: int) -> bool:
    """Whether the program calls function ``name`` (defined at token ``definition``): a
    parameterless function that is called is a helper, not a probe (runqlen's
    ``do_perf_event()`` is a probe)."""
    return any(t.text == name and j != definition and j + 1 < len(tokens) and tokens[j + 1].text == "("
               for j, t in enumerate(tokens))


def _regs_helper(text: str, tokens: list[Token], name_index: int, close: int, body_close: int) -> str:
    """A static helper taking ``struct pt_regs *`` reads registers or a syscall record as
    its caller does: it takes the caller's ``__bcc_sys`` first (a macro of its name passes
    it), is inlined so the choice folds away, and later lines keep their numbers."""
    name = tokens[name_index].text
    rest = text[tokens[name_index + 1].end:tokens[body_close].end]
    # the marker numbers the rest of the body's last line, which the text goes on with
    last_line = int(where(text, tokens[body_close].end).split(":")[0])
    return (f"__always_inline {name}__bcc_regs(int __bcc_sys, {rest}\n"
            f"#define {name}(...) {name}__bcc_regs(__bcc_sys, __VA_ARGS__)\n# {last_line} \"bcc-program\"\n")


def _note_tracepoint_struct(tokens: list[Token], j: int, result: Translation) -> None:
    if tokens[j].text == "struct" and j + 1 < len(tokens) and tokens[j + 1].text.startswith("tracepoint__"):
        parts = tokens[j + 1].text[len("tracepoint__"):].split("__", 1)
        if len(parts) == 2:
            result.tracepoint_structs.add((parts[0], parts[1]))


def _probe_macro(macro: str, args: list[str], place: str, result: Translation) -> str:
    if macro == "TRACEPOINT_PROBE":
        if len(args) != 2:
            raise BccSyntaxError(f"{place}: TRACEPOINT_PROBE(category, event) takes 2 arguments")
        category, event = args
        name = f"tracepoint__{category}__{event}"
        result.tracepoint_structs.add((category, event))
        symbol = f"bcc_{len(result.functions)}"
        result.functions[name] = ProbeFunction(name, f"struct {name} *", section=f"tracepoint/{category}/{event}",
                                               symbol=symbol)
        return f'SEC("tracepoint/{category}/{event}") int {symbol}(struct {name} *args)'
    if macro == "RAW_TRACEPOINT_PROBE":
        if len(args) != 1:
            raise BccSyntaxError(f"{place}: RAW_TRACEPOINT_PROBE(event) takes 1 argument")
        name = f"raw_tracepoint__{args[0]}"
        symbol = f"bcc_{len(result.functions)}"
        result.functions[name] = ProbeFunction(name, "struct bpf_raw_tracepoint_args *",
                                               section=f"raw_tracepoint/{args[0]}", symbol=symbol)
        return f'SEC("raw_tracepoint/{args[0]}") int {symbol}(struct bpf_raw_tracepoint_args *ctx)'
    if macro in _TRAMPOLINES:
        return _trampoline_probe(macro, args, place, result)
    raise BccSyntaxError(f"{place}: {macro} attaches to a kernel module's function, whose BTF pybpf's loader "
                         "does not read; probe a vmlinux function with KFUNC_PROBE/KRETFUNC_PROBE or use a tracepoint")


#: BCC's BTF-attached probe macros → (function name prefix, section kind)
_TRAMPOLINES = {"KFUNC_PROBE": ("kfunc__vmlinux__", "fentry"), "KRETFUNC_PROBE": ("kretfunc__vmlinux__", "fexit"),
                "LSM_PROBE": ("lsm__", "lsm"), "KMOD_RET": ("kmod_ret__", "fmod_ret")}
_PROBE_MACROS = frozenset({"TRACEPOINT_PROBE", "RAW_TRACEPOINT_PROBE", "MODULE_KFUNC_PROBE",
                           "MODULE_KRETFUNC_PROBE", *_TRAMPOLINES})


def _trampoline_probe(macro: str, args: list[str], place: str, result: Translation) -> str:
    """``KFUNC_PROBE(event, type arg, ...)`` as BCC's (libbpf's) ``BPF_PROG`` makes it: an
    fentry/fexit/lsm/fmod_ret entry point taking the trampoline's array of u64 arguments,
    which calls an inlined function with them cast to the declared types — the body that
    follows the macro in the program. (``KRETFUNC_PROBE``'s last argument is the return
    value: the trampoline passes it after the function's arguments.)"""
    if not args or not args[0].strip():
        raise BccSyntaxError(f"{place}: {macro}(function, type arg, ...) needs the kernel function's name")
    prefix, kind = _TRAMPOLINES[macro]
    event = args[0].strip()
    params = [p for p in args[1:] if p.strip()]
    for param in params:
        _split_parameter(param)
    name = f"{prefix}{event}"
    symbol = f"bcc_{len(result.functions)}"
    result.functions[name] = ProbeFunction(name, "unsigned long long *", section=f"{kind}/{event}", symbol=symbol,
                                           arguments=len(params))
    casts = "".join(f", ({_split_parameter(p)[0]})ctx[{n}]" for n, p in enumerate(params))
    signature = f"int __bcc_body_{name}(unsigned long long *ctx{''.join(', ' + p for p in params)})"
    return (f"static __always_inline {signature}; "
            f'SEC("{kind}/{event}") int {symbol}(unsigned long long *ctx) {{ return __bcc_body_{name}(ctx{casts}); }} '
            f"static __always_inline {signature}")


def _split_parameter(param: str) -> tuple[str, str]:
    tokens = tokenize(param)
    if len(tokens) < 2 or tokens[-1].kind != "id":
        raise BccSyntaxError(f"parameter {param!r} needs a type and a name")
    return param[:tokens[-1].start].strip(), tokens[-1].text


def _probe_function(name: str, params: list[str], result: Translation) -> ProbeFunction:
    # BCC loads a function declared without parameters too (runqlen's do_perf_event())
    context_type = "void *" if params in ([], ["void"]) else _split_parameter(params[0])[0]
    extra = tuple(_split_parameter(p) for p in params[1:] if p.strip() != "...")
    section = ""
    for struct, kind in _CONTEXT_SECTIONS.items():
        if struct in context_type.split():
            section = kind
    if name.startswith("tracepoint__") and "__" in name[len("tracepoint__"):]:
        category, event = name[len("tracepoint__"):].split("__", 1)
        section = f"tracepoint/{category}/{event}"
    elif name.startswith("raw_tracepoint__"):
        section = f"raw_tracepoint/{name[len('raw_tracepoint__'):]}"
    function = ProbeFunction(name, context_type, extra, section, symbol=f"bcc_{len(result.functions)}")
    result.functions[name] = function
    return function


def _wrapped(text: str, tokens: list[Token], name_index: int, close: int, body_close: int,
             function: ProbeFunction, returns: str) -> str:
    """The function as an inlined body taking ``__bcc_sys`` (0 for registers, 1 for a
    sys_enter record, 2 for a sys_exit record), and its three entry points."""
    name, symbol = function.name, function.symbol
    params = text[tokens[name_index + 1].end:tokens[close].start]
    if params.strip() in ("", "void"):
        params = "void *__bcc_context"
    body = text[tokens[close + 1].start:tokens[body_close].end]
    from_regs = ", ".join(f"({t})PT_REGS_PARM{n}(ctx)" for n, (t, _) in enumerate(function.extra, 1))
    from_record = ", ".join(f"({t})ctx->args[{n}]" for n, (t, _) in enumerate(function.extra))
    zeros = ", ".join(f"({t})0" for t, _ in function.extra)
    sep = ", " if function.extra else ""
    if len(function.extra) > 6:
        raise BccSyntaxError(f"{where(text, tokens[name_index].start)}: {name} takes more than 6 "
                             "arguments of the probed function")
    # the entry points follow the body on its last line, so later lines keep their numbers
    void = returns.split() == ["void"]
    result = "int" if void else returns

    def call(sys: int, args: str) -> str:
        invoke = f"__bcc_body_{name}({sys}, (void *)ctx{sep}{args})"
        return f"{{ {invoke}; return 0; }}" if void else f"{{ return {invoke}; }}"

    return (f"static __always_inline {returns} __bcc_body_{name}(int __bcc_sys, {params}) {body} "
            f'SEC("kprobe") {result} {symbol}(struct pt_regs *ctx) {call(0, from_regs)} '
            f'SEC("tracepoint/syscalls/bcc_enter") {result} {symbol}_enter(struct bcc_syscall_enter *ctx) '
            f"{call(1, from_record)} "
            f'SEC("tracepoint/syscalls/bcc_exit") {result} {symbol}_exit(struct bcc_syscall_exit *ctx) '
            f"{call(2, zeros)}")


# -- pass 2: table methods and bpf_trace_printk ------------------------------------------

def _expressions(text: str, tables: dict[str, TableDecl], sent: dict[str, list[str]]) -> str:
    tokens = tokenize(text)
    return _rewrite_range(text, tokens, 0, len(tokens), tables, sent)


#: method → (argument holding the record, argument holding its size)
_SENDS = {"perf_submit": (1, 2), "perf_submit_skb": (2, 3), "ringbuf_output": (0, 1), "ringbuf_reserve": (0, 0)}


def _rewrite_range(text: str, tokens: list[Token], lo: int, hi: int, tables: dict[str, TableDecl],
                   sent: dict[str, list[str]]) -> str:
    out: list[str] = []
    pos = tokens[lo].start if lo < hi else 0
    i = lo
    while i < hi:
        tok = tokens[i]
        is_method = (tok.kind == "id" and tok.text in tables and i + 3 < hi and tokens[i + 1].text == "."
                     and tokens[i + 2].kind == "id" and tokens[i + 3].text == "(")
        is_printk = tok.text == "bpf_trace_printk" and i + 1 < hi and tokens[i + 1].text == "("
        if not (is_method or is_printk):
            i += 1
            continue
        open_index = i + 3 if is_method else i + 1
        close = matching(tokens, open_index, text)
        args = [_rewrite_range(text, tokens, a, b, tables, sent)
                for a, b in split_arguments(tokens, open_index, close)]
        place = where(text, tok.start)
        if is_method and tokens[i + 2].text in _SENDS and len(args) > max(_SENDS[tokens[i + 2].text]):
            sent.setdefault(tok.text, [args[n] for n in _SENDS[tokens[i + 2].text]])
        if is_method:
            replacement = _method(tables[tok.text], tokens[i + 2].text, args, place)
        else:
            replacement = f"bpf_printk({', '.join(args)})"
        out.append(text[pos:tok.start] + replacement)
        pos = tokens[close].end
        i = close + 1
    end = tokens[hi - 1].end if hi > lo else 0
    out.append(text[pos:end])
    return "".join(out)


_ARITY = {"lookup": (1,), "lookup_or_init": (2,), "lookup_or_try_init": (2,), "update": (2,), "insert": (2,),
          "delete": (1,), "increment": (1, 2), "atomic_increment": (1, 2), "perf_submit": (3,),
          "perf_submit_skb": (4,), "ringbuf_output": (3,), "ringbuf_reserve": (1,), "ringbuf_submit": (2,),
          "ringbuf_discard": (2,), "get_stackid": (2,), "call": (2,), "push": (2,), "pop": (1,),
          "peek": (1,), "redirect_map": (2,), "sock_map_update": (3,), "sock_hash_update": (3,),
          "msg_redirect_map": (3,), "msg_redirect_hash": (3,), "sk_redirect_map": (3,), "sk_redirect_hash": (3,)}


def _method(table: TableDecl, method: str, args: list[str], place: str) -> str:
    if method not in _ARITY:
        raise BccSyntaxError(f"{place}: {table.name}.{method}() is not a BCC table method "
                             f"(known: {', '.join(sorted(_ARITY))})")
    if len(args) not in _ARITY[method]:
        counts = " or ".join(map(str, _ARITY[method]))
        raise BccSyntaxError(f"{place}: {table.name}.{method}() takes {counts} arguments, not {len(args)}")
    m = f"&{table.name}"
    leaf = table.leaf or "void"
    if method == "lookup":
        return f"(({leaf} *)bpf_map_lookup_elem((void *){m}, {args[0]}))"
    if method in ("lookup_or_init", "lookup_or_try_init"):
        return (f"({{ {leaf} *__bcc_leaf = bpf_map_lookup_elem((void *){m}, {args[0]}); if (!__bcc_leaf) "
                f"{{ bpf_map_update_elem((void *){m}, {args[0]}, {args[1]}, BPF_NOEXIST); "
                f"__bcc_leaf = bpf_map_lookup_elem((void *){m}, {args[0]}); }} __bcc_leaf; }})")
    if method in ("update", "insert"):
        flag = "BPF_ANY" if method == "update" else "BPF_NOEXIST"
        return f"bpf_map_update_elem((void *){m}, {args[0]}, {args[1]}, {flag})"
    if method == "delete":
        return f"bpf_map_delete_elem((void *){m}, {args[0]})"
    if method in ("increment", "atomic_increment"):
        amount = args[1] if len(args) > 1 else "1"
        add = ("*__bcc_leaf += __bcc_inc" if "PERCPU" in table.map_type
               else "__sync_fetch_and_add(__bcc_leaf, __bcc_inc)")
        return (f"({{ typeof({table.key}) __bcc_key = {args[0]}; {leaf} __bcc_inc = {amount}; "
                f"{leaf} *__bcc_leaf = bpf_map_lookup_elem((void *){m}, &__bcc_key); "
                f"if (__bcc_leaf) {add}; else bpf_map_update_elem((void *){m}, &__bcc_key, &__bcc_inc, "
                f"BPF_NOEXIST); }})")
    if method == "perf_submit":
        return f"bpf_perf_event_output({args[0]}, (void *){m}, BPF_F_CURRENT_CPU, {args[1]}, {args[2]})"
    if method == "perf_submit_skb":
        return (f"bpf_perf_event_output({args[0]}, (void *){m}, ((u64)({args[1]}) << 32) | BPF_F_CURRENT_CPU, "
                f"{args[2]}, {args[3]})")
    if method == "ringbuf_output":
        return f"bpf_ringbuf_output((void *){m}, {args[0]}, {args[1]}, {args[2]})"
    if method == "ringbuf_reserve":
        return f"bpf_ringbuf_reserve((void *){m}, {args[0]}, 0)"
    if method in ("ringbuf_submit", "ringbuf_discard"):
        return f"bpf_{method}({args[0]}, {args[1]})"
    if method == "get_stackid":
        return f"bpf_get_stackid({args[0]}, (void *){m}, {args[1]})"
    if method == "call":
        return f"bpf_tail_call({args[0]}, (void *){m}, {args[1]})"
    if method == "push":
        return f"bpf_map_push_elem((void *){m}, {args[0]}, {args[1]})"
    if method in ("pop", "peek"):
        return f"bpf_map_{method}_elem((void *){m}, {args[0]})"
    if method == "redirect_map":
        return f"bpf_redirect_map((void *){m}, {args[0]}, {args[1]})"
    return f"bpf_{method}({args[0]}, (void *){m}, {args[1]}, {args[2]})"
