"""The JIT's disk cache (pybpf.vm.jit.native): a program compiled once is loaded from
disk by the next process, a damaged entry is rebuilt, the cache can be turned off; and
``CompiledProgram.run_batch`` gives what ``run`` gives, without copying its inputs."""

from __future__ import annotations

import array
import ctypes
import os
import random
import subprocess
import sys

import pytest

from pybpf.isa import assemble
from pybpf.vm import VMError
from pybpf.vm.jit import compile_program, runtime

PROGRAM = "r0 = *(u8 *)(r1 +0)\nr0 += r2\nexit"


@pytest.fixture
def jit_cache(tmp_path, monkeypatch):
    """A private disk cache, and an empty in-memory cache (so that compile_program
    looks on disk)."""
    directory = tmp_path / "jit"
    monkeypatch.setenv("PYBPF_CACHE", str(tmp_path))
    runtime._CACHE.clear()
    yield directory
    runtime._CACHE.clear()


def _entries(directory):
    return sorted(directory.glob("bpf-*.so"))


def test_miss_then_hit(jit_cache):
    compiled = compile_program(assemble(PROGRAM))
    assert compiled.origin == "compiled"
    assert len(_entries(jit_cache)) == 1
    runtime._CACHE.clear()
    loaded = compile_program(assemble(PROGRAM))
    assert loaded is not compiled and loaded.origin == "disk cache"
    assert loaded.run_many([b"\x01", b"\x05\x00"]) == compiled.run_many([b"\x01", b"\x05\x00"]) == [2, 7]
    # code loaded from disk still reports faults with the interpreter's message
    with pytest.raises(VMError, match="instruction 0: .*read of 1 bytes at 0x100000000"):
        loaded.run(b"")


_COMPILE = """
from pybpf.isa import assemble
from pybpf.vm.jit import compile_program
compiled = compile_program(assemble({program!r}))
print(compiled.origin, compiled.run_many([b"\\x09\\x00\\x00"]))
"""


def _compile_in_a_new_process(directory) -> str:
    """What a new process makes of the cache (an entry a process has loaded stays
    mapped, and dlopen hands the same process the same library for the same name)."""
    env = dict(os.environ, PYBPF_CACHE=str(directory))
    return subprocess.run([sys.executable, "-c", _COMPILE.format(program=PROGRAM)], env=env, capture_output=True,
                          text=True, check=True).stdout.strip()


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty"])
def test_a_damaged_entry_is_rebuilt(tmp_path, damage):
    assert _compile_in_a_new_process(tmp_path) == "compiled [12]"
    [entry] = _entries(tmp_path / "jit")
    data = bytearray(entry.read_bytes())
    if damage == "truncate":          # what a crash part-way through a copy leaves: dlopen accepts it
        data = data[:len(data) // 2]
    elif damage == "flip":
        data[len(data) // 3] ^= 0xFF
    elif damage == "garbage":
        data = bytearray(b"not a shared object")
    else:
        data = bytearray()
    entry.write_bytes(data)
    assert _compile_in_a_new_process(tmp_path) == "compiled [12]"
    assert _compile_in_a_new_process(tmp_path) == "disk cache [12]"      # the entry is whole again


def test_different_programs_different_entries(jit_cache):
    one, two = compile_program(assemble("r0 = 1\nexit")), compile_program(assemble("r0 = 2\nexit"))
    assert (one.run().retval, two.run().retval) == (1, 2)
    assert len(_entries(jit_cache)) == 2


def test_the_cache_can_be_turned_off(jit_cache, monkeypatch):
    monkeypatch.setenv("PYBPF_CACHE", "off")
    compiled = compile_program(assemble(PROGRAM))
    assert compiled.origin == "compiled, not cached"
    assert compiled.run_many([b"\x01"]) == [2]
    assert not jit_cache.exists()


def test_an_invalid_program_is_still_refused(jit_cache):
    with pytest.raises(VMError, match="lands outside the program"):
        compile_program(assemble("goto +5\nexit"))      # the load-time check runs on a miss
    assert not jit_cache.exists() or not _entries(jit_cache)


_WARM = """
import sys
from pybpf.cbpf import to_ebpf
from pybpf.pcapfilter.matcher import Matcher
from pybpf.pcapfilter.walker import native
matcher = Matcher("tcp port 80")
assert matcher.uses_jit(1)
print(matcher._for(1).compiled.origin, native().code.origin)
print(sorted(m for m in ("llvmlite.binding", "llvmlite.ir", "pybpf.vm.interpreter", "pybpf.vm.jit.translate",
                         "pybpf.engine", "pybpf.object") if m in sys.modules))
"""


def test_a_new_process_loads_the_filter_and_walker_without_llvm(tmp_path):
    env = dict(os.environ, PYBPF_CACHE=str(tmp_path))
    first = subprocess.run([sys.executable, "-c", _WARM], env=env, capture_output=True, text=True, check=True)
    assert first.stdout.splitlines()[0] == "compiled compiled"
    second = subprocess.run([sys.executable, "-c", _WARM], env=env, capture_output=True, text=True, check=True)
    assert second.stdout.splitlines() == ["disk cache disk cache", "[]"]


def _inputs(rng: random.Random, count: int) -> list[bytes]:
    return [bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 40))) for _ in range(count)]


