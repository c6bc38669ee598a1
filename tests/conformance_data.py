"""Reading the conformance suite's .data files (sections introduced by ``-- name``)."""

from __future__ import annotations

from pathlib import Path


def sections(path: Path) -> dict[str, str]:
    """Section name → text; lines before the first section (the licence) are dropped."""
    out: dict[str, str] = {}
    current = None
    for line in path.read_text().splitlines(keepends=True):
        if line.startswith("-- "):
            current = line[3:].strip()
            out[current] = ""
        elif current is not None:
            out[current] += line
    return out


def raw_bytes(text: str) -> bytes:
    """A ``-- raw`` section: either one 64-bit instruction per line as a hex number
    (``0x0000000000000095``) or the bytes themselves (``95 00 00 00 00 00 00 00``)."""
    words = text.split()
    if words and words[0].lower().startswith("0x"):
        return b"".join(int(word, 16).to_bytes(8, "little") for word in words)
    return bytes.fromhex("".join(words))
