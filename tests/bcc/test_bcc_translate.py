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
    ("MODULE_KFUNC_PROBE(nf_conntrack, nf_ct_delete, void *ct) { return 0; }",
     "MODULE_KFUNC_PROBE attaches to a kernel module's function"),
    ("KFUNC_PROBE() { return 0; }", "KFUNC_PROBE(function, type arg, ...) needs the kernel function's name"),
    ('BPF_TABLE_PINNED("hash", u32, u64, t, 8, relative);', "pin path must be an absolute path in a string literal"),
    ('BPF_TABLE_PINNED("hash", u32, u64, t, 8);', "takes 6 or 7 arguments, not 5"),
    ('BPF_TABLE("extern", u32, u64, t);', "takes 5 arguments, not 4"),
    ('BPF_QUEUESTACK_PINNED("list", q, u32, 8, 0, "/sys/fs/bpf/q");', 'is not "queue" or "stack"'),
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


def test_trampoline_probes_become_btf_programs_with_typed_arguments():
    t = translate("KFUNC_PROBE(do_unlinkat, int dfd,\n  struct filename *name)\n{ return dfd; }\n"
                  "KRETFUNC_PROBE(do_unlinkat, int dfd, struct filename *name, long ret) { return ret; }\n"
                  "LSM_PROBE(bpf, int cmd) { return 0; }\nKMOD_RET(do_exit, long code) { return 0; }\n"
                  "int after(void *ctx) { return 0; }")
    entry = t.functions["kfunc__vmlinux__do_unlinkat"]
    assert (entry.section, entry.arguments) == ("fentry/do_unlinkat", 2)
    assert (f'SEC("fentry/do_unlinkat") int {entry.symbol}(unsigned long long *ctx) {{ return '
            "__bcc_body_kfunc__vmlinux__do_unlinkat(ctx, (int)ctx[0], (struct filename *)ctx[1]); }") in t.source
    exit_ = t.functions["kretfunc__vmlinux__do_unlinkat"]
    assert (exit_.section, exit_.arguments) == ("fexit/do_unlinkat", 3)
    assert "(long)ctx[2]); }" in t.source
    assert t.functions["lsm__bpf"].section == "lsm/bpf"
    assert t.functions["kmod_ret__do_exit"].section == "fmod_ret/do_exit"
    # the macro's two lines stay two: what follows keeps its line number
    lines = t.source.splitlines()
    assert lines[2].startswith("{ return dfd; }") and "__bcc_body_after(" in lines[6]


def test_pinned_and_shared_table_forms():
    pinned = table_from_macro("BPF_TABLE_PINNED", ['"hash"', "u32", "u64", "ids", "1024", '"/sys/fs/bpf/ids"'], "1:1")
    assert (pinned.map_type, pinned.pinned, pinned.flags, pinned.sharing) == ("HASH", "/sys/fs/bpf/ids", "0", "")
    flagged = table_from_macro("BPF_TABLE_PINNED",
                               ['"lru_hash"', "u32", "u64", "ids", "8", '"/sys/fs/bpf/a/b"', "BPF_F_NO_COMMON_LRU"],
                               "1:1")
    assert (flagged.map_type, flagged.pinned, flagged.flags) == ("LRU_HASH", "/sys/fs/bpf/a/b", "BPF_F_NO_COMMON_LRU")
    shared = table_from_macro("BPF_TABLE_SHARED", ['"array"', "int", "int", "t", "10", "BPF_F_RDONLY_PROG"], "1:1")
    assert (shared.sharing, shared.flags) == ("shared", "BPF_F_RDONLY_PROG")
    assert table_from_macro("BPF_TABLE_PUBLIC", ['"array"', "int", "int", "t", "10"], "1:1").sharing == "public"
    extern = table_from_macro("BPF_TABLE", ['"extern"', "int", "int", "t", "10"], "1:1")
    assert (extern.sharing, extern.key, extern.leaf) == ("extern", "int", "int")
    queue = table_from_macro("BPF_QUEUESTACK_PINNED", ['"queue"', "q", "u32", "16", "0", '"/sys/fs/bpf/q"'], "1:1")
    assert (queue.map_type, queue.key, queue.leaf, queue.size, queue.pinned) == ("QUEUE", "", "u32", "16",
                                                                                  "/sys/fs/bpf/q")
    assert table_from_macro("BPF_QUEUESTACK_SHARED", ['"stack"', "s", "u64", "4", "0"], "1:1").sharing == "shared"


def test_kernel_probe_reads_follow_the_address():
    t = translate('TRACEPOINT_PROBE(syscalls, sys_enter_openat) {\n'
                  '    char buf[32]; struct task_struct *task = (struct task_struct *)bpf_get_current_task();\n'
                  '    bpf_probe_read_kernel_str(&buf, sizeof(buf), (void *)args->filename);\n'
                  '    bpf_trace_printk("bpf_probe_read_kernel %d\\n", task->real_parent->tgid);\n'
                  '    return 0;\n}')
    assert "__bcc_probe_read_kernel_str(&buf, sizeof(buf), (void *)args->filename)" in t.source
    assert '"bpf_probe_read_kernel %d\\n"' in t.source


@pytest.mark.parametrize("call, expected", [
    ("h.sock_hash_update(ctx, &k, BPF_NOEXIST)", "bpf_sock_hash_update(ctx, (void *)&h, &k, BPF_NOEXIST)"),
    ("h.msg_redirect_hash(ctx, &k, BPF_F_INGRESS)", "bpf_msg_redirect_hash(ctx, (void *)&h, &k, BPF_F_INGRESS)"),
    ("h.sk_redirect_hash(ctx, &k, 0)", "bpf_sk_redirect_hash(ctx, (void *)&h, &k, 0)"),
    ("m.sock_map_update(ctx, &i, BPF_ANY)", "bpf_sock_map_update(ctx, (void *)&m, &i, BPF_ANY)"),
    ("m.msg_redirect_map(ctx, i, 0)", "bpf_msg_redirect_map(ctx, (void *)&m, i, 0)"),
    ("m.sk_redirect_map(ctx, i, 0)", "bpf_sk_redirect_map(ctx, (void *)&m, i, 0)"),
])
def test_sockmap_and_sockhash_methods(call, expected):
    t = translate("struct key_t { u32 a, b; };\nBPF_SOCKHASH(h, struct key_t, 64);\nBPF_SOCKMAP(m, 8);\n"
                  f"int fn(void *ctx) {{ struct key_t k = {{}}; int i = 0; return {call}; }}")
    assert expected in t.source
    decl = {name: (d.map_type, d.key, d.leaf, str(d.size)) for name, d in t.tables.items()}
    assert decl == {"h": ("SOCKHASH", "struct key_t", "int", "64"), "m": ("SOCKMAP", "int", "int", "8")}
