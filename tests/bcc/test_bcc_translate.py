"""BCC's C dialect → libbpf C, checked on the text (no kernel needed): map macros,
table methods (nested, inside strings left alone), probe entry points, and errors that
name line and column."""

from __future__ import annotations

import pytest

from pybpf.bcc.tables_c import table_from_macro
from pybpf.bcc.tokens import BccSyntaxError, tokenize
from pybpf.bcc.translate import translate


def test_map_macros_with_defaults():
    t = translate("BPF_HASH(counts);\nBPF_ARRAY(arr, struct val_t, 16);\nBPF_HISTOGRAM(dist);\n"
                  "BPF_PERF_OUTPUT(events);\nBPF_RINGBUF_OUTPUT(ring, 8);\nBPF_STACK_TRACE(stacks, 1024);\n"
                  "BPF_QUEUE(q, u32, 32);\nBPF_TABLE(\"lru_hash\", u32, u64, lru, 128);\n")
    decl = {name: (d.map_type, d.key, d.leaf, str(d.size)) for name, d in t.tables.items()}
    assert decl == {"counts": ("HASH", "u64", "u64", "10240"), "arr": ("ARRAY", "int", "struct val_t", "16"),
                    "dist": ("HASH", "int", "u64", "64"), "events": ("PERF_EVENT_ARRAY", "int", "u32", "0"),
                    "ring": ("RINGBUF", "", "", "(8) * 4096"), "stacks": ("STACK_TRACE", "int", "", "1024"),
                    "q": ("QUEUE", "", "u32", "32"), "lru": ("LRU_HASH", "u32", "u64", "128")}
    assert 'struct { __uint(type, BPF_MAP_TYPE_HASH); __type(key, u64); __type(value, u64); ' \
           '__uint(max_entries, 10240); } counts SEC(".maps");' in t.source
    assert "BPF_HASH" not in t.source


def test_methods_nested_and_strings_untouched():
    t = translate('BPF_HASH(a, u32, u32);\nBPF_HASH(b, u32, u32);\n'
                  'static int f(u32 k) { bpf_trace_printk("a.lookup(&k)\\n"); '
                  'a.update(&k, b.lookup(&k)); return 0; }')
    assert '(u32 *)bpf_map_lookup_elem((void *)&b, &k)' in t.source
    assert 'bpf_map_update_elem((void *)&a, &k, ((u32 *)bpf_map_lookup_elem((void *)&b, &k)), BPF_ANY)' in t.source
    assert 'bpf_printk("a.lookup(&k)\\n")' in t.source


@pytest.mark.parametrize("call, expected", [
    ("c.increment(key)", "__sync_fetch_and_add(__bcc_leaf, __bcc_inc)"),
    ("c.insert(&k, &v)", "bpf_map_update_elem((void *)&c, &k, &v, BPF_NOEXIST)"),
    ("c.delete(&k)", "bpf_map_delete_elem((void *)&c, &k)"),
    ("e.perf_submit(ctx, &d, sizeof(d))", "bpf_perf_event_output(ctx, (void *)&e, BPF_F_CURRENT_CPU, &d, sizeof(d))"),
    ("s.get_stackid(ctx, 0)", "bpf_get_stackid(ctx, (void *)&s, 0)"),
    ("p.call(ctx, 2)", "bpf_tail_call(ctx, (void *)&p, 2)"),
    ("q.push(&v, 0)", "bpf_map_push_elem((void *)&q, &v, 0)"),
    ("r.ringbuf_output(&d, sizeof(d), 0)", "bpf_ringbuf_output((void *)&r, &d, sizeof(d), 0)"),
])
def test_each_method(call, expected):
    decls = ("BPF_HASH(c, u32);\nBPF_PERF_OUTPUT(e);\nBPF_STACK_TRACE(s, 16);\nBPF_PROG_ARRAY(p, 4);\n"
             "BPF_QUEUE(q, u32, 8);\nBPF_RINGBUF_OUTPUT(r, 1);\n")
    t = translate(decls + f"int fn(struct pt_regs *ctx) {{ u32 key = 0, k = 0, v = 0; u64 d = 0; {call}; return 0; }}")
    assert expected in t.source


