"""Random eBPF programs for differential runs (interpreter vs JIT, and the kernel for the
subset its verifier accepts): ALU of both widths, forward branches, stack and input
accesses (some out of bounds, misaligned or reading the stack before any write), legacy
packet loads past the end, atomics, helper calls (probe reads, skb_load_bytes,
trace_printk, map and tail-call helpers with bad handles, ``callx``), bpf-to-bpf calls
reading the caller's stack, and registers read before they are written.

Programs are assembly text (easy to read back when a run differs); every jump goes
forward, so every program ends — within the budget, or with a fault.
"""

from __future__ import annotations

import random

_ALU = ["+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "<<=", ">>=", "s>>=", "s/=", "s%=", "="]
_JUMPS = ["==", "!=", ">", ">=", "<", "<=", "s>", "s>=", "s<", "s<=", "&"]
_SIZES = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
_IMMEDIATES = [0, 1, -1, 2, 7, 8, 31, 32, 63, 64, 255, -(1 << 31), (1 << 31) - 1]


def _imm(rng: random.Random) -> int:
    return rng.choice(_IMMEDIATES) if rng.random() < 0.6 else rng.randint(-(1 << 31), (1 << 31) - 1)


def _reg(rng: random.Random, high: int = 5) -> int:
    return rng.randint(0, high)


def _alu(rng: random.Random, kernel: bool) -> str:
    op = rng.choice(_ALU)
    wide = rng.random() < 0.6
    name = "r" if wide else "w"
    dst = _reg(rng, 5 if not kernel else 4)
    if rng.random() < 0.5:
        src = _reg(rng, 5 if not kernel else 4)
        return f"{name}{dst} {op} {name}{src}"
    value = _imm(rng)
    if kernel and op in ("<<=", ">>=", "s>>="):   # the kernel refuses constant shifts out of range
        value &= 31
    if kernel and op in ("/=", "%=", "s/=", "s%=") and value == 0:
        value = 3
    return f"{name}{dst} {op} {value}"


def _stack_offset(rng: random.Random, size: int, misalign: bool) -> int:
    offset = -size * rng.randint(1, 512 // size)
    if misalign and size > 1 and rng.random() < 0.1:
        offset += 1
    if misalign and rng.random() < 0.03:
        offset = rng.choice([0, -520, 8])           # outside the stack
    return offset


def _memory(rng: random.Random, kernel: bool) -> list[str]:
    size = rng.choice([1, 2, 4, 8])
    kind = _SIZES[size]
    where = rng.random()
    if kernel or where < 0.6:                        # the stack
        offset = _stack_offset(rng, size, not kernel)
        if kernel:                                # slots -8..-64, all written first (see generate)
            offset = -8 * rng.randint(1, 8)
            if rng.random() < 0.5:
                return [f"*(u64 *)(r10 {offset:+d}) = r{_reg(rng, 4)}"]
            return [f"r{_reg(rng, 4)} = *({kind} *)(r10 {offset:+d})"]
        choice = rng.random()
        if choice < 0.35:
            return [f"*({kind} *)(r10 {offset:+d}) = r{_reg(rng)}"]
        if choice < 0.45:
            return [f"*({kind} *)(r10 {offset:+d}) = {_imm(rng)}"]
        if choice < 0.55 and size >= 4:
            op = rng.choice(["+=", "|=", "&=", "^="])
            return [f"lock *({kind} *)(r10 {offset:+d}) {op} r{_reg(rng)}"]
        if choice < 0.6 and size >= 4:
            return [f"r0 = atomic_cmpxchg(({kind} *)(r10 {offset:+d}), r0, r{_reg(rng)})"]
        if choice < 0.65:                             # by a run-time offset: r7 = the input length
            return ["r1 = r10", "r1 -= r7", f"r{_reg(rng)} = *({kind} *)(r1 +0)"]
        return [f"r{_reg(rng)} = *({kind} *)(r10 {offset:+d})"]
    if where < 0.85:                                  # the input (r6), some past its end
        offset = rng.randint(0, 20)
        if rng.random() < 0.5:
            return [f"*({kind} *)(r6 {offset:+d}) = r{_reg(rng)}"]
        return [f"r{_reg(rng)} = *({kind} *)(r6 {offset:+d})"]
    if where < 0.97:                                  # legacy packet loads (past the end: r0 = 0, stop)
        kind = rng.choice(["u8", "u16", "u32"])
        if rng.random() < 0.5:
            return [f"r0 = *({kind} *)skb[{rng.randint(0, 20)}]"]
        return [f"r0 = *({kind} *)skb[r{_reg(rng)} + {rng.randint(0, 8)}]"]
    return [f"*({kind} *)(r{_reg(rng)} {rng.randint(-8, 8):+d}) = r{_reg(rng)}"]  # wild addresses


def _helper(rng: random.Random) -> list[str]:
    choice = rng.randrange(9)
    if choice in (4, 8) and rng.random() < 0.7:   # the ones that mostly end the run: rarer
        choice = 6
    size = rng.choice([1, 4, 8, 16])
    if choice == 0:      # probe read from the input or the stack into the stack
        source = rng.choice(["r3 = r6", "r3 = r10\nr3 += -64"])
        return ["r1 = r10", f"r1 += -{size * rng.randint(1, 4)}", f"r2 = {size}", *source.split("\n"),
                "call bpf_probe_read_kernel"]
    if choice == 1:
        return ["r1 = r10", "r1 += -32", f"r2 = {rng.randint(1, 40)}", "r3 = r6", "call bpf_probe_read_kernel_str"]
    if choice == 2:      # skb_load_bytes: r1 is the context (unused by the vm)
        return ["r1 = 0", f"r2 = {rng.randint(0, 12)}", "r3 = r10", f"r3 += -{8 * rng.randint(1, 4)}",
                f"r4 = {rng.choice([1, 2, 4, 8])}", "call bpf_skb_load_bytes"]
    if choice == 3:      # trace_printk of a stack format ("%d\n")
        return ["r1 = 0x0a6425 ll", "*(u64 *)(r10 -48) = r1", "r1 = r10", "r1 += -48", "r2 = 4",
                f"r3 = r{rng.choice([0, 6, 7, 8])}", "call bpf_trace_printk"]
    if choice == 4:      # map helpers and a tail call with a handle that is no map
        name = rng.choice(["bpf_map_lookup_elem", "bpf_map_delete_elem", "bpf_tail_call"])
        return ["r1 = 0", "r2 = 0", "r3 = 0", f"call {name}"]
    if choice == 5:
        return [f"r{rng.choice([1, 3, 8])} = {rng.choice([8, 14, 999])}",   # deterministic helpers, or none
                f"callx r{rng.choice([1, 3, 8])}"]
    if choice == 6:
        return ["call bpf_get_smp_processor_id"]
    return [f"r{_reg(rng)} = r{_reg(rng)}", "call bpf_probe_read_kernel"]     # maybe unset arguments


def _set_registers(rng: random.Random, registers: list[int]) -> list[str]:
    return [f"r{r} = {_imm(rng)} ll" if rng.random() < 0.3 else f"r{r} = {_imm(rng)}" for r in registers]


def generate(rng: random.Random, length: int = 24, *, kernel: bool = False) -> str:
    """One random program (``kernel``: only what a socket filter may do and reads no
    register or stack slot before writing it, so the kernel's verifier accepts it)."""
    lines = ["r6 = r1", "r7 = r2"] if not kernel else ["r6 = r1"]
    unset = rng.randint(0, 5) if not kernel and rng.random() < 0.2 else -1   # sometimes one stays unset
    lines += _set_registers(rng, [r for r in range(5 if kernel else 6) if r != unset])
    if not kernel and rng.random() < 0.5:
        lines.append("r8 = 1")
    if kernel:                                    # the kernel's stack is not zeroed: write before reading
        lines += [f"*(u64 *)(r10 {-8 * k}) = r{k % 5}" for k in range(1, 9)]
    labels = 0
    pending: list[tuple[int, str]] = []
    body: list[str] = []
    call_sub = not kernel and rng.random() < 0.2
    for n in range(length):
        while pending and pending[0][0] <= n:
            body.append(f"{pending.pop(0)[1]}:")
        roll = rng.random()
        if roll < 0.45:
            body.append(_alu(rng, kernel))
        elif roll < 0.7:
            body.extend(_memory(rng, kernel))
        elif roll < 0.85:
            label = f"l{labels}"
            labels += 1
            pending.append((n + rng.randint(1, 6), label))
            pending.sort()
            a = rng.randint(0, 4)
            op = rng.choice(_JUMPS)
            other = f"r{rng.randint(0, 4)}" if rng.random() < 0.5 else str(_imm(rng))
            wide = "r" if kernel or rng.random() < 0.7 else "w"
            other = other.replace("r", "w") if wide == "w" else other
            body.append(f"if {wide}{a} {op} {other} goto {label}")
        elif not kernel:
            body.extend(_helper(rng))
            if rng.random() < 0.85:              # helpers clobber r1-r5: mostly set them again
                body.extend(_set_registers(rng, [1, 2, 3, 4, 5]))
        if call_sub and n == length // 2:
            body.extend(["r1 = r10", "r1 += -8", "call sub"])
    for _, label in pending:
        body.append(f"{label}:")
    if not kernel and rng.random() < 0.1:
        body.append("r0 = r9")                       # an unset register at the end
    if kernel:
        body.append("r0 &= 0xffff")
    body.append("exit")
    if call_sub:
        body += ["sub:", "r0 = *(u64 *)(r1 +0)", "*(u64 *)(r10 -8) = r0", "r0 += 1", "exit"]
    return "\n".join(lines + body) + "\n"
