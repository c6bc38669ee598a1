"""Stack samples as flame graphs: the folded text format (``main;f;g 12``) that
flamegraph.pl, speedscope and inferno read, and a self-contained SVG.

Stacks are given root first (outermost caller first), each with a count; identical
stacks merge. The SVG lays frames out as a tree: the width of a frame is its share of
the samples, children sit on their parent, siblings are sorted by name (as flame graphs
do, so the picture does not depend on sampling order). Each frame carries a tooltip with
its sample count and percentage.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from pybpf.output.errors import OutputError

_FRAME_HEIGHT = 16
_FONT_SIZE = 12
_CHAR_WIDTH = 0.59 * _FONT_SIZE   # an average glyph, to decide whether a label fits
_MARGIN = 10
_TITLE_SPACE = 30


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


@dataclass
class _Node:
    name: str
    total: int = 0
    children: dict[str, "_Node"] = field(default_factory=dict)


def _tree(stacks: Iterable[tuple[Sequence[str], int]]) -> _Node:
    root = _Node("all")
    for frames, count in stacks:
        root.total += count
        node = root
        for frame in frames:
            node = node.children.setdefault(frame, _Node(frame))
            node.total += count
    return root


def _color(name: str) -> str:
    """A warm colour chosen by the name, so a function keeps its colour across graphs."""
    digest = hashlib.blake2b(name.encode(), digest_size=3).digest()
    return f"rgb({205 + digest[0] % 50},{digest[1] % 230},{digest[2] % 55})"


def svg(stacks: Iterable[tuple[Sequence[str], int]], *, title: str = "Flame Graph", width: int = 1200,
        min_width: float = 0.1) -> str:
    """A flame graph as an SVG document (no scripts; hover a frame for its numbers)."""
    root = _tree(stacks)
    depth = _depth(root)
    height = _TITLE_SPACE + (depth + 1) * _FRAME_HEIGHT + 2 * _MARGIN
    scale = (width - 2 * _MARGIN) / root.total if root.total else 0.0
    parts = [
        f'<?xml version="1.0" standalone="no"?>\n'
        f'<svg version="1.1" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">\n'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#f8f8f8"/>\n'
        f'<text x="{width / 2}" y="{_MARGIN + _FONT_SIZE + 4}" font-size="{_FONT_SIZE + 5}" '
        f'font-family="Verdana" text-anchor="middle">{escape(title)}</text>\n'
    ]

    def draw(node: _Node, x: float, level: int) -> None:
        w = node.total * scale
        if w < min_width:
            return
        y = height - _MARGIN - (level + 1) * _FRAME_HEIGHT
        share = 100.0 * node.total / root.total
        label = escape(node.name)
        parts.append(
            f'<g><title>{label} ({node.total} samples, {share:.2f}%)</title>'
            f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{_FRAME_HEIGHT - 1}" '
            f'fill="{_color(node.name)}" rx="2" ry="2"/>'
        )
        fits = int((w - 6) / _CHAR_WIDTH)
        if fits >= 3:
            text = node.name if len(node.name) <= fits else node.name[:fits - 2] + ".."
            parts.append(f'<text x="{x + 3:.2f}" y="{y + _FRAME_HEIGHT - 4}" font-size="{_FONT_SIZE}" '
                         f'font-family="Verdana">{escape(text)}</text>')
        parts.append("</g>\n")
        child_x = x
        for name in sorted(node.children):
            child = node.children[name]
            draw(child, child_x, level + 1)
            child_x += child.total * scale

    if root.total:
        draw(root, _MARGIN, 0)
    parts.append("</svg>\n")
    return "".join(parts)


def _depth(node: _Node) -> int:
    return 1 + max((_depth(child) for child in node.children.values()), default=0) if node.children else 0
