"""Stack samples as flame graphs: the folded text format (``main;f;g 12``) that
flamegraph.pl, speedscope and inferno read, a self-contained interactive SVG,
differential flame graphs, and speedscope's JSON.

Stacks are given root first (outermost caller first), each with a count; identical
stacks merge. The SVG lays frames out as a tree: the width of a frame is its share of
the samples, children sit on their parent, siblings are sorted by name (as flame graphs
do, so the picture does not depend on sampling order). Each frame carries a tooltip with
its sample count and percentage; a small embedded script (as flamegraph.pl's) shows a
frame's details on hover, zooms into a frame on click (its ancestors stay, greyed, to
click back out; "Reset Zoom" or Escape returns), and searches frames by regular
expression ("Search" or Ctrl-F), highlighting matches and printing their share.

A differential graph (:func:`diff_svg`) draws the second profile's shape and colours each
frame by how its count changed from the first: red where it grew, blue where it shrank,
the deeper the colour the larger the change — flamegraph.pl's difffolded view.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

from pybpf.output.errors import OutputError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass, field
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass, field

_FRAME_HEIGHT = 16
_FONT_SIZE = 12
_CHAR_WIDTH = 0.59 * _FONT_SIZE   # an average glyph, to decide whether a label fits
_MARGIN = 10
_TITLE_SPACE = 30
_DETAILS_SPACE = 18


def fold(stacks: Iterable[tuple[Sequence[str], int]]) -> str:
    """Folded text: one ``frame;frame;frame count`` line per distinct stack, sorted."""
    merged: Counter[tuple[str, ...]] = Counter()
    for frames, count in stacks:
        merged[tuple(frames)] += count
    return "".join(f"{';'.join(frame.replace(';', ':') for frame in frames)} {count}\n"
                   for frames, count in sorted(merged.items()) if frames and count)


def parse_folded(text: str) -> list[tuple[tuple[str, ...], int]]:
    """Read folded text back (what other profilers write, too)."""
    stacks = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            raise OutputError(f"folded stacks line {lineno}: expected 'frame;frame;... COUNT', got {line!r}")
        stacks.append((tuple(stack.split(";")), int(count)))
    return stacks



def speedscope(stacks: Iterable[tuple[Sequence[str], int]], *, name: str = "pybpf profile") -> str:
    """Speedscope's file format (one "sampled" profile, frames shared by index)."""
    frames: dict[str, int] = {}
    samples, weights = [], []
    for stack, count in parse_folded(fold(stacks)):
        samples.append([frames.setdefault(frame, len(frames)) for frame in stack])
        weights.append(count)
    return json.dumps({
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": {"frames": [{"name": frame} for frame in frames]},
        "profiles": [{"type": "sampled", "name": name, "unit": "none", "startValue": 0,
                      "endValue": sum(weights), "samples": samples, "weights": weights}],
        "name": name, "exporter": "pybpf", "activeProfileIndex": 0,
    })


@dataclass
class _Node:
    name: str
    total: int = 0
    before: int = 0
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(stacks: Iterable[tuple[Sequence[str], int]], root: _Node | None = None, *, before: bool = False) -> _Node:
    """Stacks merged into a tree of frames; ``before`` adds to the comparison counts."""
    root = root or _Node("all")
    for frames, count in stacks:
        node = root
        for frame in ("", *frames):
            if frame:
                node = node.children.setdefault(frame, _Node(frame))
            if before:
                node.before += count
            else:
                node.total += count
    return root


def _color(name: str) -> str:
    """A warm colour chosen by the name, so a function keeps its colour across graphs."""
    digest = hashlib.blake2b(name.encode(), digest_size=3).digest()
    return f"rgb({205 + digest[0] % 50},{digest[1] % 230},{digest[2] % 55})"


def _diff_color(node: _Node, root: _Node) -> str:
    """Red for growth, blue for shrinkage, white for no change (shares of each profile)."""
    now = node.total / root.total if root.total else 0.0
    then = node.before / root.before if root.before else 0.0
    delta = now - then
    strength = min(1.0, abs(delta) * 5)   # a 20-point change of share is full colour
    fade = int(255 - 165 * strength)
    return f"rgb(255,{fade},{fade})" if delta > 0 else f"rgb({fade},{fade},255)" if delta < 0 else "rgb(250,250,250)"


