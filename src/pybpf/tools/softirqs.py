"""softirqs: time spent in soft interrupts, by kind (BCC's softirqs, on the
irq:softirq_entry and irq:softirq_exit tracepoints; the machinery is in
:mod:`pybpf.tools.irqtime`)."""

from __future__ import annotations

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.events import offset
from pybpf.tools.irqtime import IrqTool

SOURCE = r"""
SEC("tracepoint/irq/softirq_entry")
int on_entry(void *ctx)
{
    struct start *s = slot_here();
    if (!s)
        return 0;
    s->vec = *(u32 *)((char *)ctx + OFF_vec);
    __builtin_memset(s->name, 0, sizeof(s->name));
    s->ts = bpf_ktime_get_ns();
    return 0;
}

SEC("tracepoint/irq/softirq_exit")
int on_exit(void *ctx)
{
    record();
    return 0;
}
LICENSE("GPL");
"""

#: the kernel's softirq vectors (enum in include/linux/interrupt.h), named as BCC names them
VECTORS = ("hi", "timer", "net_tx", "net_rx", "block", "irq_poll", "tasklet", "sched", "hrtimer", "rcu")


def _name(key) -> str:
    return VECTORS[key.vec] if key.vec < len(VECTORS) else f"vec{key.vec}"


TOOL = IrqTool(
    name="softirqs",
    description=DESCRIPTIONS["softirqs"],
    source=SOURCE,
    kind="softirq",
    column_width=16,
    what="soft irq event time",
    key_name=_name,
    defines=lambda: {"OFF_vec": offset("irq:softirq_entry", "vec")},
)
