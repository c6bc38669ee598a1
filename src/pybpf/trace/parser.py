"""Recursive-descent parser: program text → :class:`pybpf.trace.ast.Script`.

Operator precedence is C's (bpftrace's grammar follows it). Probe names are read
as raw text by the lexer and split into kind and fields here; C definitions at the top
level (``struct x { ... };``, ``#include`` lines) are skipped, as the kernel's BTF
describes the types the program uses.
"""

from __future__ import annotations

import re

from pybpf.trace import ast
from pybpf.trace.errors import TraceSyntaxError
from pybpf.trace.lexer import Lexer, Token

PROBE_KINDS = {
    "t": "tracepoint", "tracepoint": "tracepoint", "rawtracepoint": "rawtracepoint", "rt": "rawtracepoint",
    "u": "uprobe", "uprobe": "uprobe", "ur": "uretprobe", "uretprobe": "uretprobe", "U": "usdt", "usdt": "usdt",
    "k": "kprobe", "kprobe": "kprobe", "kr": "kretprobe", "kretprobe": "kretprobe",
    "f": "kfunc", "kfunc": "kfunc", "fentry": "kfunc", "fr": "kretfunc", "kretfunc": "kretfunc", "fexit": "kretfunc",
    "p": "profile", "profile": "profile", "i": "interval", "interval": "interval",
    "s": "software", "software": "software", "h": "hardware", "hardware": "hardware",
    "BEGIN": "BEGIN", "END": "END", "it": "iter", "iter": "iter", "w": "watchpoint", "watchpoint": "watchpoint",
    "aw": "asyncwatchpoint", "asyncwatchpoint": "asyncwatchpoint",
}
_BINARY_LEVELS: list[tuple[str, ...]] = [
    ("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", "<=", ">", ">="), ("<<", ">>"),
    ("+", "-"), ("*", "/", "%"),
]
_ASSIGN_OPS = ("=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=")
INT_TYPES = {"uint8": (1, False), "uint16": (2, False), "uint32": (4, False), "uint64": (8, False),
             "int8": (1, True), "int16": (2, True), "int32": (4, True), "int64": (8, True),
             "u8": (1, False), "u16": (2, False), "u32": (4, False), "u64": (8, False),
             "s8": (1, True), "s16": (2, True), "s32": (4, True), "s64": (8, True),
             "char": (1, True), "short": (2, True), "int": (4, True), "long": (8, True), "bool": (1, False),
             "unsigned": (4, False), "signed": (4, True), "size_t": (8, False), "pid_t": (4, True)}
_C_SKIP = re.compile(r"\s*(struct|union|enum|typedef)\b")


def _parse_attach_point(token: Token, lexer: Lexer) -> ast.AttachPoint:
    text = token.text
    head, _, rest = text.partition(":")
    kind = PROBE_KINDS.get(head)
    if kind is None:
        raise lexer.error(f"invalid probe type '{head}'", token)
    if kind in ("BEGIN", "END"):
        if rest:
            raise lexer.error(f"{kind} takes no arguments", token)
        parts: list[str] = []
    elif kind in ("uprobe", "uretprobe", "usdt"):
        parts = rest.split(":")
        if "+" in parts[-1] and kind == "uprobe":
            pass
    else:
        parts = rest.split(":")
    if kind not in ("BEGIN", "END") and (not rest or not all(parts[-1:])):
        raise lexer.error(f"{kind} probe '{text}' is incomplete", token)
    return ast.AttachPoint(text, kind, parts, position=token.position, length=len(text))


