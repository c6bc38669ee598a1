"""Random eBPF programs for differential runs (interpreter, JIT, kernel): straight-line
code with forward branches, ALU on possibly-uninitialised registers, stack and input
accesses in and out of bounds (the stack read before it is written, too), helper calls
that read and write memory, and bpf-to-bpf calls. Programs are drawn from a seeded
``random.Random``: a failing seed reproduces its program exactly."""

from __future__ import annotations

import random

ALU = ["+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "<<=", ">>=", "s>>=", "="]
JUMPS = ["==", "!=", ">", ">=", "<", "<=", "s>", "s>=", "s<", "s<=", "&"]
SIZES = ["u8", "u16", "u32", "u64"]
BYTES = {"u8": 1, "u16": 2, "u32": 4, "u64": 8}


def _reg(rng: random.Random, written: set[int], uninit_rate: float) -> int:
    if written and rng.random() > uninit_rate:
        return rng.choice(sorted(written))
    return rng.randrange(0, 10)


def _stack_offset(rng: random.Random, size: int) -> int:
    if rng.random() < 0.08:                        # out of bounds, or misaligned
        return rng.choice([8, 0, -520, -513, -3, -511])
    return -size * rng.randrange(1, 512 // size + 1)


def program(rng: random.Random, length: int = 24, uninit_rate: float = 0.05,
            helpers: bool = True, calls: bool = True) -> str:
    """Assembly text of one random program (verifier-log syntax, as ``pybpf asm`` reads)."""
    lines: list[str] = []
    written = {1, 2}                                # r1 = input, r2 = its length
    for _ in range(rng.randrange(0, 3)):            # some registers start set
        reg = rng.randrange(3, 10)
        lines.append(f"r{reg} = {rng.randrange(-5, 300)}")
        written.add(reg)
    body_end = length
    for i in range(length):
        kind = rng.random()
        if kind < 0.35:
            dst = _reg(rng, written, uninit_rate) if rng.random() < 0.7 else rng.randrange(0, 10)
            op = rng.choice(ALU)
            wide = "r" if rng.random() < 0.7 else "w"
            if rng.random() < 0.5:
                imm = rng.choice([0, 1, 2, 7, 31, 32, 63, -1, rng.randrange(-2**31, 2**31)])
                if op in ("<<=", ">>=", "s>>=") and rng.random() < 0.9:
                    imm = rng.randrange(0, 64 if wide == "r" else 32)
                lines.append(f"{wide}{dst} {op} {imm}")
            else:
                src = _reg(rng, written, uninit_rate)
                lines.append(f"{wide}{dst} {op} {wide}{src}")
            written.add(dst)
        elif kind < 0.50:                           # stack store
            size = rng.choice(SIZES)
            off = _stack_offset(rng, BYTES[size])
            if rng.random() < 0.5:
                lines.append(f"*({size} *)(r10 {off:+d}) = {rng.randrange(-1000, 1000)}")
            else:
                lines.append(f"*({size} *)(r10 {off:+d}) = r{_reg(rng, written, uninit_rate)}")
        elif kind < 0.62:                           # stack load (maybe never written)
            size = rng.choice(SIZES)
            dst = rng.randrange(0, 10)
            lines.append(f"r{dst} = *({size} *)(r10 {_stack_offset(rng, BYTES[size]):+d})")
            written.add(dst)
        elif kind < 0.70:                           # input load, maybe past its end
            size = rng.choice(SIZES)
            dst = rng.randrange(3, 10)
            lines.append(f"r{dst} = *({size} *)(r1 {rng.randrange(0, 40):+d})")
            written.add(dst)
        elif kind < 0.76:                           # a stack address computed at run time
            dst = rng.randrange(3, 10)
            lines.append(f"r{dst} = r10")
            lines.append(f"r{dst} -= r2" if rng.random() < 0.5 else f"r{dst} += {rng.randrange(-520, 8)}")
            size = rng.choice(SIZES)
            lines.append(f"r0 = *({size} *)(r{dst} +0)")
            written.update({dst, 0})
        elif kind < 0.88 and i < length - 2:        # forward jump
            a = _reg(rng, written, uninit_rate)
            op = rng.choice(JUMPS)
            target = rng.randrange(0, min(6, length - i))
            if rng.random() < 0.5:
                lines.append(f"if r{a} {op} {rng.randrange(-3, 40)} goto +{target}")
            else:
                lines.append(f"if r{a} {op} r{_reg(rng, written, uninit_rate)} goto +{target}")
        elif helpers and kind < 0.96:
            lines.extend(_helper_call(rng))
            written = {0, 6, 7, 8, 9} & written | {0}
        else:
            reg = rng.randrange(0, 10)
            lines.append(f"r{reg} = {rng.randrange(-2**31, 2**31)} ll" if rng.random() < 0.3
                         else f"r{reg} = {rng.randrange(-100, 100)}")
            written.add(reg)
    del body_end
    if rng.random() < 0.9:
        lines.append(f"r0 = r{_reg(rng, written, uninit_rate)}")
    lines.append("exit")
    if calls and rng.random() < 0.25:               # a subprogram called from the start
        callee = ["r0 = r1", "r0 += 3", "*(u64 *)(r10 -8) = r0", "r0 = *(u64 *)(r10 -8)", "exit"]
        lines = ["r3 = r1", f"call pc+{len(lines) + 1}", "r1 = r3", *lines, *callee]
    return "\n".join(lines) + "\n"


def _helper_call(rng: random.Random) -> list[str]:
    """Set up and call a helper that reads or writes memory (deterministic ones only)."""
    size = rng.choice([1, 4, 8, 16, 32])
    dst = -size * rng.randrange(1, 4) if rng.random() < 0.9 else rng.choice([-520, 0])
    src = rng.choice(["r10", "r1"])
    src_off = -8 * rng.randrange(1, 8) if src == "r10" else rng.randrange(0, 16)
    name = rng.choice(["bpf_probe_read_kernel", "bpf_probe_read_kernel_str", "bpf_probe_read",
                       "bpf_get_smp_processor_id", "bpf_trace_printk"])
    if name == "bpf_get_smp_processor_id":
        return [f"call {name}"]
    if name == "bpf_trace_printk":
        return ["*(u64 *)(r10 -16) = 0x0a6425", "r1 = r10", "r1 += -16", "r2 = 4", "r3 = 42", f"call {name}"]
    return [f"r3 = {src}", f"r3 += {src_off}", "r1 = r10", f"r1 += {dst}", f"r2 = {size}", f"call {name}"]
