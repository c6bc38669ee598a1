"""GPL-only helpers: under a licence that is not GPL-compatible the kernel refuses them
(per program type: src/pybpf/verifier/gpl_helpers.py, generated from the running
kernel); pybpf's verifier gives the same verdict and message, through the vm engine too."""

from __future__ import annotations

import errno
import platform
import subprocess
import sys
from pathlib import Path

import pytest

import pybpf
from pybpf.isa import assemble
from pybpf.object import CollectionSpec, ProgramSpec
from pybpf.verifier import verify
from pybpf.verifier.gpl_helpers import GPL_ONLY, KERNELS

ROOT = Path(__file__).resolve().parents[2]
MESSAGE = "cannot call GPL-restricted function from non-GPL compatible program"
READ = "r1 = r10\nr1 += -8\nr2 = 8\nr3 = 0\ncall bpf_probe_read_kernel\nr0 = 0\nexit"
PRINTK = "*(u64 *)(r10 -8) = 0\nr1 = r10\nr1 += -8\nr2 = 8\ncall bpf_trace_printk\nr0 = 0\nexit"
PRANDOM = "call bpf_get_prandom_u32\nr0 = 0\nexit"

CASES = [  # program type, text, licence, refused
    ("kprobe", READ, "Proprietary", True),
    ("kprobe", READ, "Dual BSD/GPL", False),
    ("kprobe", READ, "GPL v2", False),
    ("socket_filter", PRINTK, "MIT", True),
    ("xdp", PRINTK, "GPL", False),
    ("xdp", PRANDOM, "Proprietary", False),
]


def _ours(kind: str, text: str, license: str) -> tuple[bool, str, int]:
    verdict = verify(assemble(text), kind, license=license)
    return verdict.accepted, verdict.message, verdict.errno


@pytest.mark.parametrize("kind, text, license, refused", CASES)
def test_gpl_only_helpers_need_a_gpl_compatible_licence(kind, text, license, refused):
    expected = (False, MESSAGE, errno.EINVAL) if refused else (True, "", 0)
    assert _ours(kind, text, license) == expected


def test_the_vm_engine_refuses_as_the_kernel_would():
    spec = CollectionSpec({}, {"p": ProgramSpec("p", "kprobe", assemble(READ), license="Proprietary")})
    with pytest.raises(pybpf.VerifierError, match="GPL-restricted"):
        pybpf.load(spec, engine="vm")


def test_the_kernel_agrees():
    from pybpf.engine import BPFError
    from pybpf.kernel.engine import available
    from pybpf.kernel.programs import load_program

    why = available()
    if why is not None:
        pytest.skip(f"the kernel's verifier is not available: {why}")
    for kind, text, license, _ in CASES:
        try:
            load_program(ProgramSpec("gpl", kind, assemble(text), license=license)).close()
            theirs = (True, "")
        except BPFError as exc:
            theirs = (False, MESSAGE if MESSAGE in str(exc) else str(exc))
        assert theirs == _ours(kind, text, license)[:2], (kind, license)
    assert GPL_ONLY["kprobe"] > GPL_ONLY["socket_filter"]


def test_the_table_matches_the_running_kernel():
    """The generator, run again (as root), writes the same table."""
    from pybpf.kernel.engine import available

    why = available()
    if why is not None:
        pytest.skip(f"the kernel's verifier is not available: {why}")
    if platform.release() not in KERNELS:
        pytest.skip(f"the table was made on kernels {', '.join(KERNELS)}, this is {platform.release()}")
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "gpl_only_helpers.py"), "--check"],
                          capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 0, done.stdout + done.stderr
