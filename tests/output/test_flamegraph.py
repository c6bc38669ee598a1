"""Flame graphs: folded text round trip, merging, and the SVG's geometry."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybpf.output import OutputError, diff_svg, fold, parse_folded, speedscope, svg

STACKS = [(("main", "work", "hash"), 6), (("main", "work"), 2), (("main", "io", "read"), 2), (("main", "work", "hash"), 2)]


def test_fold_merges_and_sorts():
    assert fold(STACKS) == "main;io;read 2\nmain;work 2\nmain;work;hash 8\n"
    assert fold([(("a;b",), 1), ((), 5), (("x",), 0)]) == "a:b 1\n"


def test_parse_folded():
    assert parse_folded("main;f 3\n\nmain 1\n") == [(("main", "f"), 3), (("main",), 1)]
    with pytest.raises(OutputError, match="line 1: expected"):
        parse_folded("main;f three\n")


frame_names = st.text(st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=";"), min_size=1, max_size=8)


@given(st.lists(st.tuples(st.lists(frame_names, min_size=1, max_size=5).map(tuple), st.integers(1, 50)), max_size=20))
def test_fold_round_trip(stacks):
    merged = parse_folded(fold(stacks))
    assert sorted(merged) == sorted(parse_folded(fold(merged)))
    assert sum(c for _, c in merged) == sum(c for _, c in stacks)


def _frames(document: str) -> dict[str, tuple[float, float, float]]:
    root = ET.fromstring(document)
    ns = {"s": "http://www.w3.org/2000/svg"}
    frames = {}
    for group in root.findall("s:g", ns):
        title = group.find("s:title", ns).text
        rect = group.find("s:rect", ns)
        frames[title.split(" (")[0]] = (float(rect.get("x")), float(rect.get("y")), float(rect.get("width")))
    return frames


def test_svg_geometry():
    document = svg(STACKS, title="demo <&>", width=1020)
    frames = _frames(document)
    full = 1000.0
    x_all, y_all, w_all = frames["all"]
    assert w_all == pytest.approx(full)
    assert frames["main"][2] == pytest.approx(full)
    assert frames["work"][2] == pytest.approx(full * 10 / 12, abs=0.01)
    assert frames["io"][2] == pytest.approx(full * 2 / 12, abs=0.01)
    # children sit on their parents; siblings sorted by name: io left of work
    assert frames["hash"][1] < frames["work"][1] < frames["main"][1] < y_all
    assert frames["io"][0] < frames["work"][0]
    assert re.search(r"<title>hash \(8 samples, 66\.67%\)</title>", document)
    assert "demo &lt;&amp;&gt;" in document


def test_svg_of_nothing_is_valid():
    ET.fromstring(svg([]))


def test_svg_is_interactive():
    document = svg(STACKS)
    root = ET.fromstring(document)
    ns = {"s": "http://www.w3.org/2000/svg"}
    script = root.find("s:script", ns).text
    for function in ("function zoom(", "function unzoom(", "function search(", "mouseover"):
        assert function in script
    groups = root.findall("s:g", ns)
    hash_group = next(g for g in groups if g.find("s:title", ns).text.startswith("hash "))
    assert (hash_group.get("data-start"), hash_group.get("data-samples"), hash_group.get("data-level")) == ("2", "8", "3")


def test_diff_svg_colours_growth_red_and_shrinkage_blue():
    before = [(("main", "work"), 10), (("main", "io"), 10)]
    after = [(("main", "work"), 18), (("main", "io"), 2)]
    root = ET.fromstring(diff_svg(before, after))
    ns = {"s": "http://www.w3.org/2000/svg"}
    fills = {g.find("s:title", ns).text.split(" (")[0]: (g.find("s:rect", ns).get("fill"), g.find("s:title", ns).text)
             for g in root.findall("s:g", ns)}
    assert fills["work"][0].startswith("rgb(255,") and "was 10, +8" in fills["work"][1]
    assert fills["io"][0].endswith(",255)") and "was 10, -8" in fills["io"][1]
    assert fills["main"][0] == "rgb(250,250,250)"


def test_speedscope_document():
    document = json.loads(speedscope(STACKS, name="demo"))
    names = [f["name"] for f in document["shared"]["frames"]]
    (profile,) = document["profiles"]
    assert profile["type"] == "sampled" and profile["endValue"] == 12
    stacks = sorted((tuple(names[i] for i in s), w) for s, w in zip(profile["samples"], profile["weights"]))
    assert stacks == sorted(parse_folded(fold(STACKS)))