def svg(stacks: Iterable[tuple[Sequence[str], int]], *, title: str = "Flame Graph", width: int = 1200,
        min_width: float = 0.1) -> str:
    """A flame graph as an interactive SVG document (hover, click to zoom, search)."""
    return _render(_tree(stacks), title, width, min_width, differential=False)


def diff_svg(before: Iterable[tuple[Sequence[str], int]], after: Iterable[tuple[Sequence[str], int]], *,
             title: str = "Differential Flame Graph", width: int = 1200, min_width: float = 0.1) -> str:
    """A differential flame graph: ``after``'s shape, coloured by the change from ``before``."""
    return _render(_tree(before, _tree(after), before=True), title, width, min_width, differential=True)


def _render(root: _Node, title: str, width: int, min_width: float, *, differential: bool) -> str:
    depth = _depth(root)
    height = _TITLE_SPACE + (depth + 1) * _FRAME_HEIGHT + 2 * _MARGIN + _DETAILS_SPACE
    scale = (width - 2 * _MARGIN) / root.total if root.total else 0.0
    parts = [
        f'<?xml version="1.0" standalone="no"?>\n'
        f'<svg version="1.1" width="{width}" height="{height}" onload="init(evt)" '
        f'xmlns="http://www.w3.org/2000/svg" data-samples="{root.total}">\n'
        f'<style>text {{ font-family: Verdana; font-size: {_FONT_SIZE}px; }} '
        f'.frame:hover rect {{ stroke: black; stroke-width: 0.5; cursor: pointer; }} .hidden {{ display: none; }} '
        f'.button {{ cursor: pointer; }}</style>\n'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f8f8f8"/>\n'
        f'<text x="{width / 2}" y="{_MARGIN + _FONT_SIZE + 4}" font-size="{_FONT_SIZE + 5}" '
        f'text-anchor="middle">{escape(title)}</text>\n'
        f'<text id="unzoom" class="button hidden" x="{_MARGIN}" y="{_MARGIN + _FONT_SIZE + 4}">Reset Zoom</text>\n'
        f'<text id="search" class="button" x="{width - _MARGIN - 110}" y="{_MARGIN + _FONT_SIZE + 4}">Search</text>\n'
        f'<text id="matched" x="{width - _MARGIN - 110}" y="{height - _MARGIN}"> </text>\n'
        f'<text id="details" x="{_MARGIN}" y="{height - _MARGIN}"> </text>\n'
    ]
    bottom = height - _MARGIN - _DETAILS_SPACE

    def draw(node: _Node, start: int, level: int) -> None:
        w = node.total * scale
        if w < min_width:
            return
        y = bottom - (level + 1) * _FRAME_HEIGHT
        share = 100.0 * node.total / root.total
        info = f"{node.total} samples, {share:.2f}%"
        if differential:
            info += f"; was {node.before}, {node.total - node.before:+d}"
        color = _diff_color(node, root) if differential else _color(node.name)
        label = escape(node.name)
        parts.append(
            f'<g class="frame" data-start="{start}" data-samples="{node.total}" data-level="{level}">'
            f'<title>{label} ({info})</title>'
            f'<rect x="{_MARGIN + start * scale:.2f}" y="{y}" width="{w:.2f}" height="{_FRAME_HEIGHT - 1}" '
            f'fill="{color}" rx="2" ry="2"/>'
            f'<text x="{_MARGIN + start * scale + 3:.2f}" y="{y + _FRAME_HEIGHT - 4}">{escape(_fit(node.name, w))}</text>'
            "</g>\n"
        )
        child_start = start
        for name in sorted(node.children):
            child = node.children[name]
            draw(child, child_start, level + 1)
            child_start += child.total

    if root.total:
        draw(root, 0, 0)
    parts.append(f"<script><![CDATA[\nvar MARGIN = {_MARGIN}, CHAR_WIDTH = {_CHAR_WIDTH};\n{_SCRIPT}]]></script>\n</svg>\n")
    return "".join(parts)


def _fit(name: str, width: float) -> str:
    """The label that fits a frame ``width`` pixels wide ("" when not even 3 characters do)."""
    fits = int((width - 6) / _CHAR_WIDTH)
    if fits < 3:
        return ""
    return name if len(name) <= fits else name[:fits - 2] + ".."


def _depth(node: _Node) -> int:
    return 1 + max((_depth(child) for child in node.children.values()), default=0) if node.children else 0


