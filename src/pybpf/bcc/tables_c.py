"""BCC's map declaration macros (``BPF_HASH(counts, u32, u64, 1024)`` …) as what they
declare: a :class:`TableDecl`, written back out as a libbpf BTF-defined map.

BCC's macros take optional trailing arguments with defaults (``BPF_HASH(name)`` is a
u64→u64 hash of 10240 entries); the defaults here are BCC's documented ones.
"""

from __future__ import annotations

from pybpf.bcc.tokens import BccSyntaxError

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass


@dataclass(frozen=True)
class TableDecl:
    """One map of a BCC program."""

    name: str
    map_type: str          # the BPF_MAP_TYPE_* suffix: HASH, ARRAY, ...
    key: str               # C type text ("" where the map has no key)
    leaf: str              # C type text
    size: int | str        # max_entries (a C expression is kept as text)
    flags: str = "0"
    #: BPF_TABLE_PINNED's bpffs path: the map pinned there is used, or this one is made and pinned
    pinned: str = ""
    #: "shared"/"public" (BPF_TABLE_SHARED/_PUBLIC: other BPF() objects of the process may
    #: use it) or "extern" (BPF_TABLE("extern", ...): the shared table of that name)
    sharing: str = ""

    def to_c(self) -> str:
        """The BTF-defined map declaration libbpf (and pybpf's loader) reads."""
        fields = [f"__uint(type, BPF_MAP_TYPE_{self.map_type})"]
        if self.map_type in ("PERF_EVENT_ARRAY", "PROG_ARRAY"):
            fields += ["__uint(key_size, sizeof(u32))", "__uint(value_size, sizeof(u32))"]
        elif self.map_type == "STACK_TRACE":   # frames: addresses, or (build id, file offset)s
            frame = "struct bpf_stack_build_id" if "BPF_F_STACK_BUILD_ID" in self.flags else "u64"
            fields += ["__uint(key_size, sizeof(u32))", f"__uint(value_size, 127 * sizeof({frame}))"]
        elif self.map_type != "RINGBUF":
            if self.key:
                fields.append(f"__type(key, {self.key})")
            fields.append(f"__type(value, {self.leaf})")
        if self.map_type == "PERF_EVENT_ARRAY":
            pass  # sized by the loader to the number of CPUs
        else:
            fields.append(f"__uint(max_entries, {self.size})")
        if self.flags not in ("0", ""):
            fields.append(f"__uint(map_flags, {self.flags})")
        return "struct { " + "; ".join(fields) + f"; }} {self.name} SEC(\".maps\");"


#: BPF_TABLE's first argument → map type
TABLE_KINDS = {
    "hash": "HASH", "array": "ARRAY", "percpu_hash": "PERCPU_HASH", "percpu_array": "PERCPU_ARRAY",
    "lru_hash": "LRU_HASH", "lru_percpu_hash": "LRU_PERCPU_HASH", "histogram": "ARRAY",
    "prog": "PROG_ARRAY", "perf_output": "PERF_EVENT_ARRAY", "stacktrace": "STACK_TRACE",
    "queue": "QUEUE", "stack": "STACK", "lpm_trie": "LPM_TRIE", "devmap": "DEVMAP", "cpumap": "CPUMAP",
    "xskmap": "XSKMAP", "sockmap": "SOCKMAP", "sockhash": "SOCKHASH", "cgroup_array": "CGROUP_ARRAY",
}

