"""bcc.tcp: TCP state and header flag names (the kernel's numbering)."""

tcpstate = dict(enumerate(("ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE",
                           "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"), start=1))
_FLAGS = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR")
TCPHDR_FIN, TCPHDR_SYN, TCPHDR_RST, TCPHDR_PSH, TCPHDR_ACK, TCPHDR_URG, TCPHDR_ECE, TCPHDR_CWR = (
    1 << n for n in range(8))


def flags2str(flags: int) -> str:
    return "|".join(name for n, name in enumerate(_FLAGS) if flags & (1 << n))


def state2str(state: int) -> str:
    return tcpstate.get(state, str(state))