def test_run_batch_equals_run():
    program = compile_program(assemble("r0 = *(u8 *)(r1 +0)\nr3 = *(u8 *)(r1 +0)\nr0 *= r3\nr0 += r2\nexit"))
    inputs = _inputs(random.Random(5), 300)
    memory = bytearray(b"".join(inputs))
    base = ctypes.addressof((ctypes.c_char * len(memory)).from_buffer(memory))
    offsets = [0]
    for data in inputs:
        offsets.append(offsets[-1] + len(data))
    expected = [program.run(data).retval for data in inputs]
    hosts = (ctypes.c_uint64 * len(inputs))(*[base + offset for offset in offsets[:-1]])
    lengths = (ctypes.c_uint64 * len(inputs))(*map(len, inputs))
    results = (ctypes.c_uint64 * len(inputs))()
    program.run_batch(hosts, lengths, results)
    assert list(results) == expected
    # any buffer of 8-byte integers will do (no copy is made)
    host_array, length_array = array.array("Q", hosts), array.array("Q", lengths)
    result_array = array.array("Q", bytes(8 * len(inputs)))
    program.run_batch(host_array, length_array, result_array, count=100)
    assert list(result_array[:100]) == expected[:100] and not any(result_array[100:])


def test_run_batch_faults_like_run():
    program = compile_program(assemble(PROGRAM))
    data = bytearray(b"\x03\x04")
    base = ctypes.addressof((ctypes.c_char * len(data)).from_buffer(data))
    hosts = (ctypes.c_uint64 * 3)(base, base + 1, base)
    lengths = (ctypes.c_uint64 * 3)(2, 1, 0)                 # the third is empty: its load faults
    results = (ctypes.c_uint64 * 3)()
    with pytest.raises(VMError) as batch_error:
        program.run_batch(hosts, lengths, results)
    with pytest.raises(VMError) as run_error:
        program.run(b"")
    assert str(batch_error.value) == str(run_error.value)
    assert list(results[:2]) == [5, 5]


def test_run_batch_checks_its_arrays():
    program = compile_program(assemble(PROGRAM))
    with pytest.raises(ValueError, match="lengths: need 2"):
        program.run_batch((ctypes.c_uint64 * 2)(), (ctypes.c_uint64 * 1)(), (ctypes.c_uint64 * 2)())
    with pytest.raises(ValueError, match="results: need a contiguous buffer"):
        program.run_batch((ctypes.c_uint64 * 1)(), (ctypes.c_uint64 * 1)(), array.array("I", [0, 0]))


def test_a_world_writable_cache_directory_is_not_used(tmp_path, monkeypatch, caplog):
    directory = tmp_path / "shared"
    directory.mkdir()
    directory.chmod(0o777)             # a pre-created directory anyone may have filled
    monkeypatch.setenv("PYBPF_CACHE", str(directory))
    runtime._CACHE.clear()
    compiled = compile_program(assemble(PROGRAM))
    runtime._CACHE.clear()
    assert compiled.origin == "compiled, not cached" and compiled.run_many([b"\x01"]) == [2]
    assert not (directory / "jit").exists() or not _entries(directory / "jit")
    assert "writable by group and others (mode 0777)" in caplog.text


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_cache_directory_of_another_user_is_not_used(tmp_path, monkeypatch, caplog):
    directory = tmp_path / "theirs"
    directory.mkdir(mode=0o700)
    os.chown(directory, 65534, 65534)
    monkeypatch.setenv("PYBPF_CACHE", str(directory))
    runtime._CACHE.clear()
    compiled = compile_program(assemble(PROGRAM))
    runtime._CACHE.clear()
    assert compiled.origin == "compiled, not cached"
    assert "owned by uid 65534" in caplog.text


def test_an_entry_others_may_write_is_not_loaded(jit_cache, caplog):
    compile_program(assemble(PROGRAM))
    [entry] = _entries(jit_cache)
    assert entry.stat().st_mode & 0o777 == 0o600
    entry.chmod(0o666)
    runtime._CACHE.clear()
    assert compile_program(assemble(PROGRAM)).origin != "disk cache"
    assert "writable by group and others" in caplog.text
