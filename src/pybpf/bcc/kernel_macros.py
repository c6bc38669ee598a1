"""Macros of the kernel's own (not uapi) headers that BCC programs use.

BCC compiles against the kernel's headers, so a tool including ``<net/sock.h>`` writes
``sk->sk_state`` (a macro for ``sk->__sk_common.skc_state``), ``<net/inet_sock.h>``
``inet->inet_rcv_saddr``, ``<linux/tcp.h>`` ``tcp_sk(sk)``, ``<linux/kernel.h>``
``min_t(size_t, a, b)``, ``<linux/fs.h>`` ``WRITE``. BTF has no macros and the uapi headers
(:mod:`pybpf.bcc.uapi_macros`) have none of these, so they are written here, as the
kernel defines them (its inline functions ``tcp_sk``/``inet_sk``, casts of the same
pointer, as macros). The ones a program uses are put before it for its own preprocessing
— so that ``skp->sk_state`` is ``skp->__sk_common.skc_state`` in the text the implicit
kernel reads are decided on — whatever it includes: BCC programs reach these headers
through others (``<linux/tcp.h>`` includes ``<net/sock.h>``).
"""

from __future__ import annotations

from pybpf.bcc.uapi_macros import macros_used

_SOURCE = r"""
#define sk_node __sk_common.skc_node
#define sk_nulls_node __sk_common.skc_nulls_node
#define sk_refcnt __sk_common.skc_refcnt
#define sk_tx_queue_mapping __sk_common.skc_tx_queue_mapping
#define sk_rx_queue_mapping __sk_common.skc_rx_queue_mapping
#define sk_hash __sk_common.skc_hash
#define sk_portpair __sk_common.skc_portpair
#define sk_num __sk_common.skc_num
#define sk_dport __sk_common.skc_dport
#define sk_addrpair __sk_common.skc_addrpair
#define sk_daddr __sk_common.skc_daddr
#define sk_rcv_saddr __sk_common.skc_rcv_saddr
#define sk_family __sk_common.skc_family
#define sk_state __sk_common.skc_state
#define sk_reuse __sk_common.skc_reuse
#define sk_reuseport __sk_common.skc_reuseport
#define sk_ipv6only __sk_common.skc_ipv6only
#define sk_net_refcnt __sk_common.skc_net_refcnt
#define sk_bound_dev_if __sk_common.skc_bound_dev_if
#define sk_bind_node __sk_common.skc_bind_node
#define sk_prot __sk_common.skc_prot
#define sk_net __sk_common.skc_net
#define sk_v6_daddr __sk_common.skc_v6_daddr
#define sk_v6_rcv_saddr __sk_common.skc_v6_rcv_saddr
#define sk_cookie __sk_common.skc_cookie
#define sk_incoming_cpu __sk_common.skc_incoming_cpu
#define sk_flags __sk_common.skc_flags
#define sk_rxhash __sk_common.skc_rxhash
#define inet_daddr sk.__sk_common.skc_daddr
#define inet_rcv_saddr sk.__sk_common.skc_rcv_saddr
#define inet_dport sk.__sk_common.skc_dport
#define inet_num sk.__sk_common.skc_num
#define ir_loc_addr req.__req_common.skc_rcv_saddr
#define ir_rmt_addr req.__req_common.skc_daddr
#define ir_num req.__req_common.skc_num
#define ir_rmt_port req.__req_common.skc_dport
#define ir_v6_rmt_addr req.__req_common.skc_v6_daddr
#define ir_v6_loc_addr req.__req_common.skc_v6_rcv_saddr
#define tw_family __tw_common.skc_family
#define tw_state __tw_common.skc_state
#define tw_dport __tw_common.skc_dport
#define tw_num __tw_common.skc_num
#define tw_daddr __tw_common.skc_daddr
#define tw_rcv_saddr __tw_common.skc_rcv_saddr
#define tcp_sk(sk) ((struct tcp_sock *)(sk))
#define inet_sk(sk) ((struct inet_sock *)(sk))
#define inet_csk(sk) ((struct inet_connection_sock *)(sk))
#define udp_sk(sk) ((struct udp_sock *)(sk))
#define tcp_rsk(req) ((struct tcp_request_sock *)(req))
#define inet_rsk(req) ((struct inet_request_sock *)(req))
#define min_t(type, x, y) ({ type __bcc_min1 = (x); type __bcc_min2 = (y); __bcc_min1 < __bcc_min2 ? __bcc_min1 : __bcc_min2; })
#define max_t(type, x, y) ({ type __bcc_max1 = (x); type __bcc_max2 = (y); __bcc_max1 > __bcc_max2 ? __bcc_max1 : __bcc_max2; })
#define div_u64(dividend, divisor) ((u64)(dividend) / (u32)(divisor))
#define div64_u64(dividend, divisor) ((u64)(dividend) / (u64)(divisor))
#define MSEC_PER_SEC 1000L
#define USEC_PER_MSEC 1000L
#define NSEC_PER_USEC 1000L
#define NSEC_PER_MSEC 1000000L
#define USEC_PER_SEC 1000000L
#define NSEC_PER_SEC 1000000000L
#define SG_CHAIN 0x01UL
#define SG_END 0x02UL
#define SG_PAGE_LINK_MASK (SG_CHAIN | SG_END)
#define sg_is_chain(sg) ((sg)->page_link & SG_CHAIN)
#define sg_is_last(sg) ((sg)->page_link & SG_END)
#define sg_chain_ptr(sg) ((struct scatterlist *)((sg)->page_link & ~SG_PAGE_LINK_MASK))
#define READ 0
#define WRITE 1
#define ITER_DEST 0
#define ITER_SOURCE 1
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
"""

#: ``{name: '#define ...'}``
KERNEL_MACROS = {line.split()[1].split("(")[0]: line for line in _SOURCE.strip().splitlines()}


def kernel_defines(text: str) -> str:
    """The kernel header macros ``text`` uses, as ``#define`` lines."""
    return macros_used(text, KERNEL_MACROS)
