"""Fixtures for the object tests that compile C: ``build`` compiles with the clang in
the ziglang wheel (through pybpf.toolchain, cached), ``build14`` with Debian's clang-14;
each skips, saying why, when its compiler cannot run here. ``kernel`` skips unless
bpf() is permitted."""

from __future__ import annotations

import shutil

import pytest

from pybpf.toolchain import CompileError, compile_c


def _builder(clang: str | None):
    def build(source: str) -> bytes:
        try:
            return compile_c(source, clang=clang)
        except CompileError as exc:
            if "cannot run the compiler" in str(exc):
                pytest.skip(f"{clang or 'the ziglang clang'} cannot run here: {exc}")
            raise
    return build


@pytest.fixture(scope="session")
def build():
    """Compile C source text to a BPF object with the ziglang clang."""
    return _builder(None)


@pytest.fixture(scope="session")
def build14():
    """Compile C source text with Debian's clang-14 (``clang-14 -target bpf -O2 -g -c``)."""
    if shutil.which("clang-14") is None:
        pytest.skip("clang-14 is not installed (apt-get install clang-14)")
    return _builder("clang-14")


@pytest.fixture(scope="session")
def kernel():
    """Skip unless this process may use bpf()."""
    from pybpf.kernel.engine import available

    reason = available()
    if reason:
        pytest.skip(f"bpf() is not permitted here: {reason}")


@pytest.fixture(scope="session")
def vmlinux():
    """The running kernel's BTF; skip where there is none."""
    from pybpf.btf import BTF

    try:
        return BTF.load()
    except Exception as exc:  # noqa: BLE001 - any reason the kernel has no BTF is a skip
        pytest.skip(f"no kernel BTF here: {exc}")
