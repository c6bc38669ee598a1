"""C ``_Static_assert`` lines pinning the layouts BTF records (sizes and member offsets),
for checking that a header written from that BTF compiles to the same layouts."""

from __future__ import annotations

from collections import Counter

from pybpf.btf import BTF, Kind

TAG_KINDS = (Kind.STRUCT, Kind.UNION, Kind.ENUM, Kind.ENUM64)


def unique_records(btf: BTF) -> list[int]:
    """Named structs and unions whose name no other struct, union or enum has (so their C
    name is their BTF name, with no ``___N`` suffix)."""
    counts = Counter(t.name for t in btf.types if t.kind in TAG_KINDS and t.name)
    return [t.id for t in btf.types if t.kind in (Kind.STRUCT, Kind.UNION) and t.name and counts[t.name] == 1]


def layout_asserts(btf: BTF, type_ids: list[int]) -> str:
    """One assert per size and per named, non-bitfield member offset; the message names
    the type and member, so a failure says which."""
    lines = []
    for type_id in type_ids:
        t = btf[type_id]
        c_name = f"{t.kind.name.lower()} {t.name}"
        lines.append(f'_Static_assert(sizeof({c_name}) == {t.size}, "sizeof {t.name}");')
        for m in t.members:
            if m.name and not m.bit_size:
                lines.append(f"_Static_assert(__builtin_offsetof({c_name}, {m.name}) == {m.offset // 8}, "
                             f'"offsetof {t.name}.{m.name}");')
    return "\n".join(lines) + "\n"


def record_layouts(btf: BTF) -> dict[str, tuple]:
    """{name: (size, ((member, bit offset, bitfield size), ...))} for named records."""
    return {t.name: (t.size, tuple((m.name, m.offset, m.bit_size) for m in t.members))
            for t in btf.types if t.kind in (Kind.STRUCT, Kind.UNION) and t.name}
