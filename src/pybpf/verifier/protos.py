"""Helper prototypes: what each helper takes and returns, and which program types may
call it (the kernel's ``bpf_func_proto`` tables and ``*_func_proto`` functions).

Argument kinds: ``any`` (an initialised value), ``map`` (a map pointer), ``key`` /
``value`` (memory the size of the map's key / value), ``mem`` / ``mem?`` (readable memory,
or NULL too) and ``uninit`` (memory the helper writes) — each followed by ``size`` or
``size0`` (a length, zero allowed), ``ctx``, ``func`` (a callback), ``stack?`` (a stack
pointer or NULL), ``alloc_size`` (a known constant), ``release`` (ring-buffer memory the
helper takes back), ``sock_release`` (a referenced socket the helper takes back),
``dynptr_uninit`` / ``dynptr`` / ``dynptr_release`` (a ``struct bpf_dynptr`` on the stack
the helper sets up, uses, or gives back), ``alloc_size0`` (a known constant, maybe 0).
``btf:STRUCT`` / ``btf?:STRUCT`` (a BTF pointer to a kernel struct, or NULL too),
``u64_out`` (8 bytes the helper writes), ``sock_common?`` (a socket pointer, a BTF
pointer to a struct starting with one, or NULL too with ``?``). A return type
``btf:STRUCT`` is a BTF pointer to that struct, ``btf?:STRUCT`` one that may be NULL,
``trusted_btf:STRUCT`` a trusted one. ``spin_lock`` / ``timer``: the ``struct bpf_spin_lock``
/ ``struct bpf_timer`` of a map value.
"""

from __future__ import annotations

from pybpf.isa.helpers import helper_id
from pybpf.object import AttachType
from pybpf.object import ProgramType as T

TYPE_CHECKING = False   # typing.TYPE_CHECKING without importing typing (start-up)
if TYPE_CHECKING:
    from dataclasses import dataclass
else:   # (dataclasses imports inspect: ~10 ms of a start-up)
    from pybpf._dataclass import dataclass


@dataclass(frozen=True)
class Proto:
    args: tuple[str, ...]
    ret: str = "int"
    #: the helper may move or resize the packet: every packet pointer is invalidated
    changes_packet: bool = False
    #: for callbacks: the registers the callback receives
    callback_args: tuple[str, ...] = ()


_SKB = {T.SOCKET_FILTER, T.SCHED_CLS, T.SCHED_ACT, T.CGROUP_SKB, T.LWT_IN, T.LWT_OUT, T.LWT_XMIT, T.SK_SKB}
_TC = {T.SCHED_CLS, T.SCHED_ACT}
_TRACING = {T.KPROBE, T.TRACEPOINT, T.PERF_EVENT, T.RAW_TRACEPOINT, T.RAW_TRACEPOINT_WRITABLE, T.TRACING}
_PERF_OUTPUT = _TRACING | _SKB | {T.XDP}
#: program types that may look sockets up (and must release them)
_SK_LOOKUP = _TC | {T.XDP, T.CGROUP_SKB, T.SK_SKB, T.SK_MSG, T.CGROUP_SOCK_ADDR}
ALL = None

