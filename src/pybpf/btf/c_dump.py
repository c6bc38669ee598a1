"""BTF as C: the ``vmlinux.h`` a BPF program includes to see the kernel's own types.

BTF records layouts, not declarations, so C has to be reconstructed: definitions ordered so
every embedded type is complete before its container, forward declarations where a type is
only reached through a pointer (which is also how reference cycles are broken), anonymous
types written inline, and padding or ``__attribute__((packed))`` wherever the natural C
layout would not land each member on the offset BTF gives. The ordering and naming rules
are libbpf's ``btf_dump`` (what ``bpftool btf dump ... format c`` prints), so programs
written against bpftool's header see the same names, ``___2``-suffixed duplicates included;
the padding rules are the same too, so both headers compile to the same offsets and sizes.

Records are wrapped in ``preserve_access_index`` (unless ``BPF_NO_PRESERVE_ACCESS_INDEX`` is
defined) so that clang emits a CO-RE relocation for every member access, which is what lets
one object run on kernels whose layouts differ.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence

from pybpf.btf.check import check_acyclic
from pybpf.btf.parse import BTF, BTFError
from pybpf.btf.types import Kind, Type

_PROLOGUE = """\
#ifndef __VMLINUX_H__
#define __VMLINUX_H__

#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)
#endif

"""
_EPILOGUE = """\
#ifndef BPF_NO_PRESERVE_ACCESS_INDEX
#pragma clang attribute pop
#endif

#endif /* __VMLINUX_H__ */
"""

_MODIFIERS = {Kind.CONST: "const", Kind.VOLATILE: "volatile", Kind.RESTRICT: "restrict"}
_SKIPPED_KINDS = (Kind.FUNC, Kind.VAR, Kind.DATASEC, Kind.DECL_TAG)
_BASE_KINDS = (Kind.INT, Kind.FLOAT, Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64, Kind.FWD, Kind.TYPEDEF)
#: typedefs naming compiler built-ins: they cannot be redefined, and the BPF target's
#: built-in differs from the kernel's (va_list is 8 bytes, not x86-64's 24), so uses are
#: written as the kernel's definition
_BUILTIN_TYPEDEFS = frozenset({"__builtin_va_list"})
#: padding fields, widest first: (type, bits)
_PADS = (("long", 64), ("int", 32), ("short", 16), ("char", 8))

_NOT, _BUSY, _DONE = 0, 1, 2          # ordering and emission states
#: recursion the writer allows itself (one level per nested type) before refusing
_MAX_NESTING = 20000
#: padding fields one gap may take (512 KiB of ``long: 64;``); a union's tail beyond it is
#: left out, as libbpf always does, a struct's is refused: neither is ever allocated
_MAX_PAD_FIELDS = 1 << 16
#: what makes an enum of this many bytes when its values alone would not
_ENUM_MODES = {1: " __attribute__((mode(byte)))", 2: " __attribute__((mode(HI)))",
               8: " __attribute__((mode(word)))"}


class CDumpError(BTFError):
    """BTF that has no C spelling (a cycle no forward declaration breaks), or a type
    asked for by a name or id that does not exist."""


def dump_c(btf: BTF, type_ids: Iterable[int] | None = None) -> str:
    """A C header declaring ``type_ids`` and everything they depend on (every type when
    None), wrapped as ``vmlinux.h`` is: include guard and ``preserve_access_index``. The
    whole header also declares the kernel's kfuncs (functions tagged ``bpf_kfunc``) as
    ``__weak __ksym`` externs, as bpftool's does, unless BPF_NO_KFUNC_PROTOTYPES is defined."""
    writer = _CWriter(btf)
    body = writer.write(type_ids)
    return _PROLOGUE + body + (writer.kfunc_prototypes() if type_ids is None else "") + _EPILOGUE


def find_type_ids(btf: BTF, names: Sequence[str]) -> list[int]:
    """The ids of the types called ``names`` (all same-named types but functions and
    variables; a number is taken as an id). Raises :class:`CDumpError` for an unknown one."""
    ids: list[int] = []
    for name in names:
        if name.isdigit():
            if not 0 < int(name) < len(btf):
                raise CDumpError(f"type id {name} is out of range (1-{len(btf) - 1})")
            ids.append(int(name))
            continue
        found = [t.id for t in btf.types if t.name == name and t.kind not in _SKIPPED_KINDS]
        if not found:
            raise CDumpError(f"no type called {name!r} in this BTF")
        ids.extend(found)
    return ids