class Parser:
    """One program's parser."""

    def __init__(self, source: str, params: list[str] | None = None):
        self.params = list(params or [])
        self.source = source
        self.lexer = Lexer(source)
        self.c_definitions: list[str] = []

    # -- helpers ----------------------------------------------------------------

    def error(self, reason: str, token: Token) -> TraceSyntaxError:
        return self.lexer.error(reason, token)

    def expect(self, text: str) -> Token:
        token = self.lexer.next()
        if token.text != text or token.kind in ("str",):
            found = "end of input" if token.kind == "eof" else f"'{token.text}'"
            raise self.error(f"syntax error, expected '{text}', found {found}", token)
        return token

    def accept(self, text: str) -> Token | None:
        token = self.lexer.peek()
        if token.text == text and token.kind in ("op", "ident"):
            return self.lexer.next()
        return None

    @staticmethod
    def _at(node: ast.Node, start: Token, end_position: int) -> ast.Node:
        node.position = start.position
        node.length = max(1, end_position - start.position)
        return node

    # -- program ----------------------------------------------------------------

    def program(self) -> ast.Script:
        probes: list[ast.Probe] = []
        while not self.lexer.at_end():
            if self._skip_c_definition():
                continue
            probes.append(self.probe())
        if not probes:
            raise TraceSyntaxError("no probes in the program", self.source, len(self.source.rstrip()) or None)
        return ast.Script(probes, self.source, self.c_definitions)

    def _skip_c_definition(self) -> bool:
        """Take ``struct name { ... };`` (and union/enum/typedef) aside for the type
        checker; True when one was read."""
        self.lexer._skip()
        match = _C_SKIP.match(self.source, self.lexer.position)
        if not match:
            return False
        depth, i, start = 0, match.end(), match.start(1)
        while i < len(self.source):
            c = self.source[i]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    end = i + 1
                    rest = re.match(r"[^;{}]*;", self.source[end:])  # declarators, then ';'
                    if rest and not re.search(r"[:/]", rest.group()):
                        end += rest.end()
                    self.c_definitions.append(self.source[start:end])
                    self.lexer.position = end
                    return True
            elif c == ";" and depth == 0:
                self.c_definitions.append(self.source[start:i + 1])
                self.lexer.position = i + 1
                return True
            i += 1
        raise TraceSyntaxError("unterminated C definition", self.source, match.start(1), len(match.group(1)))

    def probe(self) -> ast.Probe:
        points = []
        first = None
        while True:
            token = self.lexer.probe()
            if token.kind == "eof" or not token.text:
                bad = self.lexer.peek()
                raise self.error(f"syntax error, expected a probe, found '{bad.text or 'end of input'}'", bad)
            first = first or token
            if "$" in token.text:  # positional parameters in probe names: interval:ms:$1, BEG$1
                text = re.sub(r"\$(\d+|#)", lambda m: str(len(self.params)) if m.group(1) == "#" else
                              (self.params[int(m.group(1)) - 1] if int(m.group(1)) <= len(self.params) else ""),
                              token.text)
                token = Token(token.kind, text, token.position)
            points.append(_parse_attach_point(token, self.lexer))
            if self.lexer.peek().text == ",":
                self.lexer.next()
                continue
            break
        predicate = None
        if self.lexer.peek().text == "/":
            self.lexer.next()
            predicate = self.expression()
            self.expect("/")
        body = self.block()
        return ast.Probe(points, predicate, body, position=first.position, length=len(first.text))

    def block(self) -> list[ast.Statement]:
        self.expect("{")
        statements: list[ast.Statement] = []
        while True:
            token = self.lexer.peek()
            if token.text == "}" and token.kind == "op":
                self.lexer.next()
                return statements
            if token.kind == "eof":
                raise self.error("syntax error, expected '}' before end of input", token)
            if token.text == ";":
                self.lexer.next()
                continue
            statement, needs_separator = self.statement()
            statements.append(statement)
            nxt = self.lexer.peek()
            if needs_separator and not (nxt.text in (";", "}") and nxt.kind == "op"):
                raise self.error(f"syntax error, unexpected '{nxt.text or 'end of input'}', expecting ; or }}", nxt)

    # -- statements ----------------------------------------------------------------

    def statement(self) -> tuple[ast.Statement, bool]:
        token = self.lexer.peek()
        if token.kind == "ident":
            if token.text == "if":
                return self.if_statement(), False
            if token.text == "unroll":
                self.lexer.next()
                self.expect("(")
                count_token = self.lexer.next()
                count = count_token.value if count_token.kind == "int" else self._positional_int(count_token)
                if not isinstance(count, int):
                    raise self.error("unroll count must be an integer literal", count_token)
                if count < 1:
                    raise self.error("unroll minimum value is 1", count_token)
                if count > 100:
                    raise self.error("unroll maximum value is 100", count_token)
                self.expect(")")
                return ast.Unroll(count, self.block(), position=token.position, length=6), False
            if token.text == "while":
                self.lexer.next()
                self.expect("(")
                condition = self.expression()
                self.expect(")")
                return ast.While(condition, self.block(), position=token.position, length=5), False
            if token.text == "for":
                return self.for_statement(), False
            if token.text in ("return", "break", "continue"):
                self.lexer.next()
                return ast.Jump(token.text, position=token.position, length=len(token.text)), True
        if token.text == "{" and token.kind == "op":
            body = self.block()
            return ast.If(ast.Integer(1, position=token.position), body, [], position=token.position), False
        if token.text in ("++", "--") and token.kind == "op":
            self.lexer.next()
            target = self.unary()
            self._check_target(target, token)
            return ast.Assign(target, "+=" if token.text == "++" else "-=", ast.Integer(1, position=token.position),
                              position=token.position, length=2, step=True), True
        expr = self.expression()
        nxt = self.lexer.peek()
        if nxt.kind == "op" and nxt.text in _ASSIGN_OPS:
            self._check_target(expr, nxt)
            self.lexer.next()
            value = self.expression()
            return ast.Assign(expr, nxt.text, value, position=expr.position, length=expr.length), True
        if nxt.kind == "op" and nxt.text in ("++", "--") and isinstance(expr, (ast.Variable, ast.MapRef)):
            self.lexer.next()
            return ast.Assign(expr, "+=" if nxt.text == "++" else "-=", ast.Integer(1, position=nxt.position),
                              position=expr.position, length=expr.length, step=True), True
        return ast.ExprStatement(expr, position=expr.position, length=expr.length), True

    def _positional_int(self, token: Token) -> int | None:
        """The integer a positional parameter (``$1``) holds, where a literal is needed."""
        if token.kind != "pos" or not isinstance(token.value, int) or token.value > len(self.params):
            return None
        try:
            return int(self.params[token.value - 1], 0)
        except ValueError:
            return None

    def for_statement(self) -> ast.For:
        token = self.lexer.next()
        self.expect("(")
        variable = self.lexer.next()
        if variable.kind != "var":
            raise self.error("syntax error, for takes a scratch variable: for ($kv : @map)", variable)
        self.expect(":")
        source: ast.MapRef | tuple[ast.Expr, ast.Expr]
        if self.lexer.peek().kind == "map" and self.lexer.peek(1).text != "[":
            found = self.primary()
            assert isinstance(found, ast.MapRef)
            source = found
        else:
            start = self.unary()
            self.expect(".")
            self.expect(".")
            source = (start, self.unary())
        self.expect(")")
        return ast.For(variable.text, source, self.block(), position=token.position, length=3)

    def _check_target(self, expr: ast.Expr, token: Token) -> None:
        if not isinstance(expr, (ast.Variable, ast.MapRef)):
            raise TraceSyntaxError("only scratch variables ($x) and maps (@x) can be assigned to",
                                   self.source, expr.position, expr.length)

    def if_statement(self) -> ast.If:
        token = self.lexer.next()
        self.expect("(")
        condition = self.expression()
        self.expect(")")
        then = self.block()
        otherwise: list[ast.Statement] = []
        if self.lexer.peek().text == "else" and self.lexer.peek().kind == "ident":
            self.lexer.next()
            if self.lexer.peek().text == "if" and self.lexer.peek().kind == "ident":
                otherwise = [self.if_statement()]
            else:
                otherwise = self.block()
        return ast.If(condition, then, otherwise, position=token.position, length=2)

    # -- expressions ---------------------------------------------------------------

    def expression(self) -> ast.Expr:
        return self.ternary()

    def ternary(self) -> ast.Expr:
        condition = self.binary(0)
        if self.lexer.peek().text == "?" and self.lexer.peek().kind == "op":
            self.lexer.next()
            then = self.ternary()
            self.expect(":")
            otherwise = self.ternary()
            return ast.Ternary(condition, then, otherwise, position=condition.position,
                               length=otherwise.position + otherwise.length - condition.position)
        return condition

    def binary(self, level: int) -> ast.Expr:
        if level == len(_BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while True:
            token = self.lexer.peek()
            if token.kind != "op" or token.text not in _BINARY_LEVELS[level]:
                return left
            # inside a predicate, a '/' that ends it is not a division
            if token.text == "/" and self._ends_predicate():
                return left
            self.lexer.next()
            right = self.binary(level + 1)
            left = ast.Binary(token.text, left, right, position=left.position, at=token.position,
                              length=right.position + right.length - left.position)

    def _ends_predicate(self) -> bool:
        nxt = self.lexer.peek(1)
        return nxt.text == "{" and nxt.kind == "op"

    def unary(self) -> ast.Expr:
        token = self.lexer.peek()
        if token.kind == "op" and token.text in ("!", "~", "-", "*", "&", "+"):
            self.lexer.next()
            operand = self.unary()
            if token.text == "+":
                return operand
            if token.text == "-" and isinstance(operand, ast.Integer):
                operand.value = -operand.value
                operand.position, operand.length = token.position, operand.length + 1
                return operand
            return ast.Unary(token.text, operand, position=token.position,
                             length=operand.position + operand.length - token.position)
        if token.kind == "op" and token.text in ("++", "--"):
            self.lexer.next()
            operand = self.unary()
            self._check_target(operand, token)
            return ast.Unary(token.text + "pre", operand, position=token.position,
                             length=operand.position + operand.length - token.position)
        if token.kind == "op" and token.text == "(" and self._is_cast():
            self.lexer.next()
            ctype = self.ctype()
            self.expect(")")
            operand = self.unary()
            return ast.Cast(ctype, operand, position=token.position,
                            length=operand.position + operand.length - token.position)
        start = self.lexer.peek().position  # a parenthesized primary's postfix spans its parentheses
        return self.postfix(self.primary(), start)

    def _is_cast(self) -> bool:
        first = self.lexer.peek(1)
        if first.kind != "ident":
            return False
        if first.text in ("struct", "union", "enum"):
            return True
        if first.text in INT_TYPES or first.text.endswith("_t"):
            after = 2
            while self.lexer.peek(after).text in ("*", "int", "long", "char", "short"):
                after += 1
            return self.lexer.peek(after).text == ")"
        return False

    def ctype(self) -> str:
        words = []
        while True:
            token = self.lexer.peek()
            if token.kind == "ident" or (token.kind == "op" and token.text == "*"):
                words.append(self.lexer.next().text)
                continue
            break
        text = " ".join(words).replace(" *", "*").replace("*", " *").replace("  ", " ")
        return text.strip()

    def postfix(self, expr: ast.Expr, start: int) -> ast.Expr:
        while True:
            token = self.lexer.peek()
            if token.kind != "op":
                return expr
            if token.text in (".", "->"):
                if token.text == "." and self.lexer.peek(1).text == ".":
                    return expr  # the '..' of a for range
                self.lexer.next()
                name = self.lexer.next()
                if name.kind not in ("ident", "int"):
                    raise self.error(f"syntax error, expected a field name after '{token.text}'", name)
                expr = ast.FieldAccess(expr, name.text, token.text == "->", position=start,
                                       length=name.position + len(name.text) - start)
            elif token.text in ("++", "--") and isinstance(expr, (ast.Variable, ast.MapRef)):
                self.lexer.next()
                expr = ast.Unary("post" + token.text, expr, position=expr.position,
                                 length=token.position + 2 - expr.position)
            elif token.text == "[" and not (isinstance(expr, ast.MapRef) and not expr.keys):  # @m[k][i]: into the value
                self.lexer.next()
                index = self.expression()
                end = self.expect("]")
                expr = ast.Index(expr, index, position=start, length=end.position + 1 - start)
            else:
                return expr

    def arguments(self) -> tuple[list[ast.Expr], Token]:
        args: list[ast.Expr] = []
        if self.lexer.peek().text == ")" and self.lexer.peek().kind == "op":
            return args, self.lexer.next()
        while True:
            args.append(self.expression())
            token = self.lexer.next()
            if token.text == ")" and token.kind == "op":
                return args, token
            if token.text != "," or token.kind != "op":
                raise self.error(f"syntax error, unexpected '{token.text or 'end of input'}', expecting , or )", token)

    def primary(self) -> ast.Expr:
        token = self.lexer.next()
        kind = token.kind
        if kind == "int":
            return ast.Integer(token.value, position=token.position, length=len(token.text))
        if kind == "str":
            return ast.String(token.value, position=token.position, length=len(token.text))
        if kind == "pos":
            return ast.Positional(token.value, position=token.position, length=len(token.text))
        if kind == "nargs":
            return ast.Positional(0, position=token.position, length=2)
        if kind == "var":
            return ast.Variable(token.text, position=token.position, length=len(token.text))
        if kind == "map":
            keys: list[ast.Expr] = []
            end = token.position + len(token.text)
            if self.lexer.peek().text == "[" and self.lexer.peek().kind == "op":
                self.lexer.next()
                keys.append(self.expression())
                while self.accept(","):
                    keys.append(self.expression())
                end = self.expect("]").position + 1
            return ast.MapRef(token.text, keys, position=token.position, length=end - token.position)
        if kind == "op" and token.text == "(":
            first = self.expression()
            if self.accept(","):
                items = [first, self.expression()]
                while self.accept(","):
                    items.append(self.expression())
                end = self.expect(")")
                return ast.Tuple(items, position=token.position, length=end.position + 1 - token.position)
            self.expect(")")
            return first
        if kind == "ident":
            if token.text in ("sizeof", "offsetof") and self.lexer.peek().text == "(":
                return self._sizeof_offsetof(token)
            if self.lexer.peek().text == "(" and self.lexer.peek().kind == "op":
                self.lexer.next()
                args, end = self.arguments()
                return ast.Call(token.text, args, position=token.position, length=end.position + 1 - token.position)
            if token.text in ("true", "false"):
                return ast.Integer(int(token.text == "true"), position=token.position, length=len(token.text))
            return ast.Builtin(token.text, position=token.position, length=len(token.text))
        found = "end of input" if kind == "eof" else f"'{token.text}'"
        raise self.error(f"syntax error, unexpected {found}", token)

    def _sizeof_offsetof(self, token: Token) -> ast.Expr:
        self.lexer.next()
        if token.text == "offsetof":
            ctype = self.ctype()
            self.expect(",")
            member = self.lexer.next()
            end = self.expect(")")
            return ast.OffsetOf(ctype, member.text, position=token.position, length=end.position + 1 - token.position)
        nxt = self.lexer.peek()
        if nxt.kind == "ident" and (nxt.text in ("struct", "union", "enum") or nxt.text in INT_TYPES):
            ctype = self.ctype()
            end = self.expect(")")
            return ast.SizeOf(ctype, None, position=token.position, length=end.position + 1 - token.position)
        operand = self.expression()
        end = self.expect(")")
        return ast.SizeOf(None, operand, position=token.position, length=end.position + 1 - token.position)


def parse(source: str, filename: str = "stdin", params: list[str] | None = None) -> ast.Script:
    """Parse a whole program (``params``: the positional parameters probe names may use);
    :class:`TraceSyntaxError` points at the first error."""
    try:
        return Parser(source, params).program()
    except TraceSyntaxError as exc:
        raise exc.located(source, filename) from None
