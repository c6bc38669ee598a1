"""Plain command lines read without argparse, from the declarations argparse reads.

Importing argparse (with re, enum, functools, gettext and locale) and building a
sub-command's parser is ~9 ms of every ``pybpf COMMAND ...`` run. :func:`parse` gives the
command module's ``register(subparsers)`` a recording stand-in for argparse's subparsers
object, then reads the command line with what it recorded, as argparse 3.11's
``_parse_known_args`` does — but only a plain line: exact option names (``-x``,
``--name``, short flags grouped as in ``-nr FILE``), their values as separate words,
positionals. Anything else makes it answer ``None`` and the caller runs argparse, whose
messages are then the ones printed: help and version actions, ``--``, ``--opt=value``,
``-xVALUE``, abbreviated or unknown options, words starting with ``-`` as values, a type
or choice error, a missing required argument, a mutually exclusive pair, words left over.
A ``register`` that does anything the recorder does not model (another argparse method,
an action class, a keyword it does not know, setting an attribute) raises inside the
recording, which also leaves the command to argparse.
"""

from __future__ import annotations

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

SUPPRESS = "==SUPPRESS=="       # argparse.SUPPRESS
REMAINDER = "..."               # argparse.REMAINDER
PARSER = "A..."                 # argparse.PARSER: a sub-command's name, then its arguments
_VALUE_KEYWORDS = {"nargs", "const", "default", "type", "choices", "required", "help", "metavar", "dest"}
#: the keywords each action accepts (argparse's action classes' parameters)
_KEYWORDS = {
    "store": _VALUE_KEYWORDS, "append": _VALUE_KEYWORDS,
    "store_const": {"const", "default", "required", "help", "metavar", "dest"},
    "append_const": {"const", "default", "required", "help", "metavar", "dest"},
    "store_true": {"default", "required", "help", "dest"}, "store_false": {"default", "required", "help", "dest"},
    "count": {"default", "required", "help", "dest"},
    "help": {"default", "help", "dest"}, "version": {"version", "default", "help", "dest"},
}
#: each action's default and (for flags) constant when not given
_ACTION_DEFAULTS = {"store_true": (False, True), "store_false": (True, False), "help": (SUPPRESS, None),
                    "version": (SUPPRESS, None)}
#: add_parser's keywords that shape only help and error messages (``strict``: pybpf's own
#: parser class, making unrecognized arguments the command's error, which a plain line has none of)
_PARSER_KEYWORDS = {"help", "description", "usage", "epilog", "formatter_class", "strict"}
_SUBPARSERS_KEYWORDS = {"dest", "required", "metavar", "help", "title", "description"}


class Unsupported(Exception):
    """``register`` declared something the recorder does not model."""


class _NotPlain(Exception):
    """The command line is not a plain one: argparse reads it."""


class Namespace:
    """What argparse's Namespace is for a handler: the parsed values as attributes, equal
    to another namespace with the same ones."""

    def __init__(self, **values: Any):
        self.__dict__.update(values)

    if TYPE_CHECKING:
        def __getattr__(self, name: str) -> Any: ...    # its attributes are the parsed values

    def __eq__(self, other: object) -> bool:
        return vars(self) == vars(other) if hasattr(other, "__dict__") else NotImplemented

    def __contains__(self, key: str) -> bool:
        return key in self.__dict__

    def __repr__(self) -> str:
        return f"Namespace({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


class ParserOf:
    """Stands for a command's argparse parser where ``register`` put the parser itself in
    the defaults (``set_defaults(filter_parser=parser)``, for its ``error()``): the real
    one is built on first use."""

    def __init__(self, command: str):
        self._command, self._parser = command, None

    def __getattr__(self, name: str) -> Any:
        if self._parser is None:
            from pybpf.cli import build_parser

            subparsers = build_parser(self._command)._subparsers
            assert subparsers is not None
            choices = subparsers._group_actions[0].choices
            assert isinstance(choices, dict)
            self._parser = choices[self._command]
        return getattr(self._parser, name)


