"""The Linux engine: bpf() through ctypes, maps, programs, pins, info and probing.

Layers, thin to thick: :mod:`~pybpf.kernel.syscall` (the system call and its errors),
:mod:`~pybpf.kernel.attrs` (bpf.h's structures), :mod:`~pybpf.kernel.fds` (calls on bare
fds: create a map's, pin one, open a pin), :mod:`~pybpf.kernel.maps` and
:mod:`~pybpf.kernel.programs` (objects that own their fds and implement the shared
:mod:`pybpf.engine` API), :mod:`~pybpf.kernel.engine` (what :func:`pybpf.engine.load`
calls). Nothing here imports :mod:`pybpf.vm`.
"""
