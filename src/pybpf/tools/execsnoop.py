"""execsnoop: trace new programs as they start (BCC's execsnoop, on the syscall tracepoints
of execve and execveat instead of BCC's kprobe and kretprobe; built on pybpf's own API — a
C program compiled by pybpf.toolchain).

The entry tracepoint copies the file name and the argument strings out of the caller's
memory (argv[0] to argv[max-args - 1], each cut at 128 bytes, into an 8 KiB buffer, as
NUL-ended strings one after another) into a hash map; the exit tracepoint adds the result,
the command (for a successful exec, the new program's), the parent, the uid and the CPU,
and sends the whole. Entry and exit are paired by process id, not thread id: a successful
exec from a secondary thread returns in the thread that takes over the process id.

Columns: COMM PID PPID RET ARGS, ARGS being BCC's line: the file name, then argv[1], ... up
to ``--max-args`` strings in all (default 20), and ``...`` when the program got more. As
BCC: only successful execs unless ``-x``/``--fails`` (failed ones too, with their negative
errno in RET); ``-q`` quotes each argument (inner ``"`` escaped as ``\\"``); ``-l LINE`` keeps
commands whose argument line matches the regular expression LINE; ``-P PPID``,
``-U``/``-u UID``, ``-M`` (the parent's command), ``-C`` (CPU). ``--json`` gives ``path``
(the file name), ``argv`` (the list, argv[0] included), ``args`` (the line) and
``truncated``."""

from __future__ import annotations

import argparse
import re

from pybpf.tools import DESCRIPTIONS
from pybpf.tools.events import EventLayout, offset
from pybpf.tools.tool import Column, EventTool

#: bytes kept of each argument (BCC's ARGSIZE), and of all of them together
ARG_SIZE = 128
ARGS_BYTES = 8192
#: the most arguments --max-args may ask for (the BPF loop is unrolled by the verifier)
MAX_ARGS_LIMIT = 1024

SOURCE = r"""
/* one zeroed event: an exec's entry in execs starts as a copy of it (an event is too big for the stack) */
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, u32); __type(value, struct event); } blank SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4096); __uint(map_flags, BPF_F_NO_PREALLOC);
         __type(key, u32); __type(value, struct event); } execs SEC(".maps");

/* at entry: the file name and argv[0 .. MAX_ARGS - 1], kept under the process id */
static __always_inline int enter(void *ctx, u32 filename_offset, u32 argv_offset)
{
    u32 zero = 0, tgid = bpf_get_current_pid_tgid() >> 32;
    struct event *e = bpf_map_lookup_elem(&blank, &zero);
    if (!e || bpf_map_update_elem(&execs, &tgid, e, BPF_ANY))
        return 0;
    e = bpf_map_lookup_elem(&execs, &tgid);               /* filled in place: no buffer shared between tasks */
    if (!e)
        return 0;
    const char *const *argv = *(const char *const **)((char *)ctx + argv_offset);
    bpf_probe_read_user_str(e->path, sizeof(e->path), *(const char **)((char *)ctx + filename_offset));
    for (u32 i = 0; i < MAX_ARGS; i++) {
        const char *arg = NULL;
        if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) || !arg)
            return 0;
        u32 size = e->args_size;
        if (size > ARGS_BYTES - ARG_SIZE) {          /* the buffer is full */
            e->truncated = 1;
            return 0;
        }
        long n = bpf_probe_read_user_str(&e->args[size], ARG_SIZE, arg);
        if (n <= 0)
            return 0;
        e->args_size = size + n;
        e->argc = i + 1;
    }
    const char *more = NULL;                         /* MAX_ARGS read: are there more? */
    bpf_probe_read_user(&more, sizeof(more), &argv[MAX_ARGS]);
    e->truncated = more != NULL;
    return 0;
}

/* at exit: the result and who runs now, sent with what the entry kept */
static __always_inline int leave(void *ctx, u32 ret_offset)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    struct event *e = bpf_map_lookup_elem(&execs, &tgid);
    if (!e)
        return 0;
    struct task_struct *task = (struct task_struct *)bpf_get_current_task();
    e->ts = bpf_ktime_get_ns();
    e->pid = tgid;
    e->ppid = BPF_CORE_READ(task, real_parent, tgid);
    e->uid = bpf_get_current_uid_gid();
    e->cpu = bpf_get_smp_processor_id();
    e->ret = *(long *)((char *)ctx + ret_offset);
    bpf_get_current_comm(e->comm, sizeof(e->comm));
    BPF_CORE_READ_INTO(&e->pcomm, task, real_parent, comm);
    bpf_ringbuf_output(&events, e, sizeof(*e), 0);
    bpf_map_delete_elem(&execs, &tgid);
    return 0;
}

SEC("tracepoint/syscalls/sys_enter_execve")
int enter_execve(void *ctx) { return enter(ctx, EXECVE_FILENAME, EXECVE_ARGV); }

SEC("tracepoint/syscalls/sys_exit_execve")
int exit_execve(void *ctx) { return leave(ctx, EXECVE_RET); }

SEC("tracepoint/syscalls/sys_enter_execveat")
int enter_execveat(void *ctx) { return enter(ctx, EXECVEAT_FILENAME, EXECVEAT_ARGV); }

SEC("tracepoint/syscalls/sys_exit_execveat")
int exit_execveat(void *ctx) { return leave(ctx, EXECVEAT_RET); }

LICENSE("GPL");
"""