def test_probe_functions_get_kprobe_and_syscall_entry_points():
    t = translate("int syscall__execve(struct pt_regs *ctx, const char *filename) { return 0; }\n"
                  "TRACEPOINT_PROBE(sched, sched_switch) { return args->prev_pid; }\n"
                  "static int helper(void) { return 1; }")
    execve = t.functions["syscall__execve"]
    assert execve.extra == (("const char *", "filename"),)
    assert f'SEC("kprobe") int {execve.symbol}(struct pt_regs *ctx)' in t.source
    assert f"int {execve.symbol}_enter(struct bcc_syscall_enter *ctx) {{ return __bcc_body_syscall__execve(1, " \
           "(void *)ctx, (const char *)ctx->args[0]); }" in t.source
    assert t.functions["tracepoint__sched__sched_switch"].section == "tracepoint/sched/sched_switch"
    assert ("sched", "sched_switch") in t.tracepoint_structs
    assert "helper" not in t.functions


@pytest.mark.parametrize("source, message", [
    ("BPF_HASH(c);\nint f(void *ctx) {\n  c.frobnicate(1); return 0; }", "3:3: c.frobnicate() is not a BCC table method"),
    ("BPF_HASH(c);\nint f(void *ctx) { c.update(1); return 0; }", "2:20: c.update() takes 2 arguments, not 1"),
    ('BPF_TABLE("hashy", u32, u32, t, 4);', 'BPF_TABLE type "hashy" is not one of'),
    ("BPF_HASH(c);\nBPF_ARRAY(c);", "2:1: table 'c' is declared twice"),
    ("int f(void *ctx) { return (1; }", "1:31: unbalanced '}'"),
    ("int f(void *ctx) { return 1; ", "1:18: '{' is never closed"),
    ("BPF_QUEUE(q, u32);", "BPF_QUEUE(name, leaf_type, size) takes 3 arguments"),
    ("KFUNC_PROBE(do_exit) { return 0; }", "KFUNC_PROBE needs fentry"),
])
def test_errors_name_the_place(source, message):
    with pytest.raises(BccSyntaxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        translate(source)


def test_method_errors_name_the_line_in_rewritten_functions():
    with pytest.raises(BccSyntaxError, match=r"^3:2: c.update\(\) takes 2 arguments, not 1"):
        translate("BPF_HASH(c);\nint f(void *ctx) {\n c.update(1); return 0; }")


def test_positions_follow_line_markers():
    with pytest.raises(BccSyntaxError, match=r"^41:2: c.update"):
        translate('BPF_HASH(c);\n# 40 "<stdin>"\nint f(void *ctx) {\n c.update(1); return 0; }')


def test_tokens_cover_the_text_between_them():
    text = 'x->y /* c */ "s\\"q" \'c\' 1.5e+3 a<<=b\n#define X 1\n'
    kinds = [(t.kind, t.text) for t in tokenize(text)]
    assert kinds == [("id", "x"), ("punct", "->"), ("id", "y"), ("str", '"s\\"q"'), ("char", "'c'"),
                     ("num", "1.5e+3"), ("id", "a"), ("punct", "<<="), ("id", "b"), ("pp", "#define X 1")]


def test_bpf_table_flags():
    assert table_from_macro("BPF_F_TABLE", ['"hash"', "u32", "u64", "h", "8", "BPF_F_NO_PREALLOC"], "1:1").flags \
        == "BPF_F_NO_PREALLOC"


def test_static_helpers_taking_registers_follow_their_caller():
    t = translate("static int helper(struct pt_regs *ctx, int x) { return PT_REGS_RC(ctx) + x; }\n"
                  "int do_ret(struct pt_regs *ctx) {\n return helper(ctx, 1); }\n")
    assert "helper__bcc_regs(int __bcc_sys, struct pt_regs *ctx, int x)" in t.source
    assert "#define helper(...) helper__bcc_regs(__bcc_sys, __VA_ARGS__)" in t.source
    with pytest.raises(BccSyntaxError, match=r"^3:30:"):
        translate("static int helper(struct pt_regs *ctx) { return 0; }\nBPF_HASH(c);\n"
                  "int f(struct pt_regs *ctx) { c.update(1); return 0; }")


def test_implicit_kernel_reads_become_core_reads():
    t = translate("int f(void *ctx) {\n struct task_struct *task = (struct task_struct *)bpf_get_current_task();\n"
                  " u32 ppid = task->real_parent->tgid;\n char comm[16];\n"
                  " bpf_probe_read_kernel_str(comm, 16, task->real_parent->comm);\n"
                  " u32 pid = ((struct task_struct *)bpf_get_current_task())->tgid;\n"
                  " struct pt_regs *regs = ctx;\n return ppid + pid + regs->ax; }")
    assert "u32 ppid = BPF_CORE_READ(task, real_parent, tgid);" in t.source
    assert "(BPF_CORE_READ(task, real_parent)->comm)" in t.source
    assert "BPF_CORE_READ(((struct task_struct *)bpf_get_current_task()), tgid)" in t.source
    assert "regs->ax" in t.source
