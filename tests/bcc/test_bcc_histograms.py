"""print_log2_hist/print_linear_hist print BCC's layout, character for character (the
expected lines follow BCC's table.py format strings: header, ``low -> high : count |stars|``,
the 40-star bar, the half-width bar past bucket 32, struct keys as sections)."""

from __future__ import annotations

import ctypes

from pybpf.bcc.table import Table


class _FakeMap:
    """The byte-level primitives a kernel map offers, over a dict."""

    def __init__(self, entries: dict[bytes, bytes]):
        self.entries = entries
        self.spec = type("spec", (), {"type": 1, "max_entries": 64, "flags": 0})()

    def _lookup(self, key):
        return self.entries.get(key)

    def _next_key(self, key):
        keys = sorted(self.entries)
        if key is None:
            return keys[0] if keys else None
        later = [k for k in keys if k > key]
        return later[0] if later else None


def _table(values, key_type=ctypes.c_int, leaf=ctypes.c_uint64) -> Table:
    pairs = values.items() if isinstance(values, dict) else values
    entries = {bytes(key_type(k) if not isinstance(k, ctypes.Structure) else k): bytes(leaf(v)) for k, v in pairs}
    return Table(None, "dist", _FakeMap(entries), key_type, leaf)


def test_log2_layout(capsys):
    _table({1: 1, 2: 3, 4: 6}).print_log2_hist("usecs")
    assert capsys.readouterr().out.splitlines() == [
        "     usecs               : count     distribution",
        "         0 -> 1          : 1        |******                                  |",
        "         2 -> 3          : 3        |********************                    |",
        "         4 -> 7          : 0        |                                        |",
        "         8 -> 15         : 6        |****************************************|",
    ]


def test_log2_wide_layout_past_bucket_32(capsys):
    _table({33: 2, 34: 1}).print_log2_hist()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "               value                         : count     distribution"
    assert lines[-1] == " " * 10 + "8589934592 -> 17179869183" + " " * 9 + " : 1        |" + "*" * 10 + " " * 10 + "|"
    assert len(lines) == 35


def test_strip_leading_zero_and_empty(capsys):
    _table({5: 4}).print_log2_hist("ms", strip_leading_zero=True)
    assert capsys.readouterr().out.splitlines() == [
        "     ms                  : count     distribution",
        "        16 -> 31         : 4        |****************************************|"]
    _table({}).print_log2_hist()
    assert capsys.readouterr().out == ""


def test_linear_layout(capsys):
    _table({0: 2, 3: 8}).print_linear_hist("kbytes")
    assert capsys.readouterr().out.splitlines() == [
        "     kbytes        : count     distribution",
        "        0          : 2        |**********                              |",
        "        1          : 0        |                                        |",
        "        2          : 0        |                                        |",
        "        3          : 8        |****************************************|"]


class _Key(ctypes.Structure):
    _fields_ = [("disk", ctypes.c_char * 8), ("slot", ctypes.c_uint64)]


def test_sections_from_struct_keys(capsys):
    table = _table([(_Key(b"sda", 1), 5), (_Key(b"sdb", 2), 1)], key_type=_Key)
    table.print_log2_hist("usecs", "disk", section_print_fn=bytes.decode)
    assert capsys.readouterr().out.splitlines() == [
        "", "disk = sda",
        "     usecs               : count     distribution",
        "         0 -> 1          : 5        |****************************************|",
        "", "disk = sdb",
        "     usecs               : count     distribution",
        "         0 -> 1          : 0        |                                        |",
        "         2 -> 3          : 1        |****************************************|"]
