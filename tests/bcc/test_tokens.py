"""Property tests of the tokenizer the dialect rewrite stands on: tokens are exact slices
of the text, only whitespace and comments fall between them, and argument lists split at
top-level commas however deeply their arguments nest."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pybpf.bcc.tokens import matching, split_arguments, tokenize

_PIECES = st.sampled_from(["x", "task", "->", ".", "(", ")", "[", "]", "{", "}", ",", ";", "0x1f", "42", "1.5e+3",
                           '"a.lookup(k)"', '"q\\"x"', "'c'", "/* c, ( */", "// note\n", "<<=", "&&", "+", "*", "&"])
_SPACE = st.sampled_from(["", " ", "\n", "\t"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_PIECES, _SPACE), max_size=40))
def test_tokens_are_slices_with_only_blanks_and_comments_between(pieces):
    text = "".join(piece + (" " if piece[0].isalnum() or piece[0] in "\"'" else "") + space for piece, space in pieces)
    tokens = tokenize(text)
    pos = 0
    for tok in tokens:
        assert text[tok.start:tok.end] == tok.text
        gap = text[pos:tok.start]
        assert gap.strip() == "" or "/*" in gap or "//" in gap
        pos = tok.end
    assert "/*" in text[pos:] or "//" in text[pos:] or text[pos:].strip() == ""


def _argument(depth: int) -> st.SearchStrategy[str]:
    leaf = st.sampled_from(["a", "&key", "sizeof(x)", '"s,t"', "1 + 2", "p->q"])
    if depth == 0:
        return leaf
    inner = st.lists(_argument(depth - 1), min_size=1, max_size=3).map(", ".join)
    return st.one_of(leaf, inner.map(lambda s: f"f({s})"), inner.map(lambda s: f"{{{s}}}"),
                     inner.map(lambda s: f"a[{s}]"))


@settings(max_examples=200, deadline=None)
@given(st.lists(_argument(3), min_size=1, max_size=5))
def test_arguments_split_at_top_level_commas(arguments):
    text = f"call({', '.join(arguments)})"
    tokens = tokenize(text)
    close = matching(tokens, 1, text)
    assert close == len(tokens) - 1
    parts = split_arguments(tokens, 1, close)
    assert [text[tokens[a].start:tokens[b - 1].end] for a, b in parts] == arguments
