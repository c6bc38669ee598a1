"""``import bcc`` under ``python -m pybpf.bcc``: BCC's module names served by pybpf.bcc.
This directory is put on ``sys.path`` only for that run (see pybpf.bcc.__main__)."""

from bcc.libbcc import lib
from bcc.utils import ArgString, StrcmpRewrite, printb

from bcc import tcp
from pybpf.bcc.bpf import BPF, BccError
from pybpf.bcc.usdt import USDT, USDTException
from pybpf.object import AttachType as BPFAttachType  # enum bpf_attach_type, BCC's names


class PerfType:
    """perf_event_attr.type values, as bcc.PerfType."""

    HARDWARE = 0
    SOFTWARE = 1


class PerfHWConfig:
    CPU_CYCLES = 0
    INSTRUCTIONS = 1
    CACHE_REFERENCES = 2
    CACHE_MISSES = 3
    BRANCH_INSTRUCTIONS = 4
    BRANCH_MISSES = 5


class PerfSWConfig:
    CPU_CLOCK = 0
    TASK_CLOCK = 1
    PAGE_FAULTS = 2
    CONTEXT_SWITCHES = 3
    CPU_MIGRATIONS = 4
    PAGE_FAULTS_MIN = 5
    PAGE_FAULTS_MAJ = 6


DEBUG_LLVM_IR, DEBUG_BPF, DEBUG_PREPROCESSOR, DEBUG_SOURCE = 0x1, 0x2, 0x4, 0x8
DEBUG_BPF_REGISTER_STATE, DEBUG_BTF = 0x10, 0x20

__all__ = ["BPF", "USDT", "BPFAttachType", "lib", "ArgString", "BccError", "PerfHWConfig", "PerfSWConfig", "PerfType", "StrcmpRewrite", "USDTException", "printb",
           "tcp"]
