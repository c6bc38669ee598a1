"""pybpf.cli.plainargs reads a command line as argparse does, or declines: for every
command line, either it answers None or its namespace is argparse's, value for value
(the command lines of the tests, and random ones made of each command's own options)."""

from __future__ import annotations

import ast
import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.cli import COMMANDS, build_parser, main
from pybpf.cli.plainargs import ParserOf, Unsupported, parse, record


def _argparse(argv: list[str]) -> dict | None:
    """argparse's namespace for ``pybpf ARGV`` (as vars), None where it exits."""
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            return vars(build_parser(argv[0]).parse_args(argv))
    except SystemExit:
        return None


def _comparable(values: dict) -> dict:
    """Each value with its type (True is not 1 here), a parser by its name."""
    def one(value):
        if isinstance(value, ParserOf) or type(value).__name__ == "ArgumentParser":
            return ("parser", value.prog)
        return (type(value), value)
    return {name: one(value) for name, value in values.items()}


def check(argv: list[str]) -> bool:
    """True where the plain parser read ``argv``, then as argparse does."""
    plain = parse(argv[0], argv[1:])
    if plain is None:
        return False
    expected = _argparse(argv)
    assert expected is not None, f"argparse refuses {argv}, plainargs reads {plain}"
    assert _comparable(vars(plain)) == _comparable(expected), argv
    return True


def _test_command_lines() -> list[list[str]]:
    """Every list of words in tests/ that reads as ``pybpf COMMAND ...`` (after "pybpf",
    or "-m pybpf.cli"), f-strings and other expressions as one placeholder word."""
    found = []
    for path in sorted(Path(__file__).parents[1].rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.List):
                continue
            words = [element.value if isinstance(element, ast.Constant) else "x.bin"
                     for element in node.elts if not isinstance(element, ast.Starred)]
            if not all(isinstance(word, str) for word in words):
                continue
            for start, word in enumerate(words[:4]):
                if word in COMMANDS and all(w in ("pybpf", "-m", "pybpf.cli", "x.bin") for w in words[:start]):
                    found.append(words[start:])
                    break
    return found


CORPUS = _test_command_lines()


def test_the_tests_command_lines_are_read_as_argparse_reads_them():
    assert len(CORPUS) > 100
    read = {argv[0] for argv in CORPUS if check(argv)}
    assert {"run", "load", "verify", "replay", "trace", "filter", "prog", "map"} <= read


@pytest.mark.parametrize("argv", [
    ["run", "x.bin", "--engine", "vm"], ["run", "x.bin", "--engine", "kernel", "--json"], ["verify", "x.bin"],
    ["load", "x.o"], ["load", "x.o", "--engine", "vm"], ["trace", "-e", "BEGIN { exit(); }"], ["trace", "x.bt", "1"],
    ["replay", "x.bin", "--type", "socket_filter", "-r", "x.pcap"], ["trace", "-q", "x.bt", "-c", "ls"],
    ["filter", "-nr", "x.pcap", "udp"], ["verify", "x.bin", "--log-level", "2"], ["trace", "-kk", "-e", "x"],
    ["trace", "-l"], ["trace", "-l", "kprobe:*"], ["cc", "x.c", "-I", "a", "-I", "b", "-D", "X=1"],
    ["run", "x.bin", "--mem-file", "m", "--repeat", "3"], ["tool", "execsnoop", "5"], ["tool", "execsnoop", "-x"],
    ["prog", "list"], ["prog", "show", "3", "--json"], ["map", "update", "3", "--key", "1", "2", "--value", "3"],
    ["btf", "dump", "--format", "raw", "int"], ["record", "-o", "f", "execsnoop", "5"],
])
def test_plain_command_lines_are_read(argv):
    assert check(argv)


@pytest.mark.parametrize("argv", [
    ["run", "x.bin", "-h"], ["run", "--help"], ["run", "x.bin", "--eng", "vm"], ["run", "x.bin", "--engine=vm"],
    ["run", "x.bin", "--engine", "jit"], ["run", "x.bin", "--repeat", "x"], ["run"], ["run", "x.bin", "y.bin"],
    ["run", "x.bin", "--mem", "00", "--data", "f"], ["run", "x.bin", "--", "y"], ["replay", "x.bin"],
    ["verify", "x.bin", "--log-level", "3"], ["trace", "-lv"], ["trace", "-x"], ["filter", "-rf.pcap"],
    ["trace", "--unknown"], ["prog"], ["prog", "lst"], ["map", "pin", "3"], ["map", "list", "--js"],
    ["run", "x.bin", "-1"], ["tool", "execsnoop", "-1"], ["run", "x.bin", "--json", "-x"],
])
def test_other_command_lines_are_left_to_argparse(argv):
    assert parse(argv[0], argv[1:]) is None