class _Action:
    __slots__ = ("option_strings", "dest", "kind", "nargs", "const", "default", "type", "choices", "required")

    def __init__(self, option_strings: list[str], dest: str, kind: str, nargs: Any, const: Any, default: Any,
                 type: Callable[[str], Any] | None, choices: Any, required: bool):
        self.option_strings, self.dest, self.kind, self.nargs = option_strings, dest, kind, nargs
        self.const, self.default, self.type, self.choices, self.required = const, default, type, choices, required


class _Arguments:
    """What add_argument records into (a parser, or one of its groups)."""

    __slots__ = ("_parser", "_exclusive")

    def __init__(self, parser: RecordedParser, exclusive: list[_Action] | None):
        self._parser, self._exclusive = parser, exclusive

    def add_argument(self, *names: str, **kwargs: Any) -> None:
        action = self._parser._action(names, kwargs, in_exclusive_group=self._exclusive is not None)
        if self._exclusive is not None:
            self._exclusive.append(action)


class _Group(_Arguments):
    """add_argument_group's group: only help sections to argparse."""

    __slots__ = ()

    def add_mutually_exclusive_group(self, *, required: bool = False) -> _Arguments:
        return self._parser.add_mutually_exclusive_group(required=required)


class RecordedParser(_Arguments):
    """The stand-in for one command's ArgumentParser (or for one of its sub-commands')."""

    __slots__ = ("command", "nested", "actions", "options", "defaults", "exclusive_groups")

    def __init__(self, command: str, nested: bool = False):
        super().__init__(self, None)
        self.command, self.nested = command, nested
        self.actions: list[_Action] = []
        self.options: dict[str, _Action] = {}
        self.defaults: dict[str, Any] = {}
        self.exclusive_groups: list[tuple[list[_Action], bool]] = []
        self._action(("-h", "--help"), {"action": "help"}, in_exclusive_group=False)

    def add_argument_group(self, title: str | None = None, description: str | None = None) -> _Group:
        return _Group(self, None)

    def add_mutually_exclusive_group(self, *, required: bool = False) -> _Arguments:
        group: list[_Action] = []
        self.exclusive_groups.append((group, bool(required)))
        return _Arguments(self, group)

    def add_subparsers(self, **kwargs: Any) -> RecordingSubparsers:
        """Sub-commands (``pybpf prog list``): a positional taking a sub-command's name,
        then the rest of the line, which that sub-command's parser reads."""
        if not set(kwargs) <= _SUBPARSERS_KEYWORDS or any(action.kind == "parsers" for action in self.actions):
            raise Unsupported(f"add_subparsers({sorted(kwargs)})")
        choices: dict[str, RecordedParser] = {}
        self.actions.append(_Action([], kwargs.get("dest", SUPPRESS), "parsers", PARSER, None, None, None, choices,
                                    bool(kwargs.get("required", False))))
        return RecordingSubparsers(None, choices)

    def set_defaults(self, **values: Any) -> None:
        self.defaults.update(values)
        for action in self.actions:
            if action.dest in values:
                action.default = values[action.dest]

    def _action(self, names: tuple[str, ...], kwargs: dict[str, Any], in_exclusive_group: bool) -> _Action:
        """One add_argument, checked as argparse checks it; Unsupported for what the
        parser below does not read as argparse would."""
        kind = kwargs.pop("action", None) or "store"
        if not isinstance(kind, str) or kind not in _KEYWORDS or not set(kwargs) <= _KEYWORDS[kind]:
            raise Unsupported(f"add_argument{names}: {kind!r} {sorted(kwargs)}")
        positional = len(names) == 1 and not names[0].startswith("-")
        if positional:
            if kind != "store" or "dest" in kwargs or "required" in kwargs or in_exclusive_group:
                raise Unsupported(f"positional {names}")
            dest = names[0]
            required = kwargs.get("nargs") not in ("?", "*") or (kwargs.get("nargs") == "*" and "default" not in kwargs)
        else:
            if not names or not all(_option_name(name) for name in names) or any(n in self.options for n in names):
                raise Unsupported(f"option names {names}")
            dest = kwargs.get("dest") or ""
            if kwargs.get("dest") is None:
                dest = next((n for n in names if n.startswith("--")), names[0]).lstrip("-").replace("-", "_")
            required = bool(kwargs.get("required", False))
            if required and in_exclusive_group:
                raise Unsupported(f"required {names} in an exclusive group")
        nargs = kwargs.get("nargs", 0 if kind not in ("store", "append") else None)
        if not (nargs in (None, "?", "*", "+") or (nargs == REMAINDER and positional)
                or (type(nargs) is int and nargs > 0) or (nargs == 0 and kind not in ("store", "append"))):
            raise Unsupported(f"nargs {nargs!r} of {names}")
        if kind in ("store", "append") and "const" in kwargs and nargs != "?":
            raise Unsupported(f"const without nargs='?' for {names}")
        converter = kwargs.get("type")
        if converter is not None and not callable(converter):
            raise Unsupported(f"type {converter!r} of {names}")
        default, const = _ACTION_DEFAULTS.get(kind, (None, None))
        if "default" in kwargs:
            default = kwargs["default"]
        elif dest in self.defaults:
            default = self.defaults[dest]
        action = _Action(list(names) if not positional else [], dest, kind, nargs, kwargs.get("const", const),
                         default, converter, kwargs.get("choices"), required)
        self.actions.append(action)
        for name in action.option_strings:
            self.options[name] = action
        return action

    def parse(self, words: list[str]) -> Namespace:
        """``parse_known_args(words)``'s namespace, or _NotPlain."""
        return _Parse(self, words).namespace


