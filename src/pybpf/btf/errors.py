"""The error of malformed BTF, in a module of its own: the ELF loader catches it for every
object, and an object without ``.BTF`` is read without the BTF reader
(:mod:`pybpf.btf.parse`, with its type table: ~1.5 ms of ``pybpf load``)."""

from __future__ import annotations

from pybpf.errors import PybpfError


class BTFError(PybpfError):
    """Malformed BTF: names the byte offset and what is wrong."""
