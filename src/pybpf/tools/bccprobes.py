"""BCC's trace and argdist probe specifications, translated to the trace language:
the probe (``p:``/``r:`` user functions, ``t:`` tracepoints, ``u:`` USDT; kernel functions
refused, as this kernel has no kprobes), the C signature naming the arguments, and C
expressions over ``arg1..arg6``, ``retval``/``$retval``, ``$pid $tgid $uid $gid $cpu
$task``, ``args->FIELD``, signature names, ``$latency`` and ``$entry(NAME)`` rewritten into
the trace language's builtins (``arg0..``, ``retval``, ``tid``, ``pid``...), token by token
with string literals left alone."""

from __future__ import annotations

import os
import re

from pybpf.tools.events import ToolError
from pybpf.tools.probespec import kernel_refusal, resolve

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

#: BCC's ``$name`` aliases and what the trace language calls them
_ALIASES = {"$uid": "uid", "$gid": "gid", "$pid": "tid", "$tgid": "pid", "$cpu": "cpu", "$task": "curtask",
            "$retval": "retval", "retval": "retval"}
#: C integer types (as argdist and signatures write them) and the trace language's casts
C_TYPES = {"char": "int8", "signed char": "int8", "unsigned char": "uint8", "u8": "uint8", "s8": "int8",
           "short": "int16", "unsigned short": "uint16", "u16": "uint16", "s16": "int16",
           "int": "int32", "unsigned": "uint32", "unsigned int": "uint32", "u32": "uint32", "s32": "int32",
           "long": "int64", "unsigned long": "uint64", "long long": "int64", "unsigned long long": "uint64",
           "size_t": "uint64", "ssize_t": "int64", "off_t": "int64", "pid_t": "int32", "uid_t": "uint32",
           "u64": "uint64", "s64": "int64", "uint64_t": "uint64", "int64_t": "int64", "uint32_t": "uint32",
           "int32_t": "int32", "bool": "uint8", "_Bool": "uint8"}
#: the start of BCC's ``STRCMP("literal", EXPR)``, up to EXPR
_STRCMP = re.compile(r'\bSTRCMP\s*\(\s*"((?:[^"\\]|\\.)+)"\s*,')
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\$entry\s*\(\s*(\w+)\s*\)|\$?\w+|->|==|!=|<=|>=|&&|\|\||<<|>>|\S')