# The page's behaviour. Frames carry their place in samples (data-start, data-samples,
# data-level); zooming maps a frame's sample range onto the full width.
_SCRIPT = r"""
var svg, frames, details, matched, unzoomButton, total, fullWidth, searching = null, zoomed = null;
function init(evt) {
    svg = document.documentElement.tagName == "svg" ? document.documentElement : document.querySelector("svg");
    frames = Array.prototype.slice.call(svg.querySelectorAll("g.frame"));
    details = svg.getElementById ? svg.getElementById("details") : document.getElementById("details");
    matched = document.getElementById("matched");
    unzoomButton = document.getElementById("unzoom");
    total = +svg.getAttribute("data-samples");
    fullWidth = +svg.getAttribute("width") - 2 * MARGIN;
    frames.forEach(function (g) {
        g.addEventListener("click", function () { zoom(g); });
        g.addEventListener("mouseover", function () { details.textContent = g.querySelector("title").textContent; });
        g.addEventListener("mouseout", function () { details.textContent = " "; });
    });
    unzoomButton.addEventListener("click", unzoom);
    document.getElementById("search").addEventListener("click", searchPrompt);
    window.addEventListener("keydown", function (e) {
        if (e.keyCode === 114 || ((e.ctrlKey || e.metaKey) && e.keyCode === 70)) { e.preventDefault(); searchPrompt(); }
        else if (e.keyCode === 27) { unzoom(); }
    });
}
function place(g, x, w) {
    var rect = g.querySelector("rect"), text = g.querySelector("text");
    rect.setAttribute("x", x.toFixed(2));
    rect.setAttribute("width", w.toFixed(2));
    text.setAttribute("x", (x + 3).toFixed(2));
    var name = g.querySelector("title").textContent.replace(/ \([^(]*\)$/, "");
    var fits = Math.floor((w - 6) / CHAR_WIDTH);
    text.textContent = fits < 3 ? "" : (name.length <= fits ? name : name.slice(0, fits - 2) + "..");
}
function zoom(target) {
    var start = +target.getAttribute("data-start"), samples = +target.getAttribute("data-samples");
    var level = +target.getAttribute("data-level"), scale = fullWidth / samples;
    zoomed = target;
    frames.forEach(function (g) {
        var s = +g.getAttribute("data-start"), n = +g.getAttribute("data-samples"), l = +g.getAttribute("data-level");
        if (l < level && s <= start && s + n >= start + samples) {          // an ancestor: full width, greyed
            place(g, MARGIN, fullWidth);
            g.setAttribute("opacity", "0.5");
            g.classList.remove("hidden");
        } else if (l >= level && s >= start && s + n <= start + samples) { // inside the zoomed frame
            place(g, MARGIN + (s - start) * scale, n * scale);
            g.removeAttribute("opacity");
            g.classList.toggle("hidden", n * scale < 0.1);
        } else {
            g.classList.add("hidden");
        }
    });
    unzoomButton.classList.remove("hidden");
}
function unzoom() {
    zoomed = null;
    var scale = fullWidth / total;
    frames.forEach(function (g) {
        place(g, MARGIN + (+g.getAttribute("data-start")) * scale, (+g.getAttribute("data-samples")) * scale);
        g.removeAttribute("opacity");
        g.classList.remove("hidden");
    });
    unzoomButton.classList.add("hidden");
}
function searchPrompt() {
    if (searching) { search(null); return; }
    var term = window.prompt("Search for (regular expression):", "");
    if (term) search(term);
}
function search(term) {
    searching = term;
    var re = term ? new RegExp(term) : null, spans = [];
    frames.forEach(function (g) {
        var rect = g.querySelector("rect"), name = g.querySelector("title").textContent.replace(/ \([^(]*\)$/, "");
        if (!rect.hasAttribute("data-fill")) rect.setAttribute("data-fill", rect.getAttribute("fill"));
        var hit = re !== null && re.test(name);
        rect.setAttribute("fill", hit ? "rgb(230,0,230)" : rect.getAttribute("data-fill"));
        if (hit) spans.push([+g.getAttribute("data-start"), +g.getAttribute("data-samples")]);
    });
    // a match inside another match is not counted twice
    spans.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
    var covered = 0, end = -1;
    spans.forEach(function (s) { if (s[0] >= end) { covered += s[1]; end = s[0] + s[1]; } });
    matched.textContent = re ? "Matched: " + (total ? (100 * covered / total).toFixed(1) : "0.0") + "%" : " ";
    document.getElementById("search").textContent = re ? "Reset Search" : "Search";
}
"""
