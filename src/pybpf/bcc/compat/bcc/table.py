"""bcc.table: BCC's table classes and histogram helpers."""

from pybpf.bcc.table import ArrayTable as Array, PerCpuArray, PerCpuHash, QueueStack, StackTrace, Table
from pybpf.bcc.table import Table as HashTable, Table as TableBase, EventTable as PerfEventArray, EventTable as RingBuf

__all__ = ["Array", "HashTable", "PerCpuArray", "PerCpuHash", "PerfEventArray", "QueueStack", "RingBuf",
           "StackTrace", "Table", "TableBase"]
