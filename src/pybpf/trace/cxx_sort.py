"""libstdc++'s ``std::sort``, step for step, so that entries with equal sort keys come out
in the order bpftrace prints them.

bpftrace sorts a hist/lhist map by total count and an avg/stats map by average with
``std::sort`` (an introsort: not stable) over the entries in their key bytes' order, so
the order of ties is a function of that input, not of the kernel's hash order. Python's
stable sort would give a different, equally arbitrary, order past 16 entries. The steps
are GCC's ``bits/stl_algo.h`` and ``bits/stl_heap.h``: ``__introsort_loop`` (median of
three, unguarded partition, heap sort past a depth of 2 log2 n), then
``__final_insertion_sort`` (threshold 16)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

_THRESHOLD = 16


def cxx_sort(items: Sequence, key: Callable) -> list:
    """``items`` ordered by ``key`` (compared with ``<``) as ``std::sort`` orders them."""
    values = list(items)
    keys = [key(item) for item in values]
    pairs = list(zip(keys, range(len(values))))
    if len(pairs) > 1:
        _introsort(pairs, 0, len(pairs), 2 * (len(pairs).bit_length() - 1))
        _final_insertion_sort(pairs, 0, len(pairs))
    return [values[index] for _, index in pairs]


def _less(a: tuple, b: tuple) -> bool:
    return a[0] < b[0]


def _introsort(a: list, first: int, last: int, depth: int) -> None:
    while last - first > _THRESHOLD:
        if depth == 0:
            _heap_sort(a, first, last)
            return
        depth -= 1
        cut = _partition_pivot(a, first, last)
        _introsort(a, cut, last, depth)
        last = cut


def _partition_pivot(a: list, first: int, last: int) -> int:
    mid = first + (last - first) // 2
    _median_to_first(a, first, first + 1, mid, last - 1)
    left, right, pivot = first + 1, last, a[first]
    while True:
        while _less(a[left], pivot):
            left += 1
        right -= 1
        while _less(pivot, a[right]):
            right -= 1
        if not left < right:
            return left
        a[left], a[right] = a[right], a[left]
        left += 1


def _median_to_first(a: list, result: int, i: int, j: int, k: int) -> None:
    if _less(a[i], a[j]):
        chosen = j if _less(a[j], a[k]) else k if _less(a[i], a[k]) else i
    else:
        chosen = i if _less(a[i], a[k]) else k if _less(a[j], a[k]) else j
    a[result], a[chosen] = a[chosen], a[result]


def _final_insertion_sort(a: list, first: int, last: int) -> None:
    if last - first > _THRESHOLD:
        _insertion_sort(a, first, first + _THRESHOLD)
        for i in range(first + _THRESHOLD, last):
            _linear_insert(a, i)
    else:
        _insertion_sort(a, first, last)


def _insertion_sort(a: list, first: int, last: int) -> None:
    for i in range(first + 1, last):
        if _less(a[i], a[first]):
            a[first:i + 1] = [a[i]] + a[first:i]
        else:
            _linear_insert(a, i)


def _linear_insert(a: list, last: int) -> None:
    value = a[last]
    while _less(value, a[last - 1]):
        a[last] = a[last - 1]
        last -= 1
    a[last] = value


def _heap_sort(a: list, first: int, last: int) -> None:
    """``std::__partial_sort(first, last, last)``: make_heap, then sort_heap."""
    length = last - first
    for parent in range((length - 2) // 2, -1, -1):
        _adjust_heap(a, first, parent, length, a[first + parent])
    while last - first > 1:
        last -= 1
        value = a[last]
        a[last] = a[first]
        _adjust_heap(a, first, 0, last - first, value)


def _adjust_heap(a: list, first: int, hole: int, length: int, value: tuple) -> None:
    top = child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if _less(a[first + child], a[first + child - 1]):
            child -= 1
        a[first + hole] = a[first + child]
        hole = child
    if length % 2 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        a[first + hole] = a[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and _less(a[first + parent], value):
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = value
