"""BCC's ``USDT`` contexts: ``USDT(pid=...)`` or ``USDT(path=...)``, ``enable_probe(probe,
fn_name)``, then ``BPF(text=..., usdt_contexts=[u])``. Each probe site gets a cookie; the
program's ``bpf_usdt_readarg(n, ctx, &v)`` reads argument ``n`` with the reader generated
for the site the cookie names (pybpf.usdt.c_reader), so sites whose arguments live in
different registers all read right.
"""

from __future__ import annotations

import os
import sys
import weakref
from typing import Any

from pybpf.bcc.usdt_listing import USDTProbe, probes_of
from pybpf.errors import PybpfError
from pybpf.usdt import UsdtError, UsdtProbe, c_reader, find_probe, read_probes


class USDTException(PybpfError):
    """A USDT probe that cannot be found or enabled."""


#: the live contexts, for :func:`enabled_site`
_CONTEXTS: weakref.WeakSet[USDT] = weakref.WeakSet()


def enabled_site(path: str, address: int) -> UsdtProbe | None:
    """The site at ELF virtual ``address`` of binary ``path`` of a probe a live context
    enabled, if one is there. BCC's ``enable_probe`` raises the probe's semaphore in the
    process at once, so a tool that attaches the sites itself with ``attach_uprobe(addr=)``
    (ustat, from ``enumerate_active_probes``) sees them fire; pybpf raises it with the
    uprobe instead (its reference counter), so ``attach_uprobe`` asks here."""
    real = os.path.realpath(path)
    for context in list(_CONTEXTS):
        for _, sites in context.enabled:
            for site in sites:
                if site.address == address and os.path.realpath(site.path) == real:
                    return site
    return None


