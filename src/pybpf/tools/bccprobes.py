"""BCC's trace and argdist probe specifications, translated to the trace language:
the probe (``p:``/``r:`` user functions, ``t:`` tracepoints, ``u:`` USDT; kernel functions
refused, as this kernel has no kprobes), the C signature naming the arguments, and C
expressions over ``arg1..arg6``, ``retval``/``$retval``, ``$pid $tgid $uid $gid $cpu
$task``, ``args->FIELD``, signature names, ``$latency`` and ``$entry(NAME)`` rewritten into
the trace language's builtins (``arg0..``, ``retval``, ``tid``, ``pid``...), token by token
with string literals left alone."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pybpf.tools.events import ToolError
from pybpf.tools.probespec import kernel_refusal, resolve

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

    def expression(self, text: str) -> str:
        """A C expression of this probe, in the trace language."""
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
        if self.kind == "t":
            raise ToolError(f"{self.spec}: tracepoints have no {name}; use args->FIELD")
        if self.kind == "r" and name in self.params:
            self.entry.add(name)
            return f"@entry_{name}[tid]"
        return f"arg{index}"

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
    return Probe(spec, kind, point, target.label, _parameters(spec, signature))


def _parameters(spec: str, signature: str) -> list[str]:
    """The parameter names of a C signature (``int fd, void *buf, size_t len``)."""
    names = []
    for parameter in (p.strip() for p in signature.split(",")):
        if not parameter or parameter == "void":
            continue
        match = re.search(r"(\w+)\s*(\[\s*\d*\s*\])?$", parameter)
        if match is None or match.start() == 0:
            raise ToolError(f"{spec}: cannot read the parameter {parameter!r} (write TYPE NAME)")
        names.append(match.group(1))
    return names


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
