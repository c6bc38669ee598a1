"""Names in filter expressions, looked up as libpcap looks them up on Linux with glibc:

- host names (``host NAME``, ``gateway NAME``): :data:`resolver`, by default the system
  resolver (``getaddrinfo``: /etc/hosts, then DNS, as nsswitch.conf says), after the
  hosts file named by ``PYBPF_HOSTS`` if that is set;
- Ethernet host names (``ether host NAME``, ``link src NAME``, ``gateway NAME``): the
  ethers database, ethers(5): /etc/ethers, or the file :data:`ethers_path` or the
  environment variable ``PYBPF_ETHERS`` names;
- network names (``net NAME``): the networks database, networks(5): /etc/networks, or
  the file :data:`networks_path` or ``PYBPF_NETWORKS`` names.

Names compare case-insensitively and the first matching ethers/networks line wins, as
in glibc. Files are read when a name is first looked up and again when they change.

The three module-level settings are the hooks: a program (or a test suite) that wants
names resolved from its own files sets them, e.g.::

    from pybpf.filter import resolver
    resolver.resolver = resolver.HostsFile("tests/hosts")      # no DNS
    resolver.ethers_path = "tests/ethers"
"""

from __future__ import annotations

import os

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    import ipaddress
    from collections.abc import Callable, Sequence

    Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def __getattr__(name: str) -> object:
    """``Address`` (the type of an address), made on first use: ipaddress is imported where
    an address is made (~1.5 ms of every compilation, which ``udp`` does not need)."""
    if name == "Address":
        import ipaddress

        return ipaddress.IPv4Address | ipaddress.IPv6Address
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

#: ``name -> addresses`` for host names (IPv4 and IPv6, in the resolver's order; empty:
#: unknown). Swap it to resolve names otherwise (see :class:`HostsFile`).
resolver: Callable[[str], Sequence[Address]]

#: the ethers file; None: ``$PYBPF_ETHERS``, else /etc/ethers
ethers_path: str | os.PathLike | None = None
#: the networks file; None: ``$PYBPF_NETWORKS``, else /etc/networks
networks_path: str | os.PathLike | None = None

#: names looked up so far (host, Ethernet and network names): a compilation during which
#: it grew depends on answers that may change between runs (pybpf.pcapfilter.programs
#: does not keep it)
lookups = 0


def _counted() -> None:
    global lookups
    lookups += 1


