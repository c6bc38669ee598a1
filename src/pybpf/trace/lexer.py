"""The trace language's tokens: read on demand, so the parser can switch to reading
probe names (``uprobe:/bin/bash:readline``, ``t:syscalls:sys_enter_*``), which are not
made of ordinary tokens, wherever a probe list starts."""

from __future__ import annotations

import re

from pybpf.trace.errors import TraceSyntaxError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

_SPACE = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)+", re.DOTALL)
#: a preprocessor line: compiled (``re.compile``, cached by re) for the programs that have one
_DIRECTIVE = r"^[ \t]*#[ \t]*(\w*)[ \t]*((?:[^\n\\]|\\\n|\\)*)"
#: where ``#include <...>`` headers are looked for (as clang's default system paths)
INCLUDE_DIRS = ("/usr/local/include", "/usr/include/x86_64-linux-gnu", "/usr/include")
#: kernel header directories (``<linux/sched.h>``, ``<net/sock.h>``): not needed, BTF has the types
_KERNEL_HEADER_DIRS = {"linux", "net", "uapi", "asm", "asm-generic", "trace", "scsi", "crypto", "kvm", "rdma",
                       "sound", "video", "xen", "keys", "media", "misc", "soc", "target"}
_TOKEN = re.compile(r"""
    (?P<int>0[xX][0-9a-fA-F_]+|0[bB][01_]+|[0-9][0-9_]*(?:[eE][0-9]+)?(?:ns|us|ms|s|[uU]?[lL]{0,2})?\b)
  | (?P<str>"(?:[^"\\\n]|\\.)*")
  | (?P<map>@[A-Za-z0-9_]*)
  | (?P<pos>\$[0-9]+)
  | (?P<nargs>\$\#)
  | (?P<var>\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><<=|>>=|\+\+|--|->|<<|>>|<=|>=|==|!=|&&|\|\||\+=|-=|\*=|/=|%=|&=|\|=|\^=|[-+*/%<>=!~&|^?:;,.(){}\[\]])
""", re.VERBOSE)
_PROBE = re.compile(r"[^\s,{]+")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "0": "\0", "a": "\a", "b": "\b",
            "f": "\f", "v": "\v", "e": "\x1b"}
_TIME_UNITS = {"ns": 1, "us": 1000, "ms": 1000_000, "s": 1000_000_000}


@dataclass(frozen=True)
class Token:
    kind: str      #: int, str, map, var, pos, nargs, ident, op, eof
    text: str
    position: int
    value: object = None

    @property
    def length(self) -> int:
        return max(1, len(self.text))


def _string_value(text: str, position: int, source: str) -> str:
    out, i, body = [], 0, text[1:-1]
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "x" and re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:]):
            digits = re.match(r"[0-9a-fA-F]{1,2}", body[i + 2:]).group()
            out.append(chr(int(digits, 16)))
            i += 2 + len(digits)
        elif nxt in "01234567" and re.match(r"[0-7]{1,3}", body[i + 1:]):
            digits = re.match(r"[0-7]{1,3}", body[i + 1:]).group()
            out.append(chr(int(digits, 8)))
            i += 1 + len(digits)
        elif nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            raise TraceSyntaxError(f"invalid escape character '\\{nxt}'", source, position + 1 + i, 2)
    return "".join(out)


def _int_value(text: str, position: int, source: str) -> int:
    """The literal's value; past 64 bits an error (bpftrace reads literals with stoull)."""
    value = _literal(text, position, source)
    if value >> 64:
        raise TraceSyntaxError(f"integer literal out of range (more than 64 bits): {text}", source, position, len(text))
    return value


def _literal(text: str, position: int, source: str) -> int:
    clean = text.replace("_", "")
    for unit, scale in _TIME_UNITS.items():
        if clean.endswith(unit) and not clean.lower().startswith("0x"):
            return int(clean[: -len(unit)]) * scale
    clean = clean.rstrip("uUlL") if not clean.lower().startswith("0x") else clean
    try:
        if "e" in clean.lower() and not clean.lower().startswith("0x"):
            mantissa, exponent = clean.lower().split("e")
            return int(mantissa) * 10 ** int(exponent)
        return int(clean, 0) if not re.fullmatch(r"0[0-7]+", clean) else int(clean, 8)
    except ValueError:
        raise TraceSyntaxError(f"invalid integer literal '{text}'", source, position, len(text)) from None


