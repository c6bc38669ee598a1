"""A C program with a five-argument <sys/sdt.h> probe whose operands take every form
gcc gives them (registers, stack memory, constants; different at -O0 and -O2), built
for the USDT tests of each front end (importable by name, like shared_data.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SDT_H = any(os.path.exists(f"{d}/sys/sdt.h") for d in ("/usr/include", "/usr/include/x86_64-linux-gnu"))
needs_sdt = pytest.mark.skipif(shutil.which("gcc") is None or not SDT_H,
                               reason="needs gcc and <sys/sdt.h> (systemtap-sdt-dev)")

SOURCE = r"""
#include <sys/sdt.h>
#include <unistd.h>
struct point { int x; short y; long z[3]; };
int main(void) {
  struct point pts[4];
  for (int i = 0; i < 4; i++) { pts[i].x = i * 10; pts[i].y = -i; pts[i].z[i % 3] = 1000 + i; }
  usleep(PAUSE);
  for (volatile int i = 0; i < 4; i++)
    STAP_PROBE5(PROVIDER, sample, pts[i].x, pts[i].y, pts[i].z[i % 3], 42, (unsigned char)(200 + i));
  return 0;
}
"""
#: the probe's arguments at each of its four firings
FIRINGS = [(i * 10, -i, 1000 + i, 42, 200 + i) for i in range(4)]


def build(directory: str | Path, provider: str, optimisation: str = "-O0", pause_us: int = 100_000) -> str:
    """Compile the program with probe ``provider:sample`` (firing after ``pause_us``) into
    ``directory``; its path."""
    source, binary = os.path.join(directory, "sdt.c"), os.path.join(directory, "sdt")
    Path(source).write_text(SOURCE.replace("PROVIDER", provider).replace("PAUSE", str(pause_us)))
    subprocess.run(["gcc", optimisation, "-o", binary, source], check=True)
    return binary
