# A BCC tracepoint program: TRACEPOINT_PROBE with args->field, a hash keyed by a struct,
# a perf buffer of records decoded with table.event(), and a log2 histogram.
# ruff: noqa: UP031 (written as BCC users write their scripts)
import sys
import time

from bcc import BPF

prog = r"""
struct event_t { u32 pid; char comm[TASK_COMM_LEN]; char path[128]; };
BPF_PERF_OUTPUT(events);
BPF_HISTOGRAM(sizes);
TRACEPOINT_PROBE(syscalls, sys_enter_openat) {
    struct event_t event = {};
    event.pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(&event.comm, sizeof(event.comm));
    bpf_probe_read_user_str(&event.path, sizeof(event.path), args->filename);
    events.perf_submit(args, &event, sizeof(event));
    sizes.increment(bpf_log2l(args->flags + 1));
    return 0;
}
"""
b = BPF(text=prog)
print("%-7s %-16s %s" % ("PID", "COMM", "PATH"), flush=True)


def show(cpu, data, size):
    event = b["events"].event(data)
    print("%-7d %-16s %s" % (event.pid, event.comm.decode(), event.path.decode()), flush=True)


b["events"].open_perf_buffer(show)
deadline = time.time() + float(sys.argv[1])
while time.time() < deadline:
    b.perf_buffer_poll(timeout=100)
b["sizes"].print_log2_hist("flags")