def _option_name(name: object) -> bool:
    """``-x`` or ``--name``: the option names the parser below reads (``-long``,
    other prefix characters and ``=`` in a name are argparse's alone)."""
    return (isinstance(name, str) and name.startswith("-") and "=" not in name
            and ((len(name) == 2 and name[1] != "-") or (len(name) > 2 and name[1] == "-" and name[2] != "-")))


class RecordingSubparsers:
    """The stand-in for argparse's subparsers object that ``register`` adds to: the
    command's own (``command``: the one parser it may add), or one a parser adds for its
    sub-commands (``nested``: their parsers by name)."""

    __slots__ = ("command", "parser", "nested")

    def __init__(self, command: str | None, nested: dict[str, RecordedParser] | None = None):
        self.command, self.nested = command, nested
        self.parser: RecordedParser | None = None

    def add_parser(self, name: str, **kwargs: Any) -> RecordedParser:
        if self.nested is not None:
            if not isinstance(name, str) or name in self.nested or not set(kwargs) <= _PARSER_KEYWORDS - {"strict"}:
                raise Unsupported(f"add_parser({name!r}, {sorted(kwargs)})")
            self.nested[name] = RecordedParser(name, nested=True)
            return self.nested[name]
        if name != self.command or self.parser is not None or not set(kwargs) <= _PARSER_KEYWORDS:
            raise Unsupported(f"add_parser({name!r}, {sorted(kwargs)})")
        self.parser = RecordedParser(name)
        return self.parser


def record(command: str, register: Callable[[Any], None]) -> RecordedParser:
    """What ``register`` declares for ``command``; Unsupported (or whatever the stand-in's
    missing methods raise) for what the recorder does not model."""
    subparsers = RecordingSubparsers(command)
    register(subparsers)
    if subparsers.parser is None:
        raise Unsupported(f"{command}: no parser added")
    return subparsers.parser


def parse(command: str, words: list[str]) -> Namespace | None:
    """The namespace argparse makes of ``pybpf COMMAND WORDS``, or None where the line is
    not plain or the command's register() is not one the recorder models."""
    import sys

    module = f"pybpf.cli.{command}"
    __import__(module)      # (importlib.import_module: importlib and warnings, ~0.8 ms more)
    register = sys.modules[module].register
    try:
        parser = record(command, register)
    except Exception:   # noqa: BLE001 -- argparse runs register() again and reports what is wrong
        return None
    try:
        found = parser.parse(words)
    except _NotPlain:
        return None
    namespace = Namespace(command=command)  # the subparsers action's dest, then the command's own
    namespace.__dict__.update(vars(found))
    return namespace


