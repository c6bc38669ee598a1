"""Where the repository and ../shared are, for tests (importable by name from any test
directory, unlike the several conftest.py files)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: ../shared beside the clone (the conformance suite and libpcap's tests, as data)
SHARED = Path(os.environ.get("PYBPF_SHARED", REPO.parent / "shared"))


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test saying it is absent (a user's clone)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent: shared test data is only beside the project's CI clone")
    return path