class _CWriter:
    """One pass of libbpf's algorithm: order (topological, through-pointer references are
    weak) then emit, keeping per-type state so each definition is written once."""

    def __init__(self, btf: BTF):
        self.btf = btf
        self.types = btf.types
        count = len(btf.types)
        self.order_state = bytearray(count)
        self.emit_state = bytearray(count)
        self.fwd_emitted = bytearray(count)
        self.referenced = self._referenced()
        self.queue: list[int] = []
        self.out: list[str] = []
        self.names: dict[int, str] = {}
        self.tag_counts: dict[str, int] = {}        # struct/union/enum tags
        self.ident_counts: dict[str, int] = {}      # typedef names and enumerators
        self.aligns: dict[int, int] = {}
        self.decl_tags: dict[int, list[Type]] = {}
        for t in btf.types:
            if t.kind == Kind.DECL_TAG:
                self.decl_tags.setdefault(t.ref, []).append(t)

    def _referenced(self) -> bytearray:
        """Which types something refers to: an anonymous enum nobody uses is written at top
        level (its enumerators are constants programs want), a used one inline."""
        marks = bytearray(len(self.types))
        for t in self.types:
            kind = t.kind
            if kind in (Kind.STRUCT, Kind.UNION, Kind.FUNC_PROTO, Kind.DATASEC):
                for m in t.members:
                    marks[m.type] = 1
            elif kind == Kind.ARRAY:
                marks[t.element] = marks[t.index_type] = 1
            elif t.ref:
                marks[t.ref] = 1
        return marks

    def write(self, type_ids: Iterable[int] | None) -> str:
        ids = range(1, len(self.types)) if type_ids is None else list(type_ids)
        try:
            check_acyclic(self.btf, None if type_ids is None else ids)
        except BTFError as exc:
            raise CDumpError(str(exc)) from None
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, _MAX_NESTING + 1000))  # deep embedding chains recurse per level
        type_id = 0
        try:
            for type_id in ids:
                self.queue.clear()
                self._order(type_id, False)
                for queued in self.queue:
                    self._emit(queued, 0)
        except RecursionError:
            raise CDumpError(f"type {type_id}: its declarations nest more than {_MAX_NESTING} levels deep") from None
        finally:
            sys.setrecursionlimit(limit)
        return "".join(self.out)

    def kfunc_prototypes(self) -> str:
        """``extern RET NAME(PARAMS) __weak __ksym;`` for every FUNC with a ``bpf_kfunc``
        declaration tag, behind BPF_NO_KFUNC_PROTOTYPES."""
        lines = [f"extern {self._decl(t.ref, t.name, 0)} __weak __ksym;\n"
                 for t in self.types if t.kind == Kind.FUNC and t.name and self.types[t.ref].kind == Kind.FUNC_PROTO
                 and any(tag.name == "bpf_kfunc" and tag.component == -1 for tag in self.decl_tags.get(t.id, ()))]
        if not lines:
            return ""
        return ("\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n#define BPF_NO_KFUNC_PROTOTYPES\n"
                "#ifndef __ksym\n#define __ksym __attribute__((section(\".ksyms\")))\n#endif\n"
                "#ifndef __weak\n#define __weak __attribute__((weak))\n#endif\n"
                + "".join(lines) + "#endif\n\n")

    # ordering ------------------------------------------------------------------------

    def _order(self, type_id: int, through_ptr: bool) -> bool:
        """Queue the definitions ``type_id`` needs; True when the reference is "strong"
        (needs a complete type), which tells typedefs whether a pointer-only use suffices."""
        state = self.order_state[type_id]
        if state == _DONE:
            return True
        t = self.types[type_id]
        kind = t.kind
        if state == _BUSY:
            if kind in (Kind.STRUCT, Kind.UNION) and through_ptr and t.name:
                return False            # a cycle through a pointer: a forward declaration breaks it
            raise CDumpError(f"type {type_id} ({kind.name} {t.name or '(anon)'}) contains itself: "
                             "no C declaration order exists")
        if kind in (Kind.INT, Kind.FLOAT) or type_id == 0:
            self.order_state[type_id] = _DONE
            return False
        if kind == Kind.PTR:
            strong = self._order(t.ref, True)
            self.order_state[type_id] = _DONE
            return strong
        if kind == Kind.ARRAY:
            return self._order(t.element, False)
        if kind in (Kind.STRUCT, Kind.UNION):
            if through_ptr and t.name:
                return False
            self.order_state[type_id] = _BUSY
            for m in t.members:
                self._order(m.type, False)
            if t.name:
                self.queue.append(type_id)
            self.order_state[type_id] = _DONE
            return True
        if kind in (Kind.ENUM, Kind.ENUM64, Kind.FWD):
            if t.name or not self.referenced[type_id]:
                self.queue.append(type_id)
            self.order_state[type_id] = _DONE
            return True
        if kind == Kind.TYPEDEF:
            strong = self._order(t.ref, through_ptr)
            if through_ptr and not strong:
                return False
            self.queue.append(type_id)
            self.order_state[type_id] = _DONE
            return True
        if kind in (Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG):
            return self._order(t.ref, through_ptr)
        if kind == Kind.FUNC_PROTO:
            strong = self._order(t.ref, through_ptr)
            for p in t.members:
                strong = self._order(p.type, through_ptr) or strong
            return strong
        self.order_state[type_id] = _DONE      # FUNC, VAR, DATASEC, DECL_TAG: not C types
        return False

    # emission ------------------------------------------------------------------------

    def _emit(self, type_id: int, container: int) -> None:
        """Write ``type_id``'s definition (``container`` 0: at top level), after whatever
        it needs; inside a container, named records only get forward declarations."""
        if self.emit_state[type_id] == _DONE:
            return
        t = self.types[type_id]
        kind = t.kind
        top_level = container == 0
        if self.emit_state[type_id] == _BUSY:        # reached again while being written
            if self.fwd_emitted[type_id]:
                return
            if kind in (Kind.STRUCT, Kind.UNION):
                if type_id == container:
                    return
                if not t.name:
                    raise CDumpError(f"type {type_id} ({kind.name} (anon)) contains itself")
                self.out.append(f"{self._record_ref(t)};\n\n")
                self.fwd_emitted[type_id] = 1
            elif kind == Kind.TYPEDEF:
                if t.name not in _BUILTIN_TYPEDEFS:
                    self.out.append(f"{self._typedef_def(t)};\n\n")
                self.fwd_emitted[type_id] = 1
            return
        if kind in (Kind.INT, Kind.FLOAT) or type_id == 0:
            self.emit_state[type_id] = _DONE
        elif kind in (Kind.ENUM, Kind.ENUM64):
            if top_level:
                self.out.append(f"{self._enum_def(t, 0)};\n\n")
            self.emit_state[type_id] = _DONE
        elif kind in (Kind.PTR, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG):
            self._emit(t.ref, container)
        elif kind == Kind.ARRAY:
            self._emit(t.element, container)
        elif kind == Kind.FWD:
            self.out.append(f"{self._record_ref(t)};\n\n")
            self.emit_state[type_id] = _DONE
        elif kind == Kind.TYPEDEF:
            self.emit_state[type_id] = _BUSY
            self._emit(t.ref, type_id)
            if not self.fwd_emitted[type_id] and t.name not in _BUILTIN_TYPEDEFS:
                self.out.append(f"{self._typedef_def(t)};\n\n")
            self.emit_state[type_id] = _DONE
        elif kind in (Kind.STRUCT, Kind.UNION):
            self.emit_state[type_id] = _BUSY
            if top_level or not t.name:
                inner = type_id if t.name else container
                for m in t.members:
                    self._emit(m.type, inner)
            elif not self.fwd_emitted[type_id] and type_id != container:
                self.out.append(f"{self._record_ref(t)};\n\n")
                self.fwd_emitted[type_id] = 1
            if top_level:
                self.out.append(f"{self._record_def(t, 0)};\n\n")
                self.emit_state[type_id] = _DONE
            else:
                self.emit_state[type_id] = _NOT
        elif kind == Kind.FUNC_PROTO:
            self._emit(t.ref, container)
            for p in t.members:
                self._emit(p.type, container)

    # names ---------------------------------------------------------------------------

    def _name(self, t: Type, counts: dict[str, int]) -> str:
        """The C name of a named type: the second type with a name gets ``name___2``, as
        libbpf numbers them, in the order the names are first written."""
        name = self.names.get(t.id)
        if name is None:
            name = t.name
            if t.name and not (t.kind == Kind.FWD or (t.kind == Kind.ENUM and not t.members)):
                count = counts.get(t.name, 0) + 1
                counts[t.name] = count
                if count > 1:
                    name = f"{t.name}___{count}"
            self.names[t.id] = name
        return name

    def _enumerator(self, name: str) -> str:
        count = self.ident_counts.get(name, 0) + 1
        self.ident_counts[name] = count
        return f"{name}___{count}" if count > 1 else name

    # definitions ---------------------------------------------------------------------

    def _record_ref(self, t: Type) -> str:
        """``struct name`` / ``union name`` (a FWD's kind flag says which)."""
        union = t.kind == Kind.UNION or (t.kind == Kind.FWD and t.kind_flag)
        return f"{'union' if union else 'struct'} {self._name(t, self.tag_counts)}"

    def _typedef_def(self, t: Type) -> str:
        name = self._name(t, self.ident_counts)
        if t.ref == 0 and name == "__gnuc_va_list":     # old GCC wrote this one as void
            return "typedef __builtin_va_list __gnuc_va_list"
        return f"typedef {self._decl(t.ref, name, 0)}{self._decl_tags(t.id, -1)}"

    def _enum_def(self, t: Type, level: int) -> str:
        head = f"enum {self._name(t, self.tag_counts)}" if t.name else "enum"
        if not t.members:
            return head
        indent = "\t" * (level + 1)
        is64 = t.kind == Kind.ENUM64
        lines = [head + " {"]
        for m in t.members:
            value = m.value
            if not t.kind_flag:
                value &= (1 << 64) - 1 if is64 else 0xFFFFFFFF
            suffix = ("LL" if t.kind_flag else "ULL") if is64 else ""
            lines.append(f"{indent}{self._enumerator(m.name)} = {value}{suffix},")
        text = "\n".join(lines) + "\n" + "\t" * level + "}"
        if t.size != _natural_enum_size(t):
            text += _ENUM_MODES.get(t.size, "")
        return text

    def _record_def(self, t: Type, level: int) -> str:
        """A struct/union body: members at their BTF offsets (explicit padding fields where
        C's natural alignment would not put them there), ``packed`` when nothing else can."""
        is_struct = t.kind == Kind.STRUCT
        packed = is_struct and self._is_packed(t)
        indent = "\t" * (level + 1)
        head = f"{self._record_ref(t)} {{" if t.name else ("struct {" if is_struct else "union {")
        lines = [head]
        offset, prev_bitfield = 0, False
        for index, m in enumerate(t.members):
            bits = m.bit_size if t.kind_flag else 0
            align = 1 if packed else self._align(m.type)
            _padding(lines, indent, offset, m.offset, align, prev_bitfield and bits != 0, t)
            decl = self._decl(m.type, m.name, level + 1)
            width = f": {bits}" if bits else ""
            lines.append(f"{indent}{decl}{width}{self._decl_tags(t.id, index)};")
            if bits:
                offset, prev_bitfield = m.offset + bits, True
            else:
                offset, prev_bitfield = m.offset + 8 * max(0, self._size(m.type)), False
        if is_struct:
            _padding(lines, indent, offset, 8 * t.size, self._align(t.id), False, t)
        else:
            self._union_tail(t, lines, indent)
        if len(lines) > 1:
            text = "\n".join(lines) + "\n" + "\t" * level + "}"
        else:
            text = head + "}"
        if packed:
            text += " __attribute__((packed))"
        return text + self._decl_tags(t.id, -1)

    def _union_tail(self, t: Type, lines: list[str], indent: str) -> None:
        """Make a union as big as BTF says when its members are smaller (the kernel has a
        memberless 8-byte one): every union member starts at 0, so the padding is one
        unnamed bitfield, or an anonymous struct of them when it is wider than a long."""
        end = 0
        for m in t.members:
            bits = m.bit_size if t.kind_flag else 0
            end = max(end, m.offset + (bits or 8 * max(0, self._size(m.type))))
        unit = 8 * self._align(t.id)
        if -(-end // unit) * unit >= 8 * t.size or 8 * t.size > 64 * _MAX_PAD_FIELDS:
            return
        pads: list[str] = []
        _padding(pads, indent + "\t", 0, 8 * t.size, 1, False, t)
        if len(pads) == 1:
            lines.append(pads[0][1:])
        else:
            lines.extend([f"{indent}struct {{", *pads, f"{indent}}};"])

    def _decl_tags(self, type_id: int, component: int) -> str:
        """``btf_decl_tag`` attributes BTF attaches to a record, member or typedef."""
        tags = self.decl_tags.get(type_id)
        if not tags:
            return ""
        return "".join(f" __attribute__(({tag.name}))" if tag.kind_flag
                       else f' __attribute__((btf_decl_tag("{tag.name}")))'
                       for tag in tags if tag.component == component)

    # declarators ---------------------------------------------------------------------

    def _decl(self, type_id: int, name: str, level: int) -> str:
        """``type_id`` declaring ``name`` in C syntax: parentheses where a pointer is wrapped
        by an array or function suffix (``int (*p)[4]``, ``void (*f)(int)``), anonymous
        types inline;
        qualifiers of the base type go first (``const char *``), others to the right of what
        they qualify (``char *const p``)."""
        types = self.types
        inner, pointer, prefix = name, False, ""
        t = types[type_id]
        while True:
            kind = t.kind
            if t.id == 0:
                base = "void"
                break
            if kind == Kind.TYPEDEF and t.name in _BUILTIN_TYPEDEFS and t.ref:
                t = types[t.ref]            # spelled out: the BPF target's own is another size
                continue
            if kind in _BASE_KINDS:
                base = self._base(t, level)
                break
            if kind == Kind.PTR:
                inner, pointer = "*" + inner, True
                t = types[t.ref]
            elif kind in _MODIFIERS or kind == Kind.TYPE_TAG:
                target = self._skip_modifiers(t.ref)
                if kind == Kind.TYPE_TAG:
                    word = f"__attribute__(({t.name}))" if t.kind_flag \
                        else f'__attribute__((btf_type_tag("{t.name}")))'
                else:
                    word = _MODIFIERS[kind]
                if kind != Kind.TYPE_TAG and (target.id == 0 or target.kind in _BASE_KINDS):
                    prefix += word + " "        # `const char *`, as people write it
                # C cannot qualify an array or function type itself; BTF from GCC sometimes does
                elif target.kind not in (Kind.ARRAY, Kind.FUNC_PROTO):
                    inner = f"{word} {inner}" if inner else word
                t = types[t.ref]
            elif kind == Kind.ARRAY:
                if pointer:
                    inner, pointer = f"({inner})", False
                inner = f"{inner}[{t.nelems}]"
                t = types[t.element]
            elif kind == Kind.FUNC_PROTO:
                if pointer:
                    inner, pointer = f"({inner})", False
                inner = f"{inner}({self._params(t, level)})"
                t = types[t.ref]
            else:
                raise CDumpError(f"type {t.id} ({kind.name}) cannot appear in a C declaration")
        if not inner:
            return prefix + base
        return f"{prefix}{base} {inner}"

    def _skip_modifiers(self, type_id: int) -> Type:
        t = self.types[type_id]
        while t.id and (t.kind in _MODIFIERS or t.kind == Kind.TYPE_TAG):
            t = self.types[t.ref]
        return t

    def _params(self, t: Type, level: int) -> str:
        """Parameter types only: a parameter name could shadow a typedef the next one uses."""
        if not t.members:
            return "void"
        params = [self._decl(p.type, "", level) for p in t.members]
        if t.members[-1].type == 0:
            params[-1] = "..."
        return ", ".join(params)

    def _base(self, t: Type, level: int) -> str:
        kind = t.kind
        if kind in (Kind.INT, Kind.FLOAT):
            return t.name
        if kind == Kind.TYPEDEF:
            return self._name(t, self.ident_counts)
        if kind in (Kind.STRUCT, Kind.UNION):
            return self._record_ref(t) if t.name else self._record_def(t, level)
        if kind in (Kind.ENUM, Kind.ENUM64):
            return f"enum {self._name(t, self.tag_counts)}" if t.name else self._enum_def(t, level)
        return self._record_ref(t)       # FWD

    # layout --------------------------------------------------------------------------

    def _size(self, type_id: int) -> int:
        t = self.btf.resolve(type_id)
        if t.kind in (Kind.FWD, Kind.FUNC_PROTO, Kind.VOID) or t.id == 0:
            return 0
        return self.btf.sizeof(type_id)

    def _align(self, type_id: int) -> int:
        """The alignment C gives the type as written here (1 for what must be packed)."""
        cached = self.aligns.get(type_id)
        if cached is not None:
            return cached
        t = self.types[type_id]
        kind = t.kind
        if kind in (Kind.INT, Kind.ENUM, Kind.ENUM64, Kind.FLOAT):
            align = min(8, t.size) or 1
        elif kind == Kind.PTR:
            align = 8
        elif kind in (Kind.TYPEDEF, Kind.CONST, Kind.VOLATILE, Kind.RESTRICT, Kind.TYPE_TAG):
            align = self._align(t.ref) if t.ref else 1
        elif kind == Kind.ARRAY:
            align = self._align(t.element)
        elif kind in (Kind.STRUCT, Kind.UNION):
            align = 1
            for m in t.members:
                member_align = self._align(m.type)
                if not (t.kind_flag and m.bit_size) and m.offset % (8 * member_align):
                    align = 0           # a misplaced member: the record must be packed
                    break
                align = max(align, member_align)
            if align == 0 or t.size % align:
                align = 1
        else:
            align = 1
        self.aligns[type_id] = align
        return align

    def _is_packed(self, t: Type) -> bool:
        """Whether only ``__attribute__((packed))`` reproduces the layout: a member off its
        natural alignment, or a size that is not a multiple of the largest alignment."""
        largest = 1
        for m in t.members:
            align = self._align(m.type)
            if not (t.kind_flag and m.bit_size) and m.offset % (8 * align):
                return True
            largest = max(largest, align)
        return t.size % largest != 0


def _natural_enum_size(t: Type) -> int:
    """The size C gives an enum from its values: 4 when they all fit ``int`` or all fit
    ``unsigned int``, else 8."""
    values = [m.value if t.kind_flag or t.kind == Kind.ENUM64 else m.value & 0xFFFFFFFF for m in t.members]
    if all(-(1 << 31) <= v < 1 << 31 for v in values) or all(0 <= v < 1 << 32 for v in values):
        return 4
    return 8


def _padding(lines: list[str], indent: str, offset: int, target: int, next_align: int,
             in_bitfield: bool, owner: Type) -> None:
    """Unnamed bitfields that move the next member (or the end) from bit ``offset`` to bit
    ``target``: first the widest type whose alignment lands inside the gap (with an explicit
    ``type: 0`` when the compiler would not align there by itself), then whole pads."""
    if offset >= target:
        return
    if target - offset > 64 * _MAX_PAD_FIELDS:
        raise CDumpError(f"type {owner.id} ({owner.kind.name} {owner.name or '(anon)'}): a gap of "
                         f"{(target - offset) // 8} bytes at byte {offset // 8} is more padding than a C "
                         f"declaration can spell ({_MAX_PAD_FIELDS} fields)")
    for pad_type, pad_bits in _PADS:  # noqa: B007 - the type found is used after the loop
        aligned = -(-offset // pad_bits) * pad_bits
        if aligned <= target:
            break
    if offset < aligned <= target:
        if (in_bitfield
                or (aligned == target and -(-offset // (next_align * 8)) * next_align * 8 != aligned)
                or (aligned != target and target - aligned <= aligned - offset)):
            lines.append(f"{indent}{pad_type}: {aligned - offset if in_bitfield else 0};")
        offset = aligned
    while offset != target:
        bits = min(target - offset, pad_bits)
        if bits == pad_bits:
            lines.append(f"{indent}{pad_type}: {pad_bits};")
            offset += bits
            continue
        for small_type, small_bits in reversed(_PADS):
            if small_bits >= bits:
                lines.append(f"{indent}{small_type}: {bits};")
                offset += bits
                break