# name → (map type, key default, leaf default, size default, argument order)
# argument order lists which of name/key/leaf/size the macro's arguments give, in order
_MACROS: dict[str, tuple[str, str, str, str, tuple[str, ...]]] = {
    "BPF_HASH": ("HASH", "u64", "u64", "10240", ("name", "key", "leaf", "size")),
    "BPF_LRU_HASH": ("LRU_HASH", "u64", "u64", "10240", ("name", "key", "leaf", "size")),
    "BPF_PERCPU_HASH": ("PERCPU_HASH", "u64", "u64", "10240", ("name", "key", "leaf", "size")),
    "BPF_LRU_PERCPU_HASH": ("LRU_PERCPU_HASH", "u64", "u64", "10240", ("name", "key", "leaf", "size")),
    "BPF_ARRAY": ("ARRAY", "int", "u64", "10240", ("name", "leaf", "size")),
    "BPF_PERCPU_ARRAY": ("PERCPU_ARRAY", "int", "u64", "10240", ("name", "leaf", "size")),
    "BPF_HISTOGRAM": ("HASH", "int", "u64", "64", ("name", "key", "size")),
    "BPF_PERCPU_HISTOGRAM": ("PERCPU_HASH", "int", "u64", "64", ("name", "key", "size")),
    "BPF_PERF_OUTPUT": ("PERF_EVENT_ARRAY", "int", "u32", "0", ("name",)),
    "BPF_RINGBUF_OUTPUT": ("RINGBUF", "", "", "", ("name", "pages")),
    "BPF_STACK_TRACE": ("STACK_TRACE", "int", "", "", ("name", "size")),
    "BPF_STACK_TRACE_BUILDID": ("STACK_TRACE", "int", "", "", ("name", "size")),
    "BPF_PROG_ARRAY": ("PROG_ARRAY", "int", "int", "", ("name", "size")),
    "BPF_QUEUE": ("QUEUE", "", "", "", ("name", "leaf", "size")),
    "BPF_STACK": ("STACK", "", "", "", ("name", "leaf", "size")),
    "BPF_DEVMAP": ("DEVMAP", "int", "int", "", ("name", "size")),
    "BPF_CPUMAP": ("CPUMAP", "int", "u32", "", ("name", "size")),
    "BPF_XSKMAP": ("XSKMAP", "int", "int", "", ("name", "size")),
    "BPF_CGROUP_ARRAY": ("CGROUP_ARRAY", "int", "int", "", ("name", "size")),
    "BPF_SOCKMAP": ("SOCKMAP", "int", "int", "", ("name", "size")),
    "BPF_SOCKHASH": ("SOCKHASH", "u32", "int", "10240", ("name", "key", "size")),
}
#: BCC's pinned and shared forms of BPF_TABLE and BPF_QUEUE/BPF_STACK → how they share
_SHARING = {"BPF_TABLE_PINNED": "", "BPF_TABLE_SHARED": "shared", "BPF_TABLE_PUBLIC": "public",
            "BPF_QUEUESTACK_PINNED": "", "BPF_QUEUESTACK_SHARED": "shared", "BPF_QUEUESTACK_PUBLIC": "public"}
TABLE_MACROS = frozenset(_MACROS) | {"BPF_TABLE", "BPF_F_TABLE", *_SHARING}


