"""Where the repository and its vendored test data are, for tests (importable by name
from any test directory, unlike the several conftest.py files).

The data the suite needs (the eBPF conformance suite, libpcap's filter tests and
captures, the reproducers of past bugs) lives in tests/data with its licences, so a
fresh clone tests itself. A missing file is an error, never a skip: a suite that
quietly runs without its reference data proves nothing.
"""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: the vendored test data (see tests/data/README.md); the name is kept from when it was ../shared
SHARED = REPO / "tests" / "data"


class MissingTestData(RuntimeError):
    """Vendored test data is absent: the clone is incomplete."""


def shared_path(*parts: str) -> Path:
    """A path under tests/data; raises when it is absent (an incomplete checkout)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        raise MissingTestData(f"{path} is missing: tests/data is incomplete (the suite needs it; see tests/data/README.md)")
    return path


def shared_files(*parts: str, pattern: str = "*.data") -> list[Path]:
    """The files matching ``pattern`` in a tests/data directory, sorted; raises when there
    are none, so that collection fails loudly instead of parametrizing nothing."""
    found = sorted(shared_path(*parts).glob(pattern))
    if not found:
        raise MissingTestData(f"{SHARED.joinpath(*parts)} holds no {pattern}: tests/data is incomplete")
    return found
