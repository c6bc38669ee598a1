"""A Python script that calls a uniquely named function in a loop, run by Debian's
/usr/bin/python3.11 (built with USDT probes): what the USDT tests of the trace language
(tests/trace) and the Python tools (tests/tools) watch. Import it by name, as
shared_data."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

PYTHON = "/usr/bin/python3.11"

#: the skip marks of a test of such a script
MARKS = [pytest.mark.skipif(os.geteuid() != 0, reason="tracing needs root"),
         pytest.mark.skipif(not Path(PYTHON).exists(), reason=f"{PYTHON} (with USDT probes) is not installed")]

SCRIPT = """
import time
def {function}(x):
    return x + 1
end = time.time() + 60
while time.time() < end:
    {function}(1)
    time.sleep({period})
"""


@contextlib.contextmanager
def python_script(path: Path, function: str, period: float) -> Iterator[tuple[subprocess.Popen, str]]:
    """Runs a script at ``path`` calling ``function`` (on line 4 of it) every ``period``
    seconds for up to a minute: the process and the script's path, killed at the end."""
    path.write_text(SCRIPT.format(function=function, period=period))
    process = subprocess.Popen([PYTHON, str(path)])
    try:
        yield process, str(path)
    finally:
        process.kill()
        process.wait()