@dataclass
class Probe:
    """A parsed probe: ``kind`` p/r/t/u, its trace-language attach point, the names of the
    signature's parameters (in order), and the function's label."""

    spec: str
    kind: str
    point: str
    label: str
    params: list[str] = field(default_factory=list)
    entry: set[str] = field(default_factory=set)      # $entry(...) names a return probe needs
    latency: bool = False                              # whether $latency is used
    types: list[str] = field(default_factory=list)     # the parameters' C types, as written
    bin_cmp: bool = False                              # trace's -B: STRCMP's literal is a byte array

    def expression(self, text: str) -> str:
        """A C expression of this probe, in the trace language; BCC's ``STRCMP("literal",
        EXPR)`` becomes a comparison of the bytes at EXPR with the literal's (see
        :meth:`_strcmp`)."""
        out, at = [], 0
        for found in _STRCMP.finditer(text):
            if found.start() < at:
                continue
            depth, end = 1, found.end()
            while end < len(text) and depth:
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                end += 1
            if depth:
                raise ToolError(f"{self.spec}: unmatched '(' in STRCMP")
            out += [self._tokens(text[at:found.start()]), self._strcmp(found.group(1), self._tokens(text[found.end():end - 1]))]
            at = end
        out.append(self._tokens(text[at:]))
        return " ".join(part for part in out if part)

    def _strcmp(self, literal: str, target: str) -> str:
        """BCC's STRCMP: true when the bytes at ``target`` begin with the literal's
        characters (its terminating NUL not compared, so a prefix matches, as BCC's).
        With ``bin_cmp`` (trace -B) the literal is a C array initializer, ``{0x6c, 0x00}``,
        and the bytes at ``target`` are compared with all its elements but the last (BCC
        compares ``sizeof(needle) - 1`` bytes either way)."""
        if not self.bin_cmp:
            try:
                text = literal.encode().decode("unicode_escape").encode("latin-1")
            except (UnicodeDecodeError, UnicodeEncodeError):
                raise ToolError(f"{self.spec}: cannot read the STRCMP string \"{literal}\"") from None
            if not text or len(text) > 63:
                raise ToolError(f"{self.spec}: STRCMP compares 1 to 63 characters, not {len(text)}")
            return f"(strncmp(str({target}, {len(text) + 1}), \"{literal}\", {len(text)}) == 0)"
        array = re.fullmatch(r"\s*\{(.*)\}\s*", literal, re.S)
        try:
            values = [int(item, 0) for item in array.group(1).split(",") if item.strip()] if array else None
        except ValueError:
            values = None
        if values is None or any(not 0 <= v <= 255 for v in values):
            raise ToolError(f"{self.spec}: with -B, STRCMP's first argument is a byte array such as "
                            f"\"{{0x6c, 0x00, 0x00, 0x00}}\", not \"{literal}\"")
        tests = [f"*(uint8 *)(({target}) + {i}) == {value}" for i, value in enumerate(values[:-1])]
        return "(" + (" && ".join(tests) or "1") + ")"

    def _tokens(self, text: str) -> str:
        """C tokens of this probe, in the trace language."""
        out = []
        for match in _TOKEN.finditer(text):
            token = match.group(0)
            if match.group(1):
                if self.kind != "r" or match.group(1) not in self.params:
                    raise ToolError(f"{self.spec}: $entry({match.group(1)}) needs a return probe and a parameter "
                                    f"named in the signature")
                self.entry.add(match.group(1))
                out.append(f"@entry_{match.group(1)}[tid]")
            elif token == "$latency":
                if self.kind != "r":
                    raise ToolError(f"{self.spec}: $latency is only known in return (r:) probes")
                self.latency = True
                out.append("(nsecs - @entry_time[tid])")
            elif token in _ALIASES:
                if token in ("retval", "$retval") and self.kind != "r":
                    raise ToolError(f"{self.spec}: {token} is only known in return (r:) probes")
                out.append(_ALIASES[token])
            elif re.fullmatch(r"arg[1-6]", token):
                out.append(self._argument(int(token[3:]) - 1, token))
            elif token in self.params:
                out.append(self._argument(self.params.index(token), token))
            elif token.startswith("$"):
                raise ToolError(f"{self.spec}: unknown alias {token}")
            else:
                out.append(token)
        return " ".join(out)

    def _argument(self, index: int, name: str) -> str:
        """An argument by position; a parameter declared a pointer to a struct or union
        is cast to it (so ``p->x`` reads the member: the type from the kernel's BTF, or a
        definition of the program's — trace's and argdist's ``-I`` header)."""
        if self.kind == "t":
            raise ToolError(f"{self.spec}: tracepoints have no {name}; use args->FIELD")
        value = f"arg{index}"
        if self.kind == "r" and name in self.params:
            self.entry.add(name)
            value = f"@entry_{name}[tid]"
        declared = self.types[index] if index < len(self.types) and name in self.params else ""
        record = re.fullmatch(r"(?:const\s+)?((?:struct|union)\s+\w+)\s*(\*+)", declared)
        return f"(({' '.join(record.group(1).split())} {record.group(2)}){value})" if record else value

    def entry_probe(self, predicate: str) -> str:
        """For a return probe whose expressions need entry values: the uprobe saving them."""
        saved = [f"@entry_{name}[tid] = arg{self.params.index(name)};" for name in sorted(self.entry)]
        if self.latency:
            saved.append("@entry_time[tid] = nsecs;")
        if not saved:
            return ""
        return f"uprobe{self.point[len('uretprobe'):]} {predicate}{{ {' '.join(saved)} }}\n"

    def entry_guard(self) -> str:
        """A condition that holds when the entry probe saved this thread's values."""
        if self.latency:
            return "@entry_time[tid]"
        return f"@entry_{sorted(self.entry)[0]}[tid]" if self.entry else ""

    def entry_cleanup(self) -> str:
        return " ".join(f"delete(@entry_{name}[tid]);" for name in sorted(self.entry)) + \
            (" delete(@entry_time[tid]);" if self.latency else "")


def parse_probe(spec: str, *, default_kind: str = "p", pid: int | None = None) -> Probe:
    """``[p|r|t|u]:LIBRARY:FUNCTION[(SIGNATURE)]`` (``t:CATEGORY:EVENT``) as a Probe; a
    single-part or empty-library function is a kernel function, refused here. With
    ``pid``, library names are those that process maps."""
    head, _, signature = spec.partition("(")
    if signature:
        if not signature.rstrip().endswith(")"):
            raise ToolError(f"{spec}: unmatched '(' in the signature")
        signature = signature.rstrip()[:-1]
    parts = head.strip().split(":")
    if len(parts) == 1:
        parts = [default_kind, "", parts[0]]
    elif len(parts) == 2:
        parts = [default_kind, parts[0], parts[1]]
    kind, library, function = parts[0] or default_kind, ":".join(parts[1:-1]), parts[-1]
    if kind not in ("p", "r", "t", "u"):
        raise ToolError(f"{spec}: the probe type must be p, r, t or u, not {kind!r}")
    if not function:
        raise ToolError(f"{spec}: no function, tracepoint or probe named")
    if kind == "t":
        if signature.strip():
            raise ToolError(f"{spec}: tracepoints take no signature; use args->FIELD")
        (target,) = resolve(f"t:{library}:{function}")
        return Probe(spec, kind, target.point, target.label)
    if not library:
        raise kernel_refusal(function)
    if any(c in function for c in "*?["):
        raise ToolError(f"{spec}: name one function (no wildcards)")
    (target,) = resolve(f"{'u' if kind == 'u' else 'p'}:{library}:{function}", pid=pid)
    point = "uretprobe" + target.point[len("uprobe"):] if kind == "r" else target.point
    names, types = _parameters(spec, signature)
    return Probe(spec, kind, point, target.label, names, types=types)


