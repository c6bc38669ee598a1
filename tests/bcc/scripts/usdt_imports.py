# A BCC USDT program: CPython's import__find__load__start probe, its first argument
# (the module name) read with bpf_usdt_readarg.
# ruff: noqa: UP031 (written as BCC users write their scripts)
import sys
import time

from bcc import BPF, USDT

u = USDT(path=sys.argv[1])
u.enable_probe(probe="import__find__load__start", fn_name="on_import")
b = BPF(text=r"""
struct import_t { u32 pid; char module[64]; };
BPF_PERF_OUTPUT(imports);
int on_import(struct pt_regs *ctx) {
    struct import_t i = {};
    u64 name = 0;
    i.pid = bpf_get_current_pid_tgid() >> 32;
    bpf_usdt_readarg(1, ctx, &name);
    bpf_probe_read_user_str(&i.module, sizeof(i.module), (void *)name);
    imports.perf_submit(ctx, &i, sizeof(i));
    return 0;
}
""", usdt_contexts=[u])
print("PID     MODULE", flush=True)
b["imports"].open_perf_buffer(lambda cpu, data, size: print(
    "%-7d %s" % (b["imports"].event(data).pid, b["imports"].event(data).module.decode()), flush=True))
deadline = time.time() + float(sys.argv[2])
while time.time() < deadline:
    b.perf_buffer_poll(timeout=100)
