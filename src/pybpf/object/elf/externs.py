"""``extern`` variables and functions a BPF object leaves for the loader, as libbpf resolves
them:

- ``__kconfig`` variables (``extern int LINUX_KERNEL_VERSION __kconfig;``,
  ``extern bool CONFIG_BPF_JIT __kconfig __weak;``) live in a read-only ``.kconfig`` map
  whose contents the loader writes: the kernel's version from its release string, the
  features every x86-64 kernel pybpf supports has (``LINUX_HAS_BPF_COOKIE``,
  ``LINUX_HAS_SYSCALL_WRAPPER``), and ``CONFIG_*`` options from the running kernel's
  configuration (``/proc/config.gz``, else ``/boot/config-RELEASE``): ``y``/``m``/``n`` as
  booleans, tristates (``enum libbpf_tristate``) or chars, numbers, strings;
- ``__ksym`` variables and functions name kernel objects by their id in the kernel's BTF:
  a variable's address is a ``BPF_PSEUDO_BTF_ID`` lddw, a kfunc call a ``BPF_PSEUDO_KFUNC_CALL``.

A ``__weak`` extern the kernel does not have is 0 (a kfunc: a call the kernel refuses only
if it is reachable, as with a failed CO-RE relocation); any other is an error naming it.
"""

from __future__ import annotations

import os
import re
from functools import cache

from pybpf.btf.errors import BTFError
from pybpf.object.elf.errors import ObjectError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass

    from pybpf.btf import BTF
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass

KCONFIG = ".kconfig"
KSYMS = ".ksyms"

#: what every kernel pybpf runs on (x86-64, 5.15 and later) has
_BUILT_IN = {"LINUX_HAS_BPF_COOKIE": "y", "LINUX_HAS_SYSCALL_WRAPPER": "y"}
_TRISTATE = {"y": 1, "n": 0, "m": 2}


@dataclass(frozen=True)
class KconfigVar:
    """One ``__kconfig`` extern: where it sits in the ``.kconfig`` map and its type."""

    name: str
    offset: int
    size: int
    type_id: int
    weak: bool


@dataclass
class Externs:
    """The object's externs, read from its BTF (``.kconfig`` and ``.ksyms`` DATASECs and
    extern FUNCs) and symbol table (which are weak)."""

    kconfig: dict[str, KconfigVar]
    kconfig_size: int
    ksyms: dict[str, bool]          # name → weak
    btf: BTF | None

    def is_kconfig(self, name: str) -> bool:
        return name in self.kconfig


def read_externs(local: BTF | None, fixed: bytes, weak_names: set[str]) -> Externs:
    """The externs the object's BTF declares (``local``; read from ``fixed``, the blob with
    the DATASECs laid out, where it has any)."""
    if local is None:
        return Externs({}, 0, {}, None)
    from pybpf.btf.parse import BTF  # (an object without BTF has no externs: read without it)
    from pybpf.btf.types import Kind

    if local.find(KCONFIG, Kind.DATASEC) is None and local.find(KSYMS, Kind.DATASEC) is None:
        return Externs({}, 0, {}, None)
    btf = BTF.parse(fixed)
    kconfig: dict[str, KconfigVar] = {}
    size = 0
    datasec = btf.find(KCONFIG, Kind.DATASEC)
    if datasec is not None:
        size = datasec.size
        for member in datasec.members:
            var = btf[member.type]
            kconfig[var.name] = KconfigVar(var.name, member.offset, member.size, var.ref, var.name in weak_names)
    ksyms: dict[str, bool] = {}
    datasec = local.find(KSYMS, Kind.DATASEC)        # the object's own: kfuncs are still FUNCs there
    if datasec is not None:
        ksyms.update({local[member.type].name: local[member.type].name in weak_names for member in datasec.members})
    return Externs(kconfig, size, ksyms, btf)


def kconfig_contents(externs: Externs, where: str) -> bytes:
    """The ``.kconfig`` map's value: each variable's value on the running kernel."""
    out = bytearray(max(externs.kconfig_size, 1))
    config = _kernel_config()
    for var in externs.kconfig.values():
        text = _BUILT_IN.get(var.name) or config.get(var.name)
        if var.name == "LINUX_KERNEL_VERSION":
            text = str(kernel_version())
        if text is None:
            if not var.weak:
                raise ObjectError(f"{where}: extern {var.name!r} is not a configuration value of this kernel "
                                  "(declare it __weak to read 0 instead)")
            continue
        out[var.offset:var.offset + var.size] = _encode(externs.btf, var, text, where)
    return bytes(out)