def _parameters(spec: str, signature: str) -> tuple[list[str], list[str]]:
    """The parameter names of a C signature (``int fd, void *buf, size_t len``), and their types."""
    names, types = [], []
    for parameter in (p.strip() for p in signature.split(",")):
        if not parameter or parameter == "void":
            continue
        match = re.search(r"(\w+)\s*(\[\s*\d*\s*\])?$", parameter)
        if match is None or match.start() == 0:
            raise ToolError(f"{spec}: cannot read the parameter {parameter!r} (write TYPE NAME)")
        names.append(match.group(1))
        types.append(parameter[:match.start()].strip() + ("*" if match.group(2) else ""))
    return names, types


def cast(c_type: str, expression: str, spec: str) -> str:
    """``expression`` as a value of C type ``c_type``: strings through str(), integers cast."""
    kind = " ".join(c_type.replace("*", " * ").split())
    if kind in ("char *", "const char *"):
        return f"str({expression})"
    if kind.endswith("*"):
        return f"(uint64)({expression})"
    if kind not in C_TYPES:
        raise ToolError(f"{spec}: unknown type {c_type!r} (integer types or char*)")
    return f"({C_TYPES[kind]})({expression})"


def header_definitions(headers: list[str]) -> str:
    """The struct and union definitions of C headers (trace's and argdist's ``-I``), as
    trace-language text to put before the probes, so expressions can use their types
    (``((struct point *)arg0)->x``, or a parameter declared ``struct point *p``). A header
    is a path (relative to the working directory or absolute) or a name under the system
    include directories; the kernel's own headers (``linux/...``) add nothing, as the
    kernel's types come from its BTF. Only definitions are taken: ``struct NAME {...};``,
    ``union NAME {...};``, and ``typedef struct [NAME] {...} ALIAS;`` (known as ``struct
    NAME``, or ``struct ALIAS`` when it has no tag); functions, variables, enums and
    macros are left out (a macro used in a definition is not expanded)."""
    from pybpf.trace.lexer import _KERNEL_HEADER_DIRS, INCLUDE_DIRS

    texts = []
    for header in headers:
        if not header.startswith((".", "/")) and header.split("/", 1)[0] in _KERNEL_HEADER_DIRS:
            continue
        places = [header] + ([] if os.path.isabs(header) else [os.path.join(d, header) for d in INCLUDE_DIRS])
        found = next((place for place in places if os.path.isfile(place)), None)
        if found is None:
            raise ToolError(f"-I {header}: no such header")
        with open(found, errors="replace") as file:
            texts.extend(_definitions(file.read()))
    return "".join(text + "\n" for text in texts)


def _definitions(source: str) -> list[str]:
    """The top-level struct/union definitions of C text (see :func:`header_definitions`)."""
    source = re.sub(r"/\*.*?\*/", " ", source, flags=re.S)
    source = re.sub(r"//[^\n]*", "", source)
    source = re.sub(r"^\s*#(?:[^\n]*\\\n)*[^\n]*", "", source, flags=re.M)     # directives, continued lines too
    found, at, depth, start = [], 0, 0, 0
    while at < len(source):
        char = source[at]
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0 and not re.match(r"\s*(typedef\s+)?(struct|union|enum)\b", source[start:at]):
                start = at + 1          # a function's body: no ';' ends it
        elif char == ";" and depth == 0:
            statement = " ".join(source[start:at].split())
            definition = re.fullmatch(r"(typedef\s+)?(struct|union)\s*(\w*)\s*(\{.*\})\s*(\w*)", statement, re.S)
            if definition:
                typedef, tag, name, body, alias = definition.groups()
                name = name or (alias if typedef else "")
                if name:
                    found.append(f"{tag} {name} {body};")
            start = at + 1
        at += 1
    return found
