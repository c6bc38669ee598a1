"""pybpf.vm.helpers: the registry is the family modules' tables merged in one place, every
family module is listed, and the families refuse unknown names and duplicate ids."""

import importlib
import pkgutil

import pytest

import pybpf.vm.helpers as helpers
from pybpf.isa.helpers import helper_id
from pybpf.vm.helpers.registry import Family


def test_the_registry_is_the_listed_families_merged():
    merged = {number: fn for family in helpers.FAMILIES for number, fn in family.table.items()}
    assert helpers.HELPERS.keys() >= merged.keys()
    assert all(helpers.HELPERS[number] is fn for number, fn in merged.items())
    assert sum(len(family.table) for family in helpers.FAMILIES) == len(merged)


def test_every_family_module_is_listed():
    listed = {id(family) for family in helpers.FAMILIES}
    for info in pkgutil.iter_modules(helpers.__path__):
        module = importlib.import_module(f"{helpers.__name__}.{info.name}")
        family = getattr(module, "FAMILY", None)
        if family is not None:
            assert id(family) in listed, f"{info.name} defines helpers the registry does not list"


def test_a_family_refuses_unknown_names_and_duplicate_ids():
    family = Family("test")
    with pytest.raises(ValueError, match="bpf_no_such_helper is not a kernel helper"):
        family.helper("bpf_no_such_helper")
    family.helper("bpf_ktime_get_ns")(lambda vm, *_: 1)
    with pytest.raises(ValueError, match="defined twice in the test family"):
        family.helper("bpf_ktime_get_ns")(lambda vm, *_: 2)


def test_two_families_defining_one_id_are_refused():
    first, second = Family("first"), Family("second")
    first.helper("bpf_ktime_get_ns")(lambda vm, *_: 1)
    second.helper("bpf_ktime_get_ns")(lambda vm, *_: 2)
    with pytest.raises(ValueError, match="more than one family"):
        helpers._merged((first, second))


def test_a_user_helper_replaces_the_registry_entry():
    number = helper_id("bpf_get_prandom_u32")
    original = helpers.HELPERS[number]
    try:
        @helpers.helper("bpf_get_prandom_u32")
        def four(vm, *_):
            return 4
        assert helpers.HELPERS[number] is four
    finally:
        helpers.HELPERS[number] = original
