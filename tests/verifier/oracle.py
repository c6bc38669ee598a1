"""The kernel as the verifier's oracle: one generated program judged by BPF_PROG_LOAD
and by :func:`pybpf.verifier.verify`, on the same maps."""

from __future__ import annotations

import re
from typing import NamedTuple

from func_btf import function_btf
from generator import MAPS, Generated

from pybpf.engine import BPFError, VerifierError
from pybpf.object import ProgramSpec
from pybpf.verifier import map_info, verify

VM_MAPS = {number: map_info(number, spec.copy(max_entries=spec.max_entries or 4)) for number, spec in enumerate(MAPS)}


class Judged(NamedTuple):
    """One verifier's verdict: accepted, the failing message, the errno of a refusal."""

    accepted: bool
    message: str
    errno: int = 0


def vm_verdict(program: Generated) -> Judged:
    verdict = verify(program.instructions, program.kind, VM_MAPS, func_info=program.func_info)
    return Judged(verdict.accepted, verdict.message, verdict.errno)


class Kernel:
    """The maps, created once in the kernel, and loads of programs that use them."""

    def __init__(self) -> None:
        #: program type → its maps (a program array belongs to the first program type using it)
        self.maps: dict = {}

    def _maps(self, kind) -> dict:
        from pybpf.kernel.maps import create_map

        if kind not in self.maps:
            made = self.maps[kind] = {}
            for spec in MAPS:
                made[spec.name] = create_map(spec.copy(name=f"verifier_{spec.name}"[:15],
                                                       max_entries=spec.max_entries or 4))
        return self.maps[kind]

    def verdict(self, program: Generated) -> Judged:
        import os

        from pybpf.kernel.btf import load_btf
        from pybpf.kernel.programs import load_program

        btf = function_btf(program.instructions) if program.func_info else None
        spec = ProgramSpec("verifier_gen", program.kind, program.instructions, references=program.references, btf=btf)
        btf_fd = load_btf(btf.btf) if btf is not None else 0
        try:
            maps = self._maps(program.kind)
            loaded = load_program(spec, lambda name: maps[name].fd, btf_fd=btf_fd)
        except VerifierError as exc:
            # the message is the last line before the statistics and the state dumps that
            # follow some messages (a message without a newline runs into the statistics)
            log = re.sub(r"(?<!\n)processed \d+ insns", "\nprocessed 0 insns", exc.log)
            lines = [line for line in log.splitlines() if line.strip() and not line.startswith(
                ("processed", "stack depth", "verification time", "cur state:", "old state:"))]
            message = lines[-1] if lines else str(exc)
            # the loop message follows the jump's dump on its line
            message = re.sub(r"^\d+: \([0-9a-f]{2}\) .* (infinite loop detected)", r"\1", message)
            return Judged(False, message, exc.errno)
        except BPFError as exc:
            return Judged(False, str(exc), exc.errno)
        finally:
            if btf_fd:
                os.close(btf_fd)
        loaded.close()
        return Judged(True, "")

    def close(self) -> None:
        for made in self.maps.values():
            for one in made.values():
                one.close()
        self.maps.clear()