def test_what_the_recorder_does_not_model_is_refused():
    class Custom:
        pass

    def registers(*calls):
        def register(subparsers):
            parser = subparsers.add_parser("x")
            for call in calls:
                call(parser)
        return register

    for call in (lambda p: p.add_argument("--a", action=Custom), lambda p: p.add_argument("--a", action="extend"),
                 lambda p: p.add_argument("--a", nargs=0), lambda p: p.add_argument("--a", bogus=1),
                 lambda p: p.add_argument("-long"), lambda p: p.add_argument("--a", nargs="..."),
                 lambda p: p.add_argument("--a", type="int"), lambda p: p.add_argument("--help")):
        with pytest.raises(Unsupported):
            record("x", registers(call))
    for call in (lambda p: p.add_subparsers(parser_class=Custom), lambda p: [p.add_subparsers(), p.add_subparsers()],
                 lambda p: p.add_subparsers().add_parser("y", aliases=["z"])):
        with pytest.raises(Unsupported):
            record("x", registers(call))
    for call in (lambda p: p.add_argument_group().add_argument_group(), lambda p: setattr(p, "parse_known_args", print)):
        with pytest.raises(AttributeError):
            record("x", registers(call))
    with pytest.raises(Unsupported):
        record("x", lambda subparsers: subparsers.add_parser("x", aliases=["y"]))


@pytest.mark.parametrize("argv", [
    ["run", "x.bin", "--help"], ["trace", "-h"], ["run", "x.bin", "--engine", "jit"], ["replay", "x.bin"],
    ["trace", "-x"], ["verify", "x.bin", "--log-level", "3"], ["load", "x.o", "--engine"],
])
def test_help_and_errors_are_argparses(argv, capsys):
    outputs = []
    for run in (main, build_parser(argv[0]).parse_args):
        with pytest.raises(SystemExit) as info:
            run(argv)
        outputs.append((info.value.code, capsys.readouterr()))
    assert outputs[0] == outputs[1]
    assert "usage: " in outputs[0][1].out + outputs[0][1].err


def _words(command: str) -> st.SearchStrategy[list[str]]:
    """Command lines made of the command's own options (alone, grouped, abbreviated,
    with ``=``), their choices and other values, and words argparse reads otherwise,
    alone or around one of the tests' command lines."""
    parsers = [record(command, __import__(f"pybpf.cli.{command}", fromlist=["register"]).register)]
    for parser in parsers:     # with the sub-commands' (prog list, ...)
        parsers += [sub for action in parser.actions if action.kind == "parsers" for sub in action.choices.values()]
    actions = {name: action for parser in parsers for name, action in parser.options.items()}
    options = sorted(actions)
    flags = [name[1] for name in options if len(name) == 2 and actions[name].nargs == 0]
    shorts = [name[1] for name in options if len(name) == 2]
    values = sorted({str(choice) for parser in parsers for action in parser.actions for choice in (action.choices or ())}
                    | {"1", "0", "-1", "x", "", "-", "a=b", "٣", "07", "x.bin", "-x", "--", "BEGIN { exit(); }"})
    plain = st.one_of(st.sampled_from(options), st.sampled_from(values))
    pairs = st.lists(st.tuples(st.sampled_from(options), st.sampled_from(values)), max_size=3).map(
        lambda pairs: [word for pair in pairs for word in pair])
    word = st.one_of(
        plain,
        st.builds(lambda group, last: "-" + "".join(group) + last,
                  st.lists(st.sampled_from(flags or ["h"]), min_size=1, max_size=3),
                  st.sampled_from(["", *shorts])),
        st.builds(lambda name, size: name[:size], st.sampled_from([o for o in options if o.startswith("--")]),
                  st.integers(3, 8)),
        st.builds(lambda name, value: f"{name}={value}", st.sampled_from(options), st.sampled_from(values)),
    )
    seeds = [argv[1:] for argv in CORPUS if argv[0] == command] + [["x.bin"]]    # (export has no test's line)
    return st.one_of(
        st.lists(word, max_size=8),
        st.builds(lambda before, seed, after: [*before, *seed, *after],       # a test's line, more words around it
                  st.lists(plain, max_size=3), st.sampled_from(seeds), st.lists(plain, max_size=3)),
        st.builds(lambda seed, more: [*seed, *more], st.sampled_from(seeds), pairs),   # options with a value each
    ).map(lambda words: [command, *words])


@pytest.mark.parametrize("command", COMMANDS)
def test_random_command_lines_are_read_as_argparse_reads_them_or_left_to_it(command):
    read = []

    @settings(max_examples=200, deadline=None, database=None, derandomize=True)
    @given(_words(command))
    def each(argv):
        read.append(check(argv))

    each()
    assert any(read)    # (some lines are plain: the comparison compared something)