#: name → (prototype, program types that may call it; None: every type)
_TABLE: dict[str, tuple[Proto, set | None]] = {
    "map_lookup_elem": (Proto(("map", "key"), "map_value_or_null"), ALL),
    "map_update_elem": (Proto(("map", "key", "value", "any")), ALL),
    "map_delete_elem": (Proto(("map", "key")), ALL),
    "map_push_elem": (Proto(("map", "value", "any")), ALL),
    "map_pop_elem": (Proto(("map", "uninit_value")), ALL),
    "map_peek_elem": (Proto(("map", "uninit_value")), ALL),
    "ktime_get_ns": (Proto(()), ALL),
    "ktime_get_boot_ns": (Proto(()), ALL),
    "ktime_get_coarse_ns": (Proto(()), set(T) - _TRACING),
    "jiffies64": (Proto(()), ALL),
    "get_prandom_u32": (Proto(()), ALL),
    "spin_lock": (Proto(("spin_lock",), "void"), ALL),
    "spin_unlock": (Proto(("spin_lock",), "void"), ALL),
    "timer_init": (Proto(("timer", "map", "any")), ALL),
    "timer_set_callback": (Proto(("timer", "func")), ALL),
    "timer_start": (Proto(("timer", "any", "any")), ALL),
    "timer_cancel": (Proto(("timer",)), ALL),
    "get_smp_processor_id": (Proto(()), ALL),
    "get_numa_node_id": (Proto(()), ALL),
    "tail_call": (Proto(("ctx", "map", "any"), "void"), ALL),
    "trace_printk": (Proto(("mem", "size", "any?", "any?", "any?")), ALL),
    "trace_vprintk": (Proto(("mem", "size", "mem?", "size0")), ALL),
    "probe_read_kernel": (Proto(("uninit", "size0", "any")), ALL),
    "probe_read_kernel_str": (Proto(("uninit", "size0", "any")), ALL),
    "probe_read_user": (Proto(("uninit", "size0", "any")), ALL),
    "probe_read_user_str": (Proto(("uninit", "size0", "any")), ALL),
    "ringbuf_output": (Proto(("map", "mem", "size0", "any")), ALL),
    "ringbuf_reserve": (Proto(("map", "alloc_size", "any"), "ringbuf_mem_or_null"), ALL),
    "ringbuf_submit": (Proto(("release", "any"), "void"), ALL),
    "ringbuf_discard": (Proto(("release", "any"), "void"), ALL),
    "ringbuf_query": (Proto(("map", "any")), ALL),
    "loop": (Proto(("any", "func", "stack?", "any"), callback_args=("scalar", "ctx_arg")), ALL),
    "for_each_map_elem": (Proto(("map", "func", "stack?", "any"),
                                callback_args=("map_ptr", "map_key", "map_value", "ctx_arg")), ALL),
    "get_current_task": (Proto(()), ALL),
    # this kernel offers the task helpers to every program type (bpf_base_func_proto)
    "get_current_task_btf": (Proto((), "trusted_btf:task_struct"), ALL),
    "task_pt_regs": (Proto(("btf:task_struct",), "btf:pt_regs"), ALL),
    "current_task_under_cgroup": (Proto(("map", "any")), ALL),
    "task_storage_get": (Proto(("map", "btf?:task_struct", "value?", "any"), "map_value_or_null"), ALL),
    "task_storage_delete": (Proto(("map", "btf:task_struct")), ALL),
    "get_ns_current_pid_tgid": (Proto(("any", "any", "uninit", "size")), ALL),
    "get_task_stack": (Proto(("btf:task_struct", "uninit", "size0", "any")), ALL),
    # a socket seen as the more specific struct it is, or NULL when it is not one (not for
    # kprobes, tracepoints, perf events: they hold no typed socket)
    **{f"skc_to_{kind}": (Proto(("sock_common",), f"btf?:{kind}"), set(T) - _TRACING | {T.TRACING})
       for kind in ("tcp6_sock", "tcp_sock", "tcp_timewait_sock", "tcp_request_sock", "udp6_sock", "unix_sock")},
    # the arguments and return value a trampoline saved (fentry/fexit/fmod_ret, LSM)
    "get_func_arg": (Proto(("ctx", "any", "u64_out")), {T.TRACING, T.LSM}),
    "get_func_ret": (Proto(("ctx", "u64_out")), {T.TRACING, T.LSM}),
    "get_func_arg_cnt": (Proto(("ctx",)), {T.TRACING, T.LSM}),
    "seq_printf": (Proto(("btf:seq_file", "mem", "size", "mem?", "size0")), {T.TRACING}),
    "seq_write": (Proto(("btf:seq_file", "mem", "size0")), {T.TRACING}),
    "probe_read": (Proto(("uninit", "size0", "any")), _TRACING),
    "probe_read_str": (Proto(("uninit", "size0", "any")), _TRACING),
    "get_current_pid_tgid": (Proto(()), ALL),
    "get_current_uid_gid": (Proto(()), ALL),
    "get_current_comm": (Proto(("uninit", "size")), ALL),
    "get_current_cgroup_id": (Proto(()), ALL),
    "perf_event_output": (Proto(("ctx", "map", "any", "mem", "size0")), _PERF_OUTPUT | {T.CGROUP_SOCK, T.SOCK_OPS}),
    "get_stackid": (Proto(("ctx", "map", "any")), _TRACING),
    "get_stack": (Proto(("ctx", "uninit", "size0", "any")), _TRACING),
    "send_signal": (Proto(("any",)), ALL),
    "skb_load_bytes": (Proto(("ctx", "any", "uninit", "size")), _SKB),
    "skb_load_bytes_relative": (Proto(("ctx", "any", "uninit", "size", "any")),
                                _SKB - {T.LWT_IN, T.LWT_OUT, T.LWT_XMIT, T.SK_SKB}),
    "skb_store_bytes": (Proto(("ctx", "any", "mem", "size", "any"), changes_packet=True), _TC | {T.LWT_XMIT, T.SK_SKB}),
    "l3_csum_replace": (Proto(("ctx", "any", "any", "any", "any"), changes_packet=True), _TC | {T.LWT_XMIT}),
    "l4_csum_replace": (Proto(("ctx", "any", "any", "any", "any"), changes_packet=True), _TC | {T.LWT_XMIT}),
    "csum_diff": (Proto(("mem?", "size0", "mem?", "size0", "any")), _TC | {T.XDP, T.LWT_XMIT, T.LWT_IN, T.LWT_OUT}),
    "get_socket_cookie": (Proto(("ctx",)), _SKB - {T.LWT_IN, T.LWT_OUT, T.LWT_XMIT} | {T.CGROUP_SOCK, T.SOCK_OPS,
                                                                                     T.TRACING}),
    "get_socket_uid": (Proto(("ctx",)), _SKB - {T.LWT_IN, T.LWT_OUT, T.LWT_XMIT}),
    "get_hash_recalc": (Proto(("ctx",)), _TC | {T.LWT_XMIT, T.LWT_IN, T.LWT_OUT}),
    "skb_change_tail": (Proto(("ctx", "any", "any"), changes_packet=True), _TC | {T.SK_SKB, T.LWT_XMIT}),
    "skb_pull_data": (Proto(("ctx", "any"), changes_packet=True), _TC | {T.LWT_XMIT, T.LWT_IN, T.LWT_OUT, T.SK_SKB}),
    "redirect": (Proto(("any", "any")), _TC | {T.XDP, T.LWT_XMIT}),
    "redirect_map": (Proto(("map", "any", "any")), {T.XDP}),
    "xdp_adjust_head": (Proto(("ctx", "any"), changes_packet=True), {T.XDP}),
    "xdp_adjust_tail": (Proto(("ctx", "any"), changes_packet=True), {T.XDP}),
    "xdp_adjust_meta": (Proto(("ctx", "any"), changes_packet=True), {T.XDP}),
    "skb_vlan_push": (Proto(("ctx", "any", "any"), changes_packet=True), _TC),
    "skb_vlan_pop": (Proto(("ctx",), changes_packet=True), _TC),
    # the current task's classid everywhere; the packet's in tc and lwt programs (below)
    "get_cgroup_classid": (Proto(()), ALL),
    "skb_cgroup_id": (Proto(("ctx",)), _TC | {T.CGROUP_SKB}),
    "ktime_get_tai_ns": (Proto(()), ALL),
    "map_lookup_percpu_elem": (Proto(("map", "key", "any"), "map_value_or_null"), ALL),
    "send_signal_thread": (Proto(("any",)), ALL),
    "get_func_ip": (Proto(("ctx",)), _TRACING),
    "get_attach_cookie": (Proto(("ctx",)), _TRACING),
    "perf_event_read": (Proto(("map", "any")), ALL),
    "perf_event_read_value": (Proto(("map", "any", "uninit", "size")), ALL),
    "set_hash_invalid": (Proto(("ctx",), "void"), _TC | {T.LWT_XMIT}),
    "skb_ecn_set_ce": (Proto(("ctx",)), _TC | {T.CGROUP_SKB}),
    "skb_change_head": (Proto(("ctx", "any", "any"), changes_packet=True), _TC | {T.SK_SKB, T.LWT_XMIT}),
    "skb_change_proto": (Proto(("ctx", "any", "any"), changes_packet=True), _TC),
    "skb_change_type": (Proto(("ctx", "any")), _TC),
    "csum_update": (Proto(("ctx", "any")), _TC | {T.LWT_XMIT}),
    "csum_level": (Proto(("ctx", "any")), _TC | {T.LWT_XMIT}),
    "redirect_peer": (Proto(("any", "any")), _TC),
    "xdp_get_buff_len": (Proto(("ctx",)), {T.XDP}),
    "xdp_load_bytes": (Proto(("ctx", "any", "uninit", "size")), {T.XDP}),
    "xdp_store_bytes": (Proto(("ctx", "any", "mem", "size")), {T.XDP}),
    "fib_lookup": (Proto(("ctx", "mem", "size", "any")), _TC | {T.XDP}),
    "sk_lookup_tcp": (Proto(("ctx", "mem", "size0", "any", "any"), "sock_or_null"), _SK_LOOKUP),
    "sk_lookup_udp": (Proto(("ctx", "mem", "size0", "any", "any"), "sock_or_null"), _SK_LOOKUP),
    "skc_lookup_tcp": (Proto(("ctx", "mem", "size0", "any", "any"), "sock_common_or_null"), _SK_LOOKUP),
    "sk_release": (Proto(("sock_release",)), _SK_LOOKUP),
    "ringbuf_reserve_dynptr": (Proto(("map", "any", "any", "dynptr_uninit")), ALL),
    "ringbuf_submit_dynptr": (Proto(("dynptr_release", "any"), "void"), ALL),
    "ringbuf_discard_dynptr": (Proto(("dynptr_release", "any"), "void"), ALL),
    "dynptr_read": (Proto(("uninit", "size0", "dynptr", "any", "any")), ALL),
    "dynptr_write": (Proto(("dynptr", "any", "mem", "size0", "any")), ALL),
    "dynptr_data": (Proto(("dynptr", "any", "alloc_size0"), "dynptr_mem_or_null"), ALL),
}