def _nargs_counts(nargs: Any, pattern: str, at: int) -> list[int]:
    """How many of the words from ``at`` an action with ``nargs`` may take, most first,
    as argparse's regular expressions over the words' pattern (``A`` a value, ``O`` an
    option) try them."""
    values = len(pattern) - at - len(pattern[at:].lstrip("A"))  # the values before the next option
    if nargs is None:
        return [1] if values >= 1 else []
    if nargs == "?":
        return [1, 0] if values >= 1 else [0]
    if nargs == "*":
        return list(range(values, -1, -1))
    if nargs == "+":
        return list(range(values, 0, -1))
    if nargs == REMAINDER:
        return list(range(len(pattern) - at, -1, -1))
    if nargs == PARSER:
        return list(range(len(pattern) - at, 0, -1)) if values >= 1 else []
    return [nargs] if values >= nargs else []


def _match(nargs: list[Any], pattern: str, at: int) -> list[int] | None:
    """Each action's count of words, matching from ``at`` as re.match of the joined
    patterns does (greedy, backtracking), or None."""
    if not nargs:
        return []
    for count in _nargs_counts(nargs[0], pattern, at):
        rest = _match(nargs[1:], pattern, at + count)
        if rest is not None:
            return [count, *rest]
    return None


class _Parse:
    """One run of argparse's ``_parse_known_args`` over a plain line."""

    def __init__(self, parser: RecordedParser, words: list[str]):
        self.parser, self.words = parser, words
        self.namespace = Namespace()
        defaults = [(action.dest, action.default) for action in parser.actions if action.default is not SUPPRESS]
        for dest, value in [*defaults, *parser.defaults.items()]:
            if dest not in self.namespace:
                if isinstance(value, RecordedParser) and (value is not parser or parser.nested):
                    raise _NotPlain(f"{dest}: a parser other than the command's")
                setattr(self.namespace, dest, ParserOf(parser.command) if value is parser else value)
        self.conflicts: dict[_Action, list[_Action]] = {}
        for group, _ in parser.exclusive_groups:
            for action in group:
                self.conflicts.setdefault(action, []).extend(other for other in group if other is not action)
        self.seen: set[_Action] = set()
        self.seen_non_default: set[_Action] = set()
        self.positionals = [action for action in parser.actions if not action.option_strings]
        self.pattern, self.found = self._classify(words)
        self._consume()
        self._finish()

    def _classify(self, words: list[str]) -> tuple[str, dict[int, tuple[_Action | None, str, str | None]]]:
        """Each word's letter (``A`` a value, ``O`` an option) and each option's action,
        name and the rest of a group of short flags (``-nr``: ``-n``, then ``r``); an
        option this parser does not know has no action (argparse's extras, unless a
        sub-command or ``...`` takes it)."""
        options = self.parser.options
        pattern: list[str] = []
        found: dict[int, tuple[_Action | None, str, str | None]] = {}
        for index, word in enumerate(words):
            if not word.startswith("-") or word == "-":
                pattern.append("A")
                continue
            if word in options:
                found[index] = (options[word], word, None)
            elif not word.startswith("--") and "=" not in word and word[:2] in options:
                found[index] = (options[word[:2]], word[:2], word[2:])
            elif ("=" in word or " " in word or not word.lstrip("-")[:1].isalpha() or word.startswith("---")
                  or any(name.startswith(word) for name in options)):
                raise _NotPlain(word)  # --, --opt=value, abbreviations, -1: argparse's readings
            else:
                found[index] = (None, word, None)
            pattern.append("O")
        return "".join(pattern), found

    def _consume(self) -> None:
        start = 0
        last_option = max(self.found, default=-1)
        while start <= last_option:
            next_option = min(index for index in self.found if index >= start)
            if start != next_option:
                end = self._positionals(start)
                if end > start:
                    start = end
                    continue
            if start not in self.found:
                raise _NotPlain("words argparse leaves over")
            start = self._optional(start)
        if self._positionals(start) != len(self.words):
            raise _NotPlain("words argparse leaves over")

    def _positionals(self, start: int) -> int:
        counts = None
        for size in range(len(self.positionals), 0, -1):
            counts = _match([action.nargs for action in self.positionals[:size]], self.pattern, start)
            if counts is not None:
                break
        for action, count in zip(self.positionals, counts or []):
            self._take(action, self.words[start:start + count])
            start += count
        self.positionals = self.positionals[len(counts or []):]
        return start

    def _optional(self, start: int) -> int:
        action, name, grouped = self.found[start]
        if action is None:
            raise _NotPlain(f"{name}: unrecognized")
        taken: list[tuple[_Action, list[str]]] = []
        while grouped is not None:       # -nr: flags taking no value, each in turn
            if action.nargs != 0:
                raise _NotPlain(f"{name}{grouped}")   # -xVALUE (or argparse's error)
            taken.append((action, []))
            name = "-" + grouped[0]
            if name not in self.parser.options:
                raise _NotPlain(name)
            action, grouped = self.parser.options[name], grouped[1:] or None
        counts = _nargs_counts(action.nargs, self.pattern, start + 1)
        if not counts:
            raise _NotPlain(f"{name} without its value")
        stop = start + 1 + counts[0]
        taken.append((action, self.words[start + 1:stop]))
        for action, strings in taken:
            self._take(action, strings)
        return stop

    def _take(self, action: _Action, strings: list[str]) -> None:
        self.seen.add(action)
        values = self._values(action, strings)
        if values is not action.default:
            self.seen_non_default.add(action)
            if any(other in self.seen_non_default for other in self.conflicts.get(action, ())):
                raise _NotPlain("mutually exclusive options")
        if values is SUPPRESS:
            return
        namespace, dest = self.namespace, action.dest
        if action.kind in ("help", "version"):
            raise _NotPlain(action.kind)
        if action.kind == "store":
            setattr(namespace, dest, values)
        elif action.kind == "parsers":     # argparse's _SubParsersAction
            if dest is not SUPPRESS:
                setattr(namespace, dest, values[0])
            namespace.__dict__.update(vars(_Parse(action.choices[values[0]], values[1:]).namespace))
        elif action.kind in ("store_const", "store_true", "store_false"):
            setattr(namespace, dest, action.const)
        elif action.kind in ("append", "append_const"):
            items = getattr(namespace, dest, None)
            if items is not None and type(items) is not list:
                raise _NotPlain(f"{dest}: appending to a {type(items).__name__}")   # argparse copies it
            items = [*(items or ()), values if action.kind == "append" else action.const]
            setattr(namespace, dest, items)
        else:   # count
            count = getattr(namespace, dest, None)
            setattr(namespace, dest, (0 if count is None else count) + 1)

    def _values(self, action: _Action, strings: list[str]) -> Any:
        """argparse's ``_get_values``."""
        if not strings and action.nargs == "?":
            value = action.const if action.option_strings else action.default
            if isinstance(value, str):
                value = self._value(action, value)
                self._check(action, value)
        elif not strings and action.nargs == "*" and not action.option_strings:
            value = action.default if action.default is not None else strings
            self._check(action, value)
        elif len(strings) == 1 and action.nargs in (None, "?"):
            value = self._value(action, strings[0])
            self._check(action, value)
        elif action.nargs == REMAINDER:
            value = [self._value(action, string) for string in strings]
        elif action.nargs == PARSER:
            value = [self._value(action, string) for string in strings]
            self._check(action, value[0])
        else:
            value = [self._value(action, string) for string in strings]
            for item in value:
                self._check(action, item)
        return value

    @staticmethod
    def _value(action: _Action, string: Any) -> Any:
        if action.type is None:
            return string
        try:
            return action.type(string)
        except Exception:   # noqa: BLE001 -- argparse's message (or traceback), not ours
            raise _NotPlain(f"{string!r}: bad value") from None

    @staticmethod
    def _check(action: _Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            raise _NotPlain(f"{value!r}: not a choice")

    def _finish(self) -> None:
        """Required arguments given, string defaults converted (argparse's end of parsing)."""
        for action in self.parser.actions:
            if action in self.seen:
                continue
            if action.required:
                raise _NotPlain(f"{action.dest} required")
            if (isinstance(action.default, str) and action.default is not SUPPRESS
                    and getattr(self.namespace, action.dest, None) is action.default):
                setattr(self.namespace, action.dest, self._value(action, action.default))
        for group, required in self.parser.exclusive_groups:
            if required and not any(action in self.seen_non_default for action in group):
                raise _NotPlain("an exclusive group's argument required")
