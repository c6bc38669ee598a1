# BCC's bash readline example shape: a uretprobe on bash's readline() reading the
# returned string, sent through a ring buffer.
# ruff: noqa: UP031 (written as BCC users write their scripts)
import sys
import time

from bcc import BPF

b = BPF(text=r"""
struct line_t { u32 pid; char str[80]; };
BPF_RINGBUF_OUTPUT(lines, 8);
int printret(struct pt_regs *ctx) {
    struct line_t *line = lines.ringbuf_reserve(sizeof(struct line_t));
    if (!line)
        return 0;
    line->pid = bpf_get_current_pid_tgid() >> 32;
    bpf_probe_read_user_str(&line->str, sizeof(line->str), (void *)PT_REGS_RC(ctx));
    lines.ringbuf_submit(line, 0);
    return 0;
}
""")
b.attach_uretprobe(name="/bin/bash", sym="readline", fn_name="printret")
print("%-9s %-7s %s" % ("TIME", "PID", "COMMAND"), flush=True)


def show(ctx, data, size):
    event = b["lines"].event(data)
    print("%-9s %-7d %s" % (time.strftime("%H:%M:%S"), event.pid, event.str.decode()), flush=True)


b["lines"].open_ring_buffer(show)
deadline = time.time() + float(sys.argv[1])
while time.time() < deadline:
    b.ring_buffer_poll(timeout=100)