PROTOS: dict[int, tuple[Proto, set | None]] = {helper_id(name): entry for name, entry in _TABLE.items()}
#: (helper, program type) → the prototype that type sees, where it differs
_PER_TYPE = {(helper_id("get_cgroup_classid"), kind): Proto(("ctx",))
             for kind in _TC | {T.LWT_IN, T.LWT_OUT, T.LWT_XMIT}}
# a tracing program asks for the cookie of a socket it holds a pointer to
_PER_TYPE[helper_id("get_socket_cookie"), T.TRACING] = Proto(("sock_common?",))


#: helpers only programs attached some ways may call: an iterator's seq_file helpers,
#: what a trampoline saved
_TRAMPOLINE = {AttachType.TRACE_FENTRY, AttachType.TRACE_FEXIT, AttachType.MODIFY_RETURN, AttachType.LSM_MAC,
               AttachType.LSM_CGROUP}
_ATTACH_ONLY = {helper_id("seq_printf"): {AttachType.TRACE_ITER}, helper_id("seq_write"): {AttachType.TRACE_ITER},
                **dict.fromkeys(map(helper_id, ("get_func_arg", "get_func_ret", "get_func_arg_cnt")), _TRAMPOLINE)}


def prototype(number: int, kind: T, attach: AttachType | None = None) -> Proto | None:
    """The prototype of helper ``number`` when programs of type ``kind`` (attached as
    ``attach``) may call it."""
    entry = PROTOS.get(number)
    if entry is None:
        return None
    proto, types = entry
    if types is not None and kind not in types:
        return None
    if number in _ATTACH_ONLY and attach not in _ATTACH_ONLY[number]:
        return None
    return _PER_TYPE.get((number, kind), proto)