class USDT:
    """The USDT probes of one process (``pid``) or binary (``path``)."""

    def __init__(self, pid: int | None = None, path: str | bytes | None = None) -> None:
        self.pid = pid
        self._path_given = bool(path)
        if path:
            self.path = os.fsdecode(path)
            if "/" not in self.path:
                from pybpf.symbols.ldcache import find_library

                self.path = find_library(self.path)
        elif pid:
            try:
                self.path = os.readlink(f"/proc/{pid}/exe")
            except OSError as exc:
                raise USDTException(f"USDT(pid={pid}): {exc.strerror}") from None
        else:
            raise USDTException("USDT() needs pid= or path=")
        self.enabled: list[tuple[str, list[UsdtProbe]]] = []  # (fn_name, sites)
        self._links: list[Any] = []
        self._first_cookie = 0
        _CONTEXTS.add(self)

    def _modules(self) -> list[str]:
        """The binaries this context's probes are in: its path, and for ``USDT(pid=)``
        without a path also every file the process maps (its libraries), as BCC's."""
        if not self.pid or self._path_given:
            return [self.path]
        from pybpf.symbols import SymbolError
        from pybpf.symbols.procmaps import read_maps

        try:
            mapped = [m.path for m in read_maps(self.pid) if m.is_file]
        except SymbolError:
            mapped = []
        return list(dict.fromkeys([self.path, *mapped]))

    def _sites(self, probe: str) -> list[UsdtProbe]:
        """The sites of ``[provider:]name`` in the first of the context's binaries that has it."""
        provider, _, name = probe.rpartition(":")
        try:
            return find_probe(self.path, name, provider or None)
        except UsdtError as exc:
            first_error = exc
        for module in self._modules()[1:]:
            try:
                return find_probe(module, name, provider or None)
            except UsdtError:
                continue
        libraries = f" nor in the {len(self._modules()) - 1} files process {self.pid} maps" if self.pid else ""
        raise USDTException(f"USDT probe {probe} in {self.path}: {first_error}{libraries}") from None

    def enable_probe(self, probe: str | bytes, fn_name: str | bytes) -> None:
        self.enabled.append((os.fsdecode(fn_name), self._sites(os.fsdecode(probe))))

    def enable_probe_or_bail(self, probe: str | bytes, fn_name: str | bytes) -> None:
        try:
            self.enable_probe(probe, fn_name)
        except USDTException as exc:
            print(exc, file=sys.stderr)
            sys.exit(1)

    def enumerate_active_probes(self) -> list[tuple[bytes, bytes, int, int]]:
        """``(binary, fn_name, address, pid)`` of every site of every enabled probe, as
        BCC's: ``address`` is the site's ELF virtual address, for ``attach_uprobe(name=binary,
        addr=address, fn_name=fn_name)``, which raises the probe's semaphore as the
        context's own attach does (:func:`enabled_site`)."""
        return [(os.fsencode(site.path), os.fsencode(fn_name), site.address, self.pid or -1)
                for fn_name, sites in self.enabled for site in sites]

    def enumerate_probes(self) -> list[USDTProbe]:
        """The probes of the context's binaries, as BCC lists them (:mod:`pybpf.bcc.usdt_listing`)."""
        try:
            sites = list(read_probes(self.path))
        except UsdtError as exc:
            raise USDTException(f"USDT probes of {self.path}: {exc}") from None
        for module in self._modules()[1:]:
            try:
                sites += read_probes(module)
            except UsdtError:
                continue               # a mapped file that is no ELF file (locale-archive...)
        return probes_of(sites)

    def get_probe_arg_ctype(self, probe_name: str, arg_index: int) -> str:
        """The C type of argument ``arg_index`` (from 0) of ``[provider:]probe_name``, as
        BCC names it from the note's size (``-4@...`` → ``int32_t``); trace.py declares
        the values it reads with it."""
        sites = self._sites(probe_name)
        if not 0 <= arg_index < len(sites[0].arguments):
            raise USDTException(f"USDT probe {probe_name} in {sites[0].path}: no argument {arg_index + 1} "
                                f"(it has {len(sites[0].arguments)})")
        argument = sites[0].arguments[arg_index]
        return f"{'' if argument.signed else 'u'}int{argument.size * 8}_t"

    def get_text(self, first_cookie: int = 0) -> str:
        """C readers for every enabled site, and ``bpf_usdt_readarg`` dispatching on the
        attach cookie (site numbers start at ``first_cookie``, for several contexts)."""
        self._first_cookie = first_cookie
        readers, cases = [], []
        cookie = first_cookie
        for _, sites in self.enabled:
            for site in sites:
                readers.append(c_reader(site, f"__bcc_usdt_site{cookie}"))
                cases.append(f"    case {cookie}: return __bcc_usdt_site{cookie}(regs, n - 1, value);\n")
                cookie += 1
        return ("".join(readers) + f"static __always_inline long __bcc_usdt_{first_cookie}(struct pt_regs *regs, "
                "int n, long *value)\n{\n    switch (bpf_get_attach_cookie(regs)) {\n" + "".join(cases)
                + "    default: return -2;\n    }\n}\n")

    def _attach(self, bpf: Any) -> None:
        from pybpf.kernel.attach import attach_usdt

        cookie = self._first_cookie
        for fn_name, sites in self.enabled:
            program = bpf.load_func(fn_name, bpf.KPROBE)
            first = sites[0]
            cookies = list(range(cookie, cookie + len(sites)))
            self._links.append(attach_usdt(program.fd, first.path, first.name, first.provider,
                                           pid=self.pid or -1, cookies=cookies))
            cookie += len(sites)

    def _detach(self) -> None:
        for link in self._links:
            link.close()
        self._links.clear()


def usdt_prelude(contexts: list[USDT]) -> str:
    """The readers of every context and ``bpf_usdt_readarg``/``bpf_usdt_readarg_p``."""
    parts, first = [], 0
    for context in contexts:
        parts.append(context.get_text(first))
        first += sum(len(sites) for _, sites in context.enabled)
    return ("".join(parts)
            + "static __always_inline long __bcc_usdt_readarg(int n, struct pt_regs *regs, long *value)\n"
            + "{\n    long r = -2;\n"
            + "".join(f"    if (r == -2) r = __bcc_usdt_{c._first_cookie}(regs, n, value);\n" for c in contexts)
            + "    return r;\n}\n"
            "#define bpf_usdt_readarg(n, ctx, addr) ({ long __bcc_v = 0; "
            "long __bcc_r = __bcc_usdt_readarg(n, (struct pt_regs *)(ctx), &__bcc_v); "
            "*(addr) = (typeof(*(addr)))__bcc_v; __bcc_r; })\n"
            "#define bpf_usdt_readarg_p(n, ctx, buf, len) ({ long __bcc_v = 0; "
            "__bcc_usdt_readarg(n, (struct pt_regs *)(ctx), &__bcc_v); "
            "bpf_probe_read_user(buf, len, (void *)__bcc_v); })\n")
