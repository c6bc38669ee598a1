"""The ``pybpf filter`` application: a pcap-filter expression applied to capture files at
memory speed. ``pybpf.cli.filter`` parses the command line and calls into these modules:

- :mod:`.programs` — compiled expressions (and their eBPF translations) kept in the disk
  cache (:mod:`pybpf.cache`), so a repeated command imports neither compiler nor translator;
- :mod:`.matcher` — one compiled program per link type, run through the vm JIT's public
  batch entry (:class:`~pybpf.vm.jit.CompiledProgram`), the classic interpreter where the
  JIT cannot be used or a packet's wire length matters;
- :mod:`.walker` — the native loops that walk, filter and gather classic pcap records;
- :mod:`.batch` — records in batches found by the walker, and the threaded walk-filter-
  gather of a whole file (:meth:`~.batch.RecordBatches.filtered`);
- :mod:`.sinks` — matching packets printed or saved; :mod:`.progress` — the progress line;
- :mod:`.run` — the runs themselves: a file filtered, a live capture, a program for ``-d``.

Nothing is imported here (the command line imports this package to build its parser):
``pybpf filter`` loads only the modules a run needs.
"""

#: tcpdump's default snapshot length
DEFAULT_SNAPLEN = 262144
