"""Naming addresses: kernel symbols, ELF symbols, process memory maps, JIT perf maps,
and shared-library lookup by short name.

Stack traces from ``bpf_get_stackid``/``bpf_get_stack`` and the profiler are lists of
addresses; uprobes need the file offset of a function. Both engines, the tools and the
output layer need this, and none of it needs the kernel's BPF support, so it is a
package of its own rather than part of ``pybpf.kernel``.
"""

from pybpf.symbols.elf import ElfSymbols
from pybpf.symbols.errors import SymbolError
from pybpf.symbols.kallsyms import KernelSymbols
from pybpf.symbols.ldcache import find_library, read_ld_cache
from pybpf.symbols.perfmap import read_perf_map
from pybpf.symbols.process import ElfCache, ProcessSymbols
from pybpf.symbols.procmaps import Mapping, mapping_at, parse_maps, read_maps
from pybpf.symbols.symbolizer import Symbolizer
from pybpf.symbols.table import Location, SymbolTable

__all__ = [
    "ElfCache",
    "ElfSymbols",
    "KernelSymbols",
    "Location",
    "Mapping",
    "ProcessSymbols",
    "SymbolError",
    "SymbolTable",
    "Symbolizer",
    "find_library",
    "mapping_at",
    "parse_maps",
    "read_ld_cache",
    "read_maps",
    "read_perf_map",
]