def max_args(text: str) -> int:
    """An argparse type: BCC's ``--max-args``, 1 to :data:`MAX_ARGS_LIMIT`."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of arguments") from None
    if not 1 <= value <= MAX_ARGS_LIMIT:
        raise argparse.ArgumentTypeError(f"{value} arguments: expected 1 to {MAX_ARGS_LIMIT}")
    return value


def regex(text: str) -> re.Pattern:
    """An argparse type: a regular expression, compiled (a bad one is an argument error)."""
    try:
        return re.compile(text)
    except re.error as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a regular expression: {error}") from None


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-x", "--fails", action="store_true", help="include failed exec()s")
    parser.add_argument("-q", "--quote", action="store_true", help='add "quotemarks" around arguments')
    parser.add_argument("-l", "--line", type=regex,
                        help="only commands whose argument line matches this regular expression")
    parser.add_argument("--max-args", type=max_args, default=20,
                        help="most arguments read and shown, the file name included (default 20)")
    parser.add_argument("-P", "--ppid", type=int, help="only children of this process id")
    parser.add_argument("-M", "--print-pcomm", action="store_true", help="include the parent's command (PCOMM)")
    parser.add_argument("-C", "--print-cpu", action="store_true", help="include a CPU column")


def _shown(event: dict, quote: bool) -> str:
    """BCC's argument line: the file name in place of argv[0], ``...`` when cut short;
    with ``quote`` each in double quotes (inner ones escaped); newlines as ``\\n``."""
    shown = [event["path"], *event["argv"][1:], *(["..."] if event["truncated"] else [])]
    if quote:
        shown = ['"' + arg.replace('"', '\\"') + '"' for arg in shown]
    return " ".join(shown).replace("\n", "\\n")


def _derive(event: dict) -> None:
    """``argv`` from the argument buffer (the hex of its raw bytes), and the line in
    ``args`` in place of that hex."""
    raw = bytes.fromhex(event["args"])[:event["args_size"]]
    event["argv"] = [arg.decode(errors="replace") for arg in raw.split(b"\0")[:event["argc"]]]
    event["args"] = _shown(event, quote=False)


def _keep(args: argparse.Namespace, event: dict) -> bool:
    """BCC's filters (``-l`` on the unquoted line); then ``-q`` quotes the line shown."""
    if not ((args.fails or event["ret"] == 0) and (args.ppid is None or event["ppid"] == args.ppid)
            and (args.line is None or args.line.search(event["args"]) is not None)):
        return False
    if args.quote:
        event["args"] = _shown(event, quote=True)
    return True


def _columns(args: argparse.Namespace) -> tuple[Column, ...]:
    return (Column("COMM", "comm", -16), Column("PID", "pid", -7),
            *((Column("PCOMM", "pcomm", -16),) if args.print_pcomm else ()), Column("PPID", "ppid", -7),
            *((Column("CPU", "cpu", -4),) if args.print_cpu else ()), Column("RET", "ret", 3), Column("ARGS", "args", -1))


def _defines(args: argparse.Namespace) -> dict[str, int]:
    where = {f"{call.upper()}_{field.upper()}": offset(f"syscalls:sys_{side}_{call}", field)
             for call in ("execve", "execveat") for side, field in (("enter", "filename"), ("enter", "argv"), ("exit", "ret"))}
    return {**where, "MAX_ARGS": args.max_args, "ARG_SIZE": ARG_SIZE, "ARGS_BYTES": ARGS_BYTES}


TOOL = EventTool(
    name="execsnoop",
    description=DESCRIPTIONS["execsnoop"],
    layout=EventLayout((("pid", "u32"), ("ppid", "u32"), ("uid", "u32"), ("cpu", "u32"), ("ret", "s32"),
                        ("argc", "u32"), ("args_size", "u32"), ("truncated", "u32"),
                        ("comm", "str:16"), ("pcomm", "str:16"), ("path", "str:256"), ("args", f"bytes:{ARGS_BYTES}"))),
    source=SOURCE,
    columns=_columns,
    defines=_defines,
    derive=_derive,
    keep=_keep,
    extra_arguments=_arguments,
    task_filters=True,          # BCC's --cgroupmap, --mntnsmap
)