def table_from_macro(macro: str, args: list[str], place: str) -> TableDecl:
    """The map a BCC declaration macro with these argument texts declares."""
    if macro in _MACROS:
        map_type, key, leaf, size, order = _MACROS[macro]
        if not 1 <= len(args) <= len(order):
            raise BccSyntaxError(f"{place}: {macro} takes 1 to {len(order)} arguments, not {len(args)}")
        given = dict(zip(order, args))
        if macro == "BPF_RINGBUF_OUTPUT":
            if "pages" not in given:
                raise BccSyntaxError(f"{place}: BPF_RINGBUF_OUTPUT(name, page_count) needs the page count")
            return TableDecl(given["name"], map_type, "", "", f"({given['pages']}) * 4096")
        if map_type in ("QUEUE", "STACK") and len(args) != 3:
            raise BccSyntaxError(f"{place}: {macro}(name, leaf_type, size) takes 3 arguments")
        if map_type in ("STACK_TRACE", "PROG_ARRAY", "DEVMAP", "CPUMAP", "XSKMAP", "CGROUP_ARRAY", "SOCKMAP") \
                and "size" not in given:
            raise BccSyntaxError(f"{place}: {macro}(name, size) needs the size")
        return TableDecl(given["name"], map_type, given.get("key", key), given.get("leaf", leaf),
                         given.get("size", size), "BPF_F_STACK_BUILD_ID" if macro == "BPF_STACK_TRACE_BUILDID" else "0")
    if macro.startswith("BPF_QUEUESTACK_"):
        return _queue_stack(macro, args, place)
    # BPF_TABLE("hash", key, leaf, name, size), BPF_F_TABLE(..., flags),
    # BPF_TABLE_PINNED(..., "/sys/fs/bpf/path"[, flags]), BPF_TABLE_SHARED(...[, flags]),
    # BPF_TABLE_PUBLIC(...) — the argument counts of BCC's helpers.h
    counts = {"BPF_TABLE": (5,), "BPF_F_TABLE": (6,), "BPF_TABLE_PINNED": (6, 7), "BPF_TABLE_SHARED": (5, 6),
              "BPF_TABLE_PUBLIC": (5,)}[macro]
    if len(args) not in counts:
        extra = {"BPF_F_TABLE": ", flags", "BPF_TABLE_PINNED": ', "/sys/fs/bpf/PATH"[, flags]',
                 "BPF_TABLE_SHARED": "[, flags]"}.get(macro, "")
        raise BccSyntaxError(f"{place}: {macro}(\"type\", key, leaf, name, size{extra}) takes "
                             f"{' or '.join(map(str, counts))} arguments, not {len(args)}")
    kind = args[0].strip('"')
    if kind == "extern" and macro in ("BPF_TABLE", "BPF_F_TABLE"):
        # a table another BPF() object of this process made with BPF_TABLE_SHARED/_PUBLIC:
        # declared here (as a hash of these types) so the program can name it; its fd replaces it
        return TableDecl(args[3], "HASH", args[1], args[2], args[4], sharing="extern")
    if kind not in TABLE_KINDS:
        raise BccSyntaxError(f"{place}: {macro} type {args[0]} is not one of {', '.join(sorted(TABLE_KINDS))}"
                             + (' (or "extern" in BPF_TABLE)' if macro in ("BPF_TABLE", "BPF_F_TABLE") else ""))
    pinned = _pin_path(args[5], macro, place) if macro == "BPF_TABLE_PINNED" else ""
    flags = "0"
    if macro == "BPF_F_TABLE" or (macro == "BPF_TABLE_SHARED" and len(args) == 6):
        flags = args[5]
    elif macro == "BPF_TABLE_PINNED" and len(args) == 7:
        flags = args[6]
    if kind == "lpm_trie" and flags == "0":
        flags = "BPF_F_NO_PREALLOC"
    return TableDecl(args[3], TABLE_KINDS[kind], args[1], args[2], args[4], flags, pinned, _SHARING.get(macro, ""))


def _queue_stack(macro: str, args: list[str], place: str) -> TableDecl:
    """BPF_QUEUESTACK_PINNED("queue", name, leaf, size, flags, "/sys/fs/bpf/PATH") and its
    _SHARED/_PUBLIC forms (without the path)."""
    count = 6 if macro == "BPF_QUEUESTACK_PINNED" else 5
    if len(args) != count:
        path = ', "/sys/fs/bpf/PATH"' if count == 6 else ""
        raise BccSyntaxError(f'{place}: {macro}("queue"|"stack", name, leaf, size, flags{path}) takes {count} '
                             f"arguments, not {len(args)}")
    kind = args[0].strip('"')
    if kind not in ("queue", "stack"):
        raise BccSyntaxError(f'{place}: {macro} type {args[0]} is not "queue" or "stack"')
    pinned = _pin_path(args[5], macro, place) if count == 6 else ""
    return TableDecl(args[1], TABLE_KINDS[kind], "", args[2], args[3], args[4], pinned, _SHARING[macro])


def _pin_path(arg: str, macro: str, place: str) -> str:
    """The path of a pinned table: a string literal naming a file on a BPF filesystem."""
    text = arg.strip()
    if len(text) < 3 or not (text.startswith('"') and text.endswith('"')) or '"' in text[1:-1] \
            or not text[1] == "/":
        raise BccSyntaxError(f"{place}: {macro}'s pin path must be an absolute path in a string literal "
                             f'("/sys/fs/bpf/NAME"), not {text}')
    return text[1:-1]
