"""bcc.table: BCC's table classes and histogram helpers."""

from pybpf.bcc.table import ArrayTable as Array
from pybpf.bcc.table import EventTable as PerfEventArray
from pybpf.bcc.table import EventTable as RingBuf
from pybpf.bcc.table import PerCpuArray, PerCpuHash, QueueStack, StackTrace, Table
from pybpf.bcc.table import Table as HashTable
from pybpf.bcc.table import Table as TableBase

__all__ = ["Array", "HashTable", "PerCpuArray", "PerCpuHash", "PerfEventArray", "QueueStack", "RingBuf",
           "StackTrace", "Table", "TableBase"]
