"""Random eBPF programs, safe and unsafe in the ways the verifier must tell apart.

Each program is assembled from snippets (scalar arithmetic, stack stores and loads,
map lookups with or without their NULL check, context reads, packet access behind a
``data + N > data_end`` check, helpers with right and wrong arguments, ring-buffer
reserve/submit with and without the release, bounded and unbounded loops, bpf-to-bpf
calls, bpf_loop callbacks, variable offsets into map values). Every snippet draws its
constants at random, so each may be right or off by a little: the kernel decides which.
``r6`` holds the context throughout; snippets use r0-r5 and r7-r9 as scratch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pybpf.isa import Instruction, assemble
from pybpf.object import MapSpec, ProgramType

#: the maps every generated program may use, by their ``map[fd:N]`` number
MAPS = (
    MapSpec("hash", "hash", 4, 8, 16),
    MapSpec("array", "array", 4, 48, 4),
    MapSpec("ring", "ringbuf", 0, 0, 4096),
    MapSpec("progs", "prog_array", 4, 4, 4),
    MapSpec("events", "perf_event_array", 4, 4, 0),
    MapSpec("queue", "queue", 0, 8, 8),
)
HASH, ARRAY, RING, PROGS, EVENTS, QUEUE = range(6)
TYPES = (ProgramType.SOCKET_FILTER, ProgramType.SCHED_CLS, ProgramType.XDP, ProgramType.KPROBE,
         ProgramType.TRACEPOINT, ProgramType.CGROUP_SKB, ProgramType.RAW_TRACEPOINT, ProgramType.PERF_EVENT,
         ProgramType.SCHED_ACT, ProgramType.LWT_XMIT, ProgramType.LWT_IN, ProgramType.SK_SKB)
_PACKET = {ProgramType.SCHED_CLS: (76, 80, 4), ProgramType.XDP: (0, 4, 4), ProgramType.CGROUP_SKB: (76, 80, 4),
           ProgramType.SOCKET_FILTER: (76, 80, 4)}
_SIZES = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}


@dataclass
class Generated:
    kind: ProgramType
    text: str
    instructions: list[Instruction]
    #: the program carries BTF function info (callbacks need it)
    func_info: bool = False

    @property
    def references(self) -> dict[int, str]:
        """lddw index → map name (``map[fd:N]`` names ``MAPS[N]``)."""
        return {i: MAPS[ins.imm & 0xFFFF_FFFF].name for i, ins in enumerate(self.instructions)
                if ins.is_lddw and ins.src in (1, 2)}


class Generator:
    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.label = 0

    def fresh(self) -> str:
        self.label += 1
        return f"l{self.label}"

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def off(self, good: list[int], bad: list[int]) -> int:
        return self.r.choice(bad) if self.chance(0.15) else self.r.choice(good)

    def program(self) -> Generated:
        kind = self.r.choice(TYPES)
        self.kind = kind
        self.functions: list[str] = []
        lines = ["r6 = r1"]
        for _ in range(self.r.randint(1, 4)):
            snippet = self.r.choice(_SNIPPETS)
            lines += snippet(self)
        if kind == ProgramType.CGROUP_SKB and self.chance(0.8):
            lines.append(f"r0 = {self.r.choice([0, 1, 1, 1, 2])}")
        elif not self.chance(0.04):
            lines.append(f"r0 = {self.r.choice([0, 1, 2, -1])}")
        lines.append("exit")
        for body in self.functions:
            lines += body
        text = "\n".join(lines)
        # BTF function info mostly with callbacks, sometimes without (and sometimes missing)
        func_info = self.chance(0.85 if "func[" in text else 0.2)
        return Generated(kind, text, assemble(text), func_info)

    # -- snippets ---------------------------------------------------------------------

    def scalars(self) -> list[str]:
        ops = ["+=", "-=", "*=", "&=", "|=", "^=", "<<=", ">>=", "s>>=", "/=", "%="]
        out = [f"r{reg} = {self.r.randint(-100, 1000)}" for reg in (7, 8)]
        for _ in range(self.r.randint(1, 5)):
            op = self.r.choice(ops)
            dst = self.r.choice((7, 8, 9) if self.chance(0.1) else (7, 8))
            width = "w" if self.chance(0.3) else "r"
            if self.chance(0.5):
                src = f"{width}{self.r.choice((7, 8))}"
            else:
                src = str(self.r.randint(0 if op in ("/=", "%=") else -5, 63 if "<" in op or ">" in op else 100))
                if op in ("/=", "%=") and src == "0" and not self.chance(0.3):
                    src = "3"
            out.append(f"{width}{dst} {op} {src}")
        return out

    def stack(self) -> list[str]:
        size = self.r.choice((1, 2, 4, 8))
        off = self.off([-8, -16, -24, -64, -512 + 8 * self.r.randint(0, 3)], [-516, -520, 0, -3, -6, 8, -511])
        off -= off % size if self.chance(0.9) else 0
        out = []
        if self.chance(0.85):
            out.append(f"*({_SIZES[size]} *)(r10 {off:+d}) = {self.r.randint(0, 99) if self.chance(0.3) else 'r6'}"
                       if size == 8 and self.chance(0.3) else f"*({_SIZES[size]} *)(r10 {off:+d}) = {self.r.randint(0, 99)}")
        read = self.r.choice((1, 2, 4, 8))
        read_off = off if self.chance(0.7) else off + self.r.choice((-8, -4, 2, 4))
        out.append(f"r7 = *({_SIZES[read]} *)(r10 {read_off:+d})")
        if "r6" in out[0] and self.chance(0.5):
            out.append("r7 = *(u32 *)(r7 + 0)")
        return out

    def map_lookup(self) -> list[str]:
        which = self.r.choice((HASH, ARRAY))
        value = MAPS[which].value_size
        key_off = self.off([-4, -8], [-2, -1])
        out = []
        if self.chance(0.9):
            out.append(f"*(u32 *)(r10 {key_off:+d}) = {self.r.randint(0, 5)}")
        out += [f"r1 = map[fd:{which}]", "r2 = r10", f"r2 += {key_off}", "call bpf_map_lookup_elem"]
        done = self.fresh()
        size = self.r.choice((1, 2, 4, 8))
        off = self.off([0, value - size, 8], [value, value - size + 1, -8, value + 8])
        if self.chance(0.85):
            out.append(f"if r0 == 0 goto {done}")
        if self.chance(0.3):
            out += ["r1 = r0", f"r7 = *({_SIZES[size]} *)(r1 {off:+d})"]
        elif self.chance(0.5):
            out.append(f"*({_SIZES[size]} *)(r0 {off:+d}) = {self.r.randint(0, 9)}")
        else:
            out.append(f"r7 = *({_SIZES[size]} *)(r0 {off:+d})")
        if self.chance(0.3):          # a variable index, bounded or not
            mask = self.r.choice((7, 15, 31, 63, 0xFF))
            out += ["r8 = r0", "call bpf_get_prandom_u32", f"r0 &= {mask}" if self.chance(0.8) else "r0 += 0",
                    "r8 += r0", "r7 = *(u8 *)(r8 + 0)"]
        out.append(f"{done}:")
        return out

    def update(self) -> list[str]:
        out = ["*(u32 *)(r10 -4) = 1", "*(u64 *)(r10 -16) = 2" if self.chance(0.9) else "r0 = 0",
               f"r1 = map[fd:{self.r.choice((HASH, HASH, ARRAY, RING))}]", "r2 = r10", "r2 += -4", "r3 = r10",
               f"r3 += {self.r.choice((-16, -16, -8, -12))}", "r4 = 0", "call bpf_map_update_elem"]
        return out

    def context(self) -> list[str]:
        kind = self.kind
        choices = {ProgramType.KPROBE: [0, 8, 104, 160], ProgramType.PERF_EVENT: [0, 168, 176],
                   ProgramType.TRACEPOINT: [8, 16, 24], ProgramType.RAW_TRACEPOINT: [0, 8, 16],
                   ProgramType.XDP: [0, 4, 12, 16], }.get(kind, [0, 4, 8, 16, 36, 48, 68])
        off = self.off(choices, [168, 200, 2, 20, 76, 1000, 8192, 96, 4])
        size = self.r.choice((4, 8)) if self.chance(0.8) else self.r.choice((1, 2))
        if self.chance(0.15):
            return [f"*(u32 *)(r6 {off:+d}) = r7" if self.chance(0.5) else f"*(u32 *)(r6 {off:+d}) = 1",
                    "r7 = 0"]
        out = [f"r7 = *({_SIZES[size]} *)(r6 {off:+d})"]
        if self.chance(0.1):
            out = ["r1 = r6", f"r1 += {self.r.choice((4, 8))}", "r7 = *(u32 *)(r1 +0)"]
        return out

    def packet(self) -> list[str]:
        layout = _PACKET.get(self.kind, (76, 80, 4))
        data, end, _ = layout
        n = self.r.choice((1, 8, 14, 20, 34))
        access = self.r.choice((1, 2, 4, 8))
        at = self.off([0, max(0, n - access)], [n, n - access + 1, -1])
        skip = self.fresh()
        cmp = self.r.choice(["if r2 > r3 goto", "if r3 < r2 goto", "if r2 >= r3 goto", "if r3 <= r2 goto",
                             "if r2 < r3 goto"]) if self.chance(0.9) else "if r2 != r3 goto"
        out = [f"r1 = *(u32 *)(r6 +{data})", f"r3 = *(u32 *)(r6 +{end})", "r2 = r1", f"r2 += {n}",
               f"{cmp} {skip}"]
        if self.chance(0.15) and self.kind == ProgramType.XDP:
            out += ["r1 = r6", "r2 = 0", "call bpf_xdp_adjust_head", f"r1 = *(u32 *)(r6 +{data})"
                    if self.chance(0.5) else "r0 = 0"]
            out += [f"r7 = *({_SIZES[access]} *)(r2 +0)"] if False else []
        if self.chance(0.2):
            out.append(f"*({_SIZES[access]} *)(r1 {at:+d}) = 0")
        else:
            out.append(f"r7 = *({_SIZES[access]} *)(r1 {at:+d})")
        out.append(f"{skip}:")
        return out

    def helpers(self) -> list[str]:
        pick = self.r.randrange(9)
        if pick == 0:
            return [self.r.choice(["call bpf_ktime_get_ns", "call bpf_get_prandom_u32", "call bpf_get_smp_processor_id",
                                   "call bpf_get_current_pid_tgid", "call bpf_get_current_uid_gid"]), "r7 = r0"]
        if pick == 1:
            size = self.r.choice((8, 16, 0, 17, 513))
            return ["*(u64 *)(r10 -16) = 0", "*(u64 *)(r10 -8) = 0", "r1 = r10", "r1 += -16", f"r2 = {size}",
                    "call bpf_trace_printk"]
        if pick == 2:
            size = self.r.choice((8, 16, 0, 24))
            return ["r1 = r10", "r1 += -16", f"r2 = {size}", "r3 = 0", "call bpf_probe_read_kernel",
                    f"r7 = *(u64 *)(r10 {self.r.choice((-16, -8, -24))})"]
        if pick == 3:
            return ["r1 = r10", "r1 += -16", f"r2 = {self.r.choice((16, 8, 32))}", "call bpf_get_current_comm"]
        if pick == 4:
            size = self.r.choice((8, 0, 16))
            return ["*(u64 *)(r10 -8) = 7", "r1 = r6", f"r2 = map[fd:{self.r.choice((EVENTS, EVENTS, HASH))}]",
                    "r3 = 0xffffffff ll", "r4 = r10", "r4 += -8", f"r5 = {size}", "call bpf_perf_event_output"]
        if pick == 5:
            return ["r1 = r6", f"r2 = map[fd:{self.r.choice((PROGS, PROGS, ARRAY))}]", "r3 = 0", "call bpf_tail_call"]
        if pick == 6:
            return ["r1 = r6", f"r2 = {self.r.choice((0, 14))}", "r3 = r10", "r3 += -16",
                    f"r4 = {self.r.choice((8, 16, 0, 20))}", "call bpf_skb_load_bytes"]
        if pick == 7:
            return ["*(u64 *)(r10 -8) = 1", f"r1 = map[fd:{self.r.choice((QUEUE, QUEUE, HASH))}]", "r2 = r10",
                    "r2 += -8", "r3 = 0", "call bpf_map_push_elem"]
        return ["r1 = map[fd:0]", "r2 = r10", "r2 += -4", "call bpf_map_delete_elem"]

    def ringbuf(self) -> list[str]:
        size = self.r.choice((8, 16, 48))
        done = self.fresh()
        out = [f"r1 = map[fd:{self.r.choice((RING, RING, RING, HASH))}]", f"r2 = {size}", "r3 = 0",
               "call bpf_ringbuf_reserve"]
        if self.chance(0.85):
            out.append(f"if r0 == 0 goto {done}")
        off = self.off([0, size - 8], [size, size - 4, -8])
        out.append(f"*(u64 *)(r0 {off:+d}) = 5")
        if self.chance(0.85):
            out += ["r1 = r0", f"r1 += {self.r.choice((0, 0, 0, 8))}", "r2 = 0",
                    self.r.choice(["call bpf_ringbuf_submit", "call bpf_ringbuf_discard"])]
        out.append(f"{done}:")
        return out

    def loop(self) -> list[str]:
        top, out = self.fresh(), self.fresh()
        bound = self.r.choice((4, 16, 100))
        body = ["r7 = 0", f"{top}:", "r7 += 1"]
        if self.chance(0.8):
            body += [f"if r7 < {bound} goto {top}"]
        elif self.chance(0.5):                   # no progress: the same state again
            body = [f"{top}:", "call bpf_get_prandom_u32", f"if r0 != 0 goto {top}"]
        else:
            body = ["r7 = 0", f"{top}:", f"if r7 == 0 goto {top}"]
        body.append(f"{out}:")
        return body

    def dynptr(self) -> list[str]:
        """A ring-buffer dynptr reserved on the stack, used (read, write, a data slice),
        and submitted or discarded (or not, or twice, or overwritten)."""
        at = self.r.choice((-16, -16, -32, -24, -12, -8))
        size = self.r.choice((8, 16, 48))
        out = [f"r1 = map[fd:{self.r.choice((RING, RING, RING, HASH))}]", f"r2 = {size}", "r3 = 0", "r4 = r10",
               f"r4 += {at}", "call bpf_ringbuf_reserve_dynptr"]
        use = self.r.randrange(5)
        if use == 0:
            done = self.fresh()
            length = self.r.choice((8, 8, 16, 0))
            off = self.off([0, max(0, length - 8)], [length, 4])
            out += ["r1 = r10", f"r1 += {at}", "r2 = 0", f"r3 = {length}", "call bpf_dynptr_data"]
            out += [f"if r0 == 0 goto {done}"] if self.chance(0.85) else []
            out += [f"*(u64 *)(r0 {off:+d}) = 1" if self.chance(0.6) else f"r7 = *(u32 *)(r0 {off:+d})", f"{done}:"]
        elif use == 1:
            out += ["r1 = r10", "r1 += -64", f"r2 = {self.r.choice((8, 16, 0))}", "r3 = r10", f"r3 += {at}", "r4 = 0",
                    "r5 = 0", "call bpf_dynptr_read"]
        elif use == 2:
            out += ["*(u64 *)(r10 -64) = 0", "r1 = r10", f"r1 += {at}", "r2 = 0", "r3 = r10", "r3 += -64",
                    f"r4 = {self.r.choice((8, 16))}", "r5 = 0", "call bpf_dynptr_write"]
        elif use == 3:
            out.append(self.r.choice([f"*(u64 *)(r10 {at}) = 0", f"r7 = *(u64 *)(r10 {at})", "r0 = 0"]))
        release = self.r.choice(("bpf_ringbuf_submit_dynptr", "bpf_ringbuf_discard_dynptr"))
        if self.chance(0.9):
            out += ["r1 = r10", f"r1 += {self.r.choice((at, at, at, at + 8))}", "r2 = 0", f"call {release}"]
            if self.chance(0.05):
                out += ["r1 = r10", f"r1 += {at}", "r2 = 0", f"call {release}"]
        return out

    def may_goto(self) -> list[str]:
        """A loop bounded by ``may_goto`` (and maybe a counter too), maybe indexing a map
        value with its counter."""
        top, out = self.fresh(), self.fresh()
        lines = []
        lookup = self.chance(0.4)
        if lookup:
            lines += ["*(u32 *)(r10 -4) = 0", f"r1 = map[fd:{ARRAY}]", "r2 = r10", "r2 += -4",
                      "call bpf_map_lookup_elem", f"if r0 == 0 goto {out}", "r9 = r0"]
        lines += ["r7 = 0", f"{top}:", f"may_goto {out}", "r7 += 1"]
        if lookup:
            lines += ["r1 = r9", "r2 = r7", "r2 &= 31" if self.chance(0.8) else "r2 += 0", "r1 += r2",
                      "r8 = *(u8 *)(r1 +0)"]
        elif self.chance(0.3):
            lines += ["call bpf_get_prandom_u32", "r7 += r0"]
        # a counter bound (else only may_goto ends the loop: with a counter indexing memory, the
        # kernel keeps it precise and gives up after 1M instructions, slow to reproduce here)
        bounded = self.chance(0.95 if lookup else 0.5)
        lines.append(f"if r7 < {self.r.choice((10, 40, 1000))} goto {top}" if bounded else f"goto {top}")
        lines.append(f"{out}:")
        return lines

    def call(self) -> list[str]:
        name = f"f{len(self.functions)}_{self.fresh()}"
        depth = self.r.choice((8, 64, 256, 496, 512))
        self.functions.append([f"{name}:", f"*(u64 *)(r10 -{depth}) = r1", f"r0 = *(u64 *)(r10 -{depth})",
                               "r0 = 1" if self.chance(0.9) else "r1 = 0", "exit"])
        return [f"*(u64 *)(r10 -{self.r.choice((8, 64, 256, 504))}) = 0", "r1 = 5", f"call {name}", "r7 = r0"]

    def callback(self) -> list[str]:
        """bpf_loop or bpf_for_each_map_elem with a callback that may touch its arguments
        (the index, a map value, the context the caller passes: NULL or its stack)."""
        name = f"cb_{self.fresh()}"
        ret = self.r.choice(("0", "1", "1", "1", "2"))
        each = self.chance(0.5)
        body = []
        if each and self.chance(0.6):     # (map, key, value, ctx): read or write the value
            size = self.r.choice((1, 4, 8))
            off = self.off([0, 8, 40], [48, 44, -8])
            body.append(f"r0 = *({_SIZES[size]} *)(r3 {off:+d})" if self.chance(0.5)
                        else f"*({_SIZES[size]} *)(r3 {off:+d}) = 1")
            if self.chance(0.2):
                body.append("r0 = *(u32 *)(r2 +0)" if self.chance(0.7) else "*(u32 *)(r2 +0) = 1")
        ctx_arg = "r4" if each else "r2"
        if self.chance(0.4):                # the caller's context argument
            body.append(f"r0 = *(u64 *)({ctx_arg} +0)" if self.chance(0.7) else f"*(u64 *)({ctx_arg} +0) = 3")
        if not each and self.chance(0.3):
            body += ["r0 = r1", "r0 &= 1"] if self.chance(0.5) else ["r0 = r1"]
        self.functions.append([f"{name}:", *body, f"r0 = {ret}" if not body or body[-1][:2] != "r0" or
                               self.chance(0.5) else "r0 &= 1", "exit"])
        caller_ctx = (["*(u64 *)(r10 -8) = 0", "r3 = r10", "r3 += -8"] if self.chance(0.6)
                      else ["r3 = 0"] if self.chance(0.8) else ["r3 = r10", "r3 += -8"])
        if each:
            return [f"r1 = map[fd:{self.r.choice((ARRAY, ARRAY, HASH, RING))}]", f"r2 = func[{name}]", *caller_ctx,
                    "r4 = 0", "call bpf_for_each_map_elem", "r7 = r0"]
        return [f"r1 = {self.r.choice((4, 10, 0))}", f"r2 = func[{name}]", *caller_ctx,
                f"r4 = {self.r.choice((0, 0, 1))}", "call bpf_loop", "r7 = r0"]

    def uninit(self) -> list[str]:
        return [f"r7 = r{self.r.choice((8, 9, 2, 3))}"] if self.chance(0.5) else ["r9 = 1", "r7 = r9"]


    def socket(self) -> list[str]:
        """A socket looked up, maybe NULL-checked, read, and maybe released."""
        lookup = self.r.choice(("bpf_sk_lookup_tcp", "bpf_sk_lookup_udp", "bpf_skc_lookup_tcp"))
        size = self.r.choice((12, 12, 36, 40, 0))
        done = self.fresh()
        out = [f"*(u64 *)(r10 {off}) = 0" for off in range(-48, 0, 8) if self.chance(0.97)]
        out += ["r1 = r6", "r2 = r10", "r2 += -48", f"r3 = {size}", f"r4 = {self.r.choice((0, 0, -1))}", "r5 = 0",
                f"call {lookup}"]
        if self.chance(0.85):
            out.append(f"if r0 == 0 goto {done}")
        if self.chance(0.7):
            width = self.r.choice((1, 2, 4, 4, 4, 8))
            off = self.off([4, 12, 44, 48, 72, 24, 28, 60, 0, 16], [1, 80, 50, 74, 8 * self.r.randint(0, 10)])
            out.append(f"r7 = *({_SIZES[width]} *)(r0 {off:+d})")
        if self.chance(0.1):
            out.append(self.r.choice(["*(u32 *)(r0 +4) = 1", "r0 += 4", "r7 = *(u32 *)(r0 +8)"]))
        if self.chance(0.85):
            out += ["r8 = r0", "r1 = r0", "call bpf_sk_release"]
            if self.chance(0.1):                 # used after its release
                out.append("r7 = *(u32 *)(r8 +4)")
        out.append(f"{done}:")
        return out

    def narrow(self) -> list[str]:
        """A 64-bit value bounded by a 32-bit comparison, then used as a map value index."""
        done = self.fresh()
        out = ["*(u32 *)(r10 -4) = 0", f"r1 = map[fd:{ARRAY}]", "r2 = r10", "r2 += -4", "call bpf_map_lookup_elem",
               f"if r0 == 0 goto {done}"]
        out.append(self.r.choice(["r7 = *(u64 *)(r0 +0)", "r7 = *(u32 *)(r0 +0)", "r7 = *(u64 *)(r0 +8)"]))
        if self.chance(0.3):
            out.append(self.r.choice(["r7 <<= 32", "r7 s>>= 32", "r7 += -5", "w7 += 3", "r7 |= -0x80000000"]))
        bound = self.r.choice((8, 40, 47, 48, 100, -1, 0x7fffffff))
        cmp = self.r.choice(["if w7 > {} goto", "if w7 >= {} goto", "if w7 s> {} goto", "if r7 > {} goto",
                             "if w7 s< 0 goto", "if w7 < {} goto"])
        out.append(f"{cmp.format(bound)} {done}")
        if self.chance(0.3) and "s<" not in cmp and "<" not in cmp:
            out.append(self.r.choice(["if w7 s< 0 goto", "if r7 s< 0 goto"]) + f" {done}")
        out.append(self.r.choice(["w7 = w7", "r7 &= 0xffffffff", "r7 <<= 32\nr7 >>= 32", "w7 += 0", "r7 = r7",
                                  "r7 s>>= 0"]))
        out += ["r1 = r0", "r1 += r7", f"r7 = *(u8 *)(r1 +{self.r.choice((0, 0, 7))})"]
        out.append(f"{done}:")
        return out

    def spill(self) -> list[str]:
        """Registers spilled to the stack and filled back, whole or in part."""
        off = self.r.choice((-8, -16, -24))
        pick = self.r.randrange(4)
        if pick == 0:               # a pointer spilled, then read back whole or in part
            size = self.r.choice((8, 8, 4, 1))
            return [f"*(u64 *)(r10 {off}) = r6", f"r7 = *({_SIZES[size]} *)(r10 {off})",
                    "r7 = *(u32 *)(r7 +0)" if self.chance(0.5) else "r7 = 0"]
        if pick == 1:               # a bounded scalar through the stack as an index
            mask = self.r.choice((7, 15, 47, 63))
            done = self.fresh()
            width = self.r.choice((8, 8, 4))
            return ["call bpf_get_prandom_u32", f"r0 &= {mask}", f"*({_SIZES[width]} *)(r10 {off}) = r0",
                    "*(u32 *)(r10 -40) = 0", f"r1 = map[fd:{ARRAY}]", "r2 = r10", "r2 += -40",
                    "call bpf_map_lookup_elem", f"if r0 == 0 goto {done}",
                    f"r8 = *({_SIZES[self.r.choice((width, width, 8))]} *)(r10 {off})", "r0 += r8",
                    "r7 = *(u8 *)(r0 +0)", f"{done}:"]
        if pick == 2:               # a constant stored narrow, read wide (or the other way)
            return [f"*(u32 *)(r10 {off}) = {self.r.randint(0, 9)}",
                    f"*(u32 *)(r10 {off + 4}) = 0" if self.chance(0.6) else "r0 = 0",
                    f"r7 = *(u64 *)(r10 {off})", "r1 = r10", "r1 += r7" if self.chance(0.2) else "r1 += -8"]
        return [f"*(u64 *)(r10 {off}) = r10", f"r7 = *(u64 *)(r10 {off})", f"*(u64 *)(r7 {off}) = 1",
                f"r8 = *(u64 *)(r10 {off})"]


_SNIPPETS = (Generator.scalars, Generator.stack, Generator.map_lookup, Generator.map_lookup, Generator.update,
             Generator.context, Generator.packet, Generator.packet, Generator.helpers, Generator.helpers,
             Generator.ringbuf, Generator.loop, Generator.call, Generator.callback, Generator.uninit,
             Generator.socket, Generator.socket, Generator.narrow, Generator.narrow, Generator.spill, Generator.spill,
             Generator.may_goto, Generator.dynptr)