def kernel_version(release: str | None = None) -> int:
    """``KERNEL_VERSION(major, minor, patch)`` of a release string (``6.18.44-fc``), the
    patch level saturated at 255 as the kernel's LINUX_VERSION_CODE is."""
    numbers = [int(n) for n in re.findall(r"\d+", (release or os.uname().release).split("-")[0])[:3]]
    major, minor, patch = (numbers + [0, 0, 0])[:3]
    return (major << 16) + (minor << 8) + min(patch, 255)


def _encode(btf: BTF | None, var: KconfigVar, text: str, where: str) -> bytes:
    from pybpf.btf.types import Kind

    assert btf is not None
    target = btf.resolve(var.type_id)
    what = f"{where}: extern {var.name!r}"
    if target.kind == Kind.ENUM:                            # enum libbpf_tristate
        if text not in _TRISTATE:
            raise ObjectError(f"{what}: {text!r} is not a tristate (y, n or m)")
        return _TRISTATE[text].to_bytes(var.size, "little")
    if target.kind == Kind.ARRAY:                           # char NAME[N]: a string option
        value = text[1:-1].encode() if text.startswith('"') else text.encode()
        return value[:var.size - 1].ljust(var.size, b"\0")
    if target.kind != Kind.INT:
        raise ObjectError(f"{what}: a {target.kind.name.lower()} cannot hold a configuration value")
    if text in _TRISTATE:
        if var.size == 1 and target.name == "char":
            return text.encode()
        if text == "m" and target.name in ("bool", "_Bool"):
            raise ObjectError(f"{what}: the option is 'm' (a module), which a bool cannot say; use a tristate")
        return (1 if text == "y" else 0).to_bytes(var.size, "little")
    try:
        number = int(text.strip('"'), 0)
    except ValueError:
        raise ObjectError(f"{what}: {text!r} is not a number") from None
    try:
        return number.to_bytes(var.size, "little", signed=number < 0)
    except OverflowError:
        raise ObjectError(f"{what}: {number} does not fit in {var.size} bytes") from None


@cache
def _kernel_config() -> dict[str, str]:
    """The running kernel's configuration (``# CONFIG_X is not set`` reads as ``n``);
    empty where neither /proc/config.gz nor /boot/config-RELEASE can be read."""
    import gzip  # (here: gzip imports zlib and _compression, for objects with kconfig externs only)

    try:
        with open("/proc/config.gz", "rb") as file:
            text = gzip.decompress(file.read()).decode("utf-8", "replace")
    except OSError:
        try:
            with open(f"/boot/config-{os.uname().release}", encoding="utf-8", errors="replace") as file:
                text = file.read()
        except OSError:
            return {}
    values = dict(re.findall(r"^(CONFIG_\w+)=(.*)$", text, re.M))
    values.update({name: "n" for name in re.findall(r"^# (CONFIG_\w+) is not set$", text, re.M)})
    return values


@cache
def _kernel_btf() -> BTF | None:
    from pybpf.btf.parse import BTF

    try:
        return BTF.load()
    except (OSError, BTFError):
        return None


def ksym_btf_id(name: str, function: bool, weak: bool, where: str) -> int:
    """The kernel BTF id of kernel variable or function ``name``; 0 for a weak one the
    kernel does not have."""
    from pybpf.btf.types import Kind

    btf = _kernel_btf()
    found = btf.find(name, Kind.FUNC if function else Kind.VAR) if btf is not None else None
    if found is not None:
        return found.id
    if weak:
        return 0
    what = "kfunc" if function else "kernel variable"
    raise ObjectError(f"{where}: refers to {what} {name!r}, which the running kernel's BTF does not have "
                      "(declare it __weak to test for it with bpf_ksym_exists)")


__all__ = ["KCONFIG", "KSYMS", "Externs", "KconfigVar", "kconfig_contents", "kernel_version", "ksym_btf_id",
           "read_externs"]