class Lexer:
    """Tokens of ``source`` one at a time, with lookahead; :meth:`probe` reads a probe name."""

    def __init__(self, source: str, include_dirs: tuple[str, ...] = ()):
        self.source = source
        self.position = 0
        self._ahead: list[Token] = []
        #: BTF is always there: ``#ifndef BPFTRACE_HAVE_BTF`` blocks are skipped, as bpftrace does
        self.defines: dict[str, str] = {"BPFTRACE_HAVE_BTF": "1"}
        self.include_dirs = tuple(include_dirs) + INCLUDE_DIRS

    def error(self, reason: str, token: Token) -> TraceSyntaxError:
        return TraceSyntaxError(reason, self.source, token.position, token.length)

    def _skip(self) -> None:
        while True:
            match = _SPACE.match(self.source, self.position)
            if match:
                self.position = match.end()
            line_start = self.source.rfind("\n", 0, self.position) + 1
            at_line_start = not self.source[line_start:self.position].strip()
            if not (at_line_start and self.source.startswith("#", self.position)):
                return
            directive = re.compile(_DIRECTIVE, re.MULTILINE).match(self.source, self.position)
            name, rest = directive.group(1), directive.group(2).strip()
            self.position = directive.end()
            if name in ("ifdef", "ifndef", "if"):
                active = {"ifdef": rest in self.defines, "ifndef": rest not in self.defines,
                          "if": rest.strip() not in ("0", "false")}[name]
                if not active:
                    self._skip_block(stop_at_else=True)
            elif name in ("else", "elif"):
                self._skip_block(stop_at_else=False)  # the taken branch ended: skip the rest
            elif name != "endif":
                self._directive(name, rest, directive.start(2))

    def _skip_block(self, stop_at_else: bool) -> None:
        """Skip lines to the matching ``#endif`` (or ``#else`` when ``stop_at_else``)."""
        depth = 0
        for match in re.compile(_DIRECTIVE, re.MULTILINE).finditer(self.source, self.position):
            name = match.group(1)
            if name in ("if", "ifdef", "ifndef"):
                depth += 1
            elif name == "endif":
                if depth == 0:
                    self.position = match.end()
                    return
                depth -= 1
            elif name in ("else", "elif") and depth == 0 and stop_at_else:
                self.position = match.end()
                return
        self.position = len(self.source)

    def _directive(self, name: str, rest: str, position: int) -> None:
        """``#define NAME VALUE`` defines a macro; ``#include`` must name a header that
        exists (its declarations are not read: kernel types come from BTF); other
        directives (``#ifdef`` ...) and the ``#!`` line are ignored."""
        import os

        if name == "define":
            parts = rest.split(None, 1)
            if parts and re.fullmatch(r"[A-Za-z_]\w*", parts[0]):
                self.defines[parts[0]] = parts[1].replace("\\\n", " ") if len(parts) > 1 else ""
        elif name == "include":
            match = re.match(r'[<"]([^>"]+)[>"]', rest)
            if match:
                header = match.group(1)
                if header.split("/", 1)[0] in _KERNEL_HEADER_DIRS:
                    return  # the kernel's own headers: their types come from BTF
                places = ([header] if rest.startswith('"') else []) + [os.path.join(d, header) for d in self.include_dirs]
                if not any(os.path.exists(p) for p in places):
                    raise TraceSyntaxError(f"fatal error: '{header}' file not found", self.source, position, len(rest))

    def _read(self) -> Token:
        self._skip()
        if self.position >= len(self.source):
            return Token("eof", "", len(self.source))
        match = _TOKEN.match(self.source, self.position)
        if not match:
            raise TraceSyntaxError(f"invalid character '{self.source[self.position]}'", self.source, self.position)
        kind, text, start = match.lastgroup, match.group(), self.position
        self.position = match.end()
        value: object = None
        if kind == "int":
            value = _int_value(text, start, self.source)
        elif kind == "str":
            value = _string_value(text, start, self.source)
        elif kind == "pos":
            value = int(text[1:])
        return Token(kind, text, start, value)

    def peek(self, ahead: int = 0) -> Token:
        while len(self._ahead) <= ahead:
            token = self._read()
            if token.kind == "ident" and token.text in self.defines:
                self._ahead.extend(self._expand(token))
            else:
                self._ahead.append(token)
        return self._ahead[ahead]

    def next(self) -> Token:
        self.peek()
        return self._ahead.pop(0)

    def _expand(self, token: Token) -> list[Token]:
        """A macro's tokens, placed where the macro was used."""
        inner = Lexer(self.defines[token.text])
        inner.defines = {k: v for k, v in self.defines.items() if k != token.text}
        out = []
        while (item := inner.next()).kind != "eof":
            out.append(Token(item.kind, item.text, token.position, item.value))
        return out

    def at_end(self) -> bool:
        """True when only blanks and comments are left (no lookahead pending)."""
        if self._ahead:
            return self._ahead[0].kind == "eof"
        self._skip()
        return self.position >= len(self.source)

    def probe(self) -> Token:
        """One probe name at the current place: everything up to a blank, ``,`` or ``{``
        (a ``/`` starts the predicate unless the probe kind takes paths)."""
        assert not self._ahead, "probe names are read with no token pending"
        self._skip()
        match = _PROBE.match(self.source, self.position)
        if not match:
            return Token("eof", "", self.position)
        text = match.group()
        kind = text.split(":", 1)[0]
        if kind not in ("uprobe", "uretprobe", "u", "ur", "usdt", "U") or ":" not in text:
            text = text.split("/", 1)[0]
        else:
            # a predicate glued to a path probe: the last ':' field ends at a '/'
            head, _, last = text.rpartition(":")
            text = head + ":" + last.split("/", 1)[0]
        start = self.position
        self.position += len(text)
        return Token("probe", text, start)