# ---- host names -------------------------------------------------------------------------
def system_resolver(name: str) -> list[Address]:
    """The addresses ``getaddrinfo`` gives for ``name`` (libpcap's
    ``pcap_nametoaddrinfo``: any family, TCP, no flags)."""
    import ipaddress
    import socket  # for host names only: socket.py is ~3 ms of every filter's start

    try:
        infos = socket.getaddrinfo(name, None, socket.AF_UNSPEC, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        return []
    found: dict[Address, None] = {}
    for family, _, _, _, sockaddr in infos:
        if family == socket.AF_INET:
            found[ipaddress.IPv4Address(sockaddr[0])] = None
        elif family == socket.AF_INET6:
            found[ipaddress.IPv6Address(str(sockaddr[0]).split("%")[0])] = None
    return list(found)


class HostsFile:
    """A resolver reading a hosts(5) file: ``ADDRESS NAME [ALIAS...]`` lines, ``#``
    comments; every line naming the host counts (glibc's getaddrinfo does the same),
    names compare case-insensitively. Names the file does not know go to ``fallback``
    (another resolver, or None: unknown)."""

    def __init__(self, path: str | os.PathLike,
                 fallback: Callable[[str], Sequence[Address]] | None = None):
        from pathlib import Path  # (pathlib, with urllib.parse: ~2 ms of every compile; a Path for callers)

        self.path = Path(path)
        self.fallback = fallback
        self._cache = _FileCache(self.path, parse_hosts)

    def __call__(self, name: str) -> list[Address]:
        found = self._cache.get().get(_fold(name))
        if found:
            return list(found)
        return list(self.fallback(name)) if self.fallback else []


def parse_hosts(text: str) -> dict[str, list[Address]]:
    """hosts(5) text as {lower-case name: addresses in file order}; lines whose first
    field is not an IP address are skipped."""
    import ipaddress

    table: dict[str, list[Address]] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        try:
            address = ipaddress.ip_address(fields[0].split("%")[0])
        except ValueError:
            continue
        for name in fields[1:]:
            addresses = table.setdefault(_fold(name), [])
            if address not in addresses:
                addresses.append(address)
    return table


def _default_resolver(name: str) -> list[Address]:
    hosts = os.environ.get("PYBPF_HOSTS")
    if hosts:
        found = _hosts_file(hosts).get(_fold(name))
        if found:
            return list(found)
    return system_resolver(name)


resolver = _default_resolver


def host_addresses(name: str) -> list[Address]:
    """``name``'s IPv4 and IPv6 addresses through :data:`resolver` (empty: unknown)."""
    _counted()
    return list(resolver(name))


# ---- Ethernet host names ----------------------------------------------------------------
def parse_mac(text: str) -> bytes | None:
    """A MAC address in one of the spellings ethers files and pcap-filter use: six
    groups of 1-2 hex digits separated by ``:``, ``-`` or ``.`` (``0:1b:2c:3:4:5``),
    three groups of 4 separated by ``.`` (``001b.2c03.0405``, Cisco's), or 12 hex
    digits; None for anything else."""
    hexdigits = "0123456789abcdefABCDEF"
    if len(text) == 12 and all(ch in hexdigits for ch in text):
        return bytes.fromhex(text)
    for separator in (":", "-", "."):
        parts = text.split(separator)
        if len(parts) == 6 and all(1 <= len(p) <= 2 and all(ch in hexdigits for ch in p) for p in parts):
            return bytes(int(p, 16) for p in parts)
    parts = text.split(".")
    if len(parts) == 3 and all(len(p) == 4 and all(ch in hexdigits for ch in p) for p in parts):
        return bytes.fromhex("".join(parts))
    return None


def parse_ethers(text: str) -> dict[str, bytes]:
    """ethers(5) text (``MAC NAME`` a line, ``#`` to the end of a line is a comment) as
    {lower-case name: MAC}; the first line naming a host wins; lines without a valid MAC
    and a name are skipped, as libc's ``ether_line`` skips them. Fields after the name
    are ignored."""
    table: dict[str, bytes] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        mac = parse_mac(fields[0])
        if mac is None:
            continue
        table.setdefault(_fold(fields[1]), mac)
    return table


def ether_address(name: str) -> bytes | None:
    """``name``'s MAC address from the ethers file (None: not there, or no file)."""
    _counted()
    path = ethers_path or os.environ.get("PYBPF_ETHERS") or "/etc/ethers"
    return _ethers_file(path).get(_fold(name))


# ---- network names ----------------------------------------------------------------------
def parse_network_number(text: str) -> int | None:
    """A network number as ``inet_network`` reads it: 1 to 4 parts separated by dots,
    each decimal, octal (leading 0) or hex (0x), joined a byte each — ``10.20`` is
    0x0a14, ``10.20.0.0`` is 0x0a140000. None if it is not one."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    value = 0
    for part in parts:
        try:
            if part[:2].lower() == "0x":
                number = int(part[2:], 16)
            elif len(part) > 1 and part.startswith("0"):
                number = int(part[1:], 8)
            else:
                number = int(part, 10)
        except ValueError:
            return None
        if not part.isalnum() or number > 255:
            return None
        value = value << 8 | number
    return value


def parse_networks(text: str) -> dict[str, int]:
    """networks(5) text (``NAME NUMBER [ALIAS...]``, ``#`` comments) as {lower-case name
    or alias: network number}; the first line naming a network wins."""
    table: dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        number = parse_network_number(fields[1])
        if number is None:
            continue
        for name in (fields[0], *fields[2:]):
            table.setdefault(_fold(name), number)
    return table


def network_number(name: str) -> int | None:
    """``name``'s network number from the networks file, right-justified as
    ``getnetbyname`` gives it (``10.20`` is 0x0a14); None: unknown."""
    _counted()
    path = networks_path or os.environ.get("PYBPF_NETWORKS") or "/etc/networks"
    return _networks_file(path).get(_fold(name))


# ---- files ------------------------------------------------------------------------------
def _fold(name: str) -> str:
    return name.lower()


class _FileCache:
    """A parsed file, parsed again when its size or modification time changes; a file
    that cannot be read is empty."""

    def __init__(self, path: str | os.PathLike, parse):
        self.path = path
        self.parse = parse
        self.stamp: tuple | None = None
        self.table: dict = {}

    def get(self) -> dict:
        try:
            status = os.stat(self.path)
            stamp = (status.st_mtime_ns, status.st_size, status.st_ino)
        except OSError:
            stamp = None
        if stamp != self.stamp:
            try:
                self.table = self.parse(_read_text(self.path)) if stamp else {}
            except OSError:
                self.table = {}
            self.stamp = stamp
        return self.table


def _read_text(path: str | os.PathLike) -> str:
    """``Path(path).read_text(encoding="utf-8", errors="replace")``, without pathlib."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


_caches: dict[tuple[str, str], _FileCache] = {}


def _cached(kind: str, path: str | os.PathLike, parse) -> dict:
    key = (kind, os.fspath(path))
    cache = _caches.get(key)
    if cache is None:
        cache = _caches[key] = _FileCache(path, parse)
    return cache.get()


def _hosts_file(path: str | os.PathLike) -> dict[str, list[Address]]:
    return _cached("hosts", path, parse_hosts)


def _ethers_file(path: str | os.PathLike) -> dict[str, bytes]:
    return _cached("ethers", path, parse_ethers)


def _networks_file(path: str | os.PathLike) -> dict[str, int]:
    return _cached("networks", path, parse_networks)
