"""hardirqs: time spent in hard interrupt handlers, by handler name (BCC's hardirqs, on
the irq:irq_handler_entry and irq:irq_handler_exit tracepoints; the machinery is in
:mod:`pybpf.tools.irqtime`)."""

from __future__ import annotations

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.events import offset
from pybpf.tools.irqtime import IrqTool

SOURCE = r"""
SEC("tracepoint/irq/irq_handler_entry")
int on_entry(void *ctx)
{
    struct start *s = slot_here();
    if (!s)
        return 0;
    u32 loc = *(u32 *)((char *)ctx + OFF_name);        /* __data_loc: length << 16 | offset */
    bpf_probe_read_kernel_str(s->name, sizeof(s->name), (char *)ctx + (loc & 0xffff));
    s->vec = 0;
    s->ts = bpf_ktime_get_ns();
    return 0;
}

SEC("tracepoint/irq/irq_handler_exit")
int on_exit(void *ctx)
{
    record();
    return 0;
}
LICENSE("GPL");
"""


def _name(key) -> str:
    name = key.name
    return name.split(b"\0", 1)[0].decode(errors="replace") if isinstance(name, bytes) else str(name)


TOOL = IrqTool(
    name="hardirqs",
    description=DESCRIPTIONS["hardirqs"],
    source=SOURCE,
    kind="hardirq",
    column_width=26,
    what="hard irq event time",
    key_name=_name,
    defines=lambda: {"OFF_name": offset("irq:irq_handler_entry", "name")},
)
