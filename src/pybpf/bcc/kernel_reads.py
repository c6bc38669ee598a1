"""BCC's implicit reads of kernel memory: ``task->real_parent->tgid`` in a BCC program is
a chain of loads through kernel pointers, which the verifier refuses as plain loads.
BCC's rewriter turns them into probe reads; here each chain that starts at a variable
declared as a pointer to a kernel struct (one the program does not define itself) and
goes through at least two ``->`` becomes ``BPF_CORE_READ(task, real_parent, tgid)`` — a
CO-RE read, relocated against the running kernel by pybpf's loader.

Member types are followed through the kernel's BTF, so a chain ending in an array
(``task->real_parent->comm``) reads the pointers and takes the array's address, as C
would, instead of loading the array. A single ``->`` on such a variable is also
rewritten, except where the value is a context the verifier lets programs read directly.
"""

from __future__ import annotations

from pybpf.bcc.tokens import Token, tokenize
from pybpf.btf import BTF, Kind

#: contexts and records programs read directly (the verifier checks those accesses)
_DIRECT = {"pt_regs", "xdp_md", "__sk_buff", "bpf_perf_event_data", "bpf_raw_tracepoint_args", "bpf_sock_ops",
           "sk_msg_md", "bpf_sock_addr", "bpf_sock", "bcc_syscall_enter", "bcc_syscall_exit", "bpf_sockopt",
           "bpf_sysctl", "bpf_cgroup_dev_ctx", "sk_reuseport_md", "bpf_sk_lookup"}

def _kernel_btf() -> BTF:
    """The running kernel's BTF, parsed once per process (shared with the loader's)."""
    from pybpf.kernel.btf_targets import vmlinux

    return vmlinux()


def rewrite_kernel_reads(text: str, own_structs: set[str]) -> str:
    """``text`` with chains through kernel pointers turned into CO-RE reads, and members
    read through program-declared struct pointers into kernel memory turned into probe
    reads."""
    tokens = tokenize(text)
    variables = _pointer_variables(tokens, own_structs)
    if not variables:
        return text
    text = _kernel_cast_reads(text, tokens, variables, own_structs)
    text = _indexed_casts(text, tokenize(text), variables)
    tokens = tokenize(text)
    out: list[str] = []
    pos = 0
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        struct = variables.get(tok.text) if tok.kind == "id" else None
        base_end = i
        if struct is None and tok.text == "(":   # ((struct task_struct *)expr)->...
            struct, base_end = _cast(tokens, i, own_structs)
        prev = tokens[i - 1].text if i else ""
        if struct is None or prev in (".", "->", "struct", "&") or base_end + 2 >= len(tokens) \
                or tokens[base_end + 1].text != "->":
            i += 1
            continue
        steps, end = _chain(tokens, base_end + 1)
        if end < len(tokens) and tokens[end].text in ("=", "+=", "-=", "|=", "&=", "++", "--", "(", "["):
            i = end  # an assignment to, call through or index of kernel memory: left alone
            continue
        replacement = _core_read(text[tok.start:tokens[base_end].end], struct, steps)
        if replacement is not None:
            out.append(text[pos:tok.start] + replacement)
            pos = tokens[end - 1].end
        i = end
    out.append(text[pos:])
    return "".join(out)


def _pointer_variables(tokens: list[Token], own_structs: set[str]) -> dict[str, str]:
    """Variable → kernel struct, for every ``struct NAME *var`` declaration."""
    found: dict[str, str] = {}
    for i, tok in enumerate(tokens[:-3]):
        if tok.text != "struct" or tokens[i + 1].kind != "id" or tokens[i + 2].text != "*":
            continue
        name = tokens[i + 1].text
        j = i + 2
        while j < len(tokens) and tokens[j].text in ("*", "const", "__user"):
            j += 1
        declares = j + 1 < len(tokens) and tokens[j].kind == "id" and tokens[j + 1].text in ("=", ";", ",", ")")
        if declares and name not in own_structs and name not in _DIRECT and not name.startswith("tracepoint__"):
            found[tokens[j].text] = name
    return found


def _kernel_cast_reads(text: str, tokens: list[Token], kernel: dict[str, str], own_structs: set[str]) -> str:
    """``q = (struct cfs_rq_partial *)task->se.cfs_rq; len = q->nr_running;`` (runqlen.py):
    a pointer to a struct the program declares itself, assigned a cast of a kernel read,
    points into kernel memory; each ``q->member`` it reads becomes a probe read of that
    member, as BCC's rewriter makes it. (A member taken by address, indexed, assigned or
    read through again is left alone.)"""
    external: set[str] = set()
    for i in range(len(tokens) - 6):
        if tokens[i].kind != "id" or tokens[i + 1].text != "=" or tokens[i + 2].text != "(" \
                or tokens[i + 3].text != "struct" or tokens[i + 4].text not in own_structs \
                or tokens[i + 5].text != "*" or tokens[i + 6].text != ")":
            continue
        end = next((j for j in range(i + 7, len(tokens)) if tokens[j].text == ";"), len(tokens))
        source = tokens[i + 7:end]
        if any(t.text in kernel for t in source) or any(t.text == "bpf_get_current_task" for t in source):
            external.add(tokens[i].text)
    if not external:
        return text
    out, pos = [], 0
    for i in range(len(tokens) - 2):
        tok = tokens[i]
        if tok.text not in external or tokens[i + 1].text != "->" or tokens[i + 2].kind != "id":
            continue
        before = tokens[i - 1].text if i else ""
        after = tokens[i + 3].text if i + 3 < len(tokens) else ""
        if before in (".", "->", "&", "*") or after in ("=", "+=", "-=", "|=", "&=", "++", "--", "(", "[", ".", "->"):
            continue
        member = f"{tok.text}->{tokens[i + 2].text}"
        out.append(text[pos:tok.start] + f"({{ typeof({member}) __bcc_v; bpf_probe_read_kernel(&__bcc_v, "
                   f"sizeof(__bcc_v), &{member}); __bcc_v; }})")
        pos = tokens[i + 2].end
    out.append(text[pos:])
    return "".join(out)


def _indexed_casts(text: str, tokens: list[Token], kernel: dict[str, str]) -> str:
    """``((u8 *)tcp)[13]`` with ``tcp`` a kernel pointer (tcpdrop.py's TCP flags byte):
    an element read through a cast of kernel memory becomes a probe read of the element."""
    out, pos, i = [], 0, 0
    while i < len(tokens) - 6:
        if tokens[i].text != "(" or tokens[i + 1].text != "(":
            i += 1
            continue
        close = next((j for j in range(i + 2, min(i + 12, len(tokens))) if tokens[j].text == ")"), None)
        if close is None or close + 3 >= len(tokens) or tokens[close - 1].text != "*" \
                or tokens[close + 1].text not in kernel or tokens[close + 2].text != ")" \
                or tokens[close + 3].text != "[" or any(t.text in "(){}" for t in tokens[i + 2:close]):
            i += 1
            continue
        depth, end = 0, None
        for j in range(close + 3, len(tokens)):
            depth += {"[": 1, "]": -1}.get(tokens[j].text, 0)
            if depth == 0:
                end = j
                break
        if end is None:
            break
        element = text[tokens[i + 2].start:tokens[close - 1].start].strip()
        read = text[tokens[i].start:tokens[end].end]
        out.append(text[pos:tokens[i].start] + f"({{ {element} __bcc_e; bpf_probe_read_kernel(&__bcc_e, "
                   f"sizeof(__bcc_e), &{read}); __bcc_e; }})")
        pos = tokens[end].end
        i = end + 1
    out.append(text[pos:])
    return "".join(out)


def _cast(tokens: list[Token], i: int, own_structs: set[str]) -> tuple[str | None, int]:
    """(kernel struct, index of the closing parenthesis) of ``((struct NAME *)expr)`` at ``i``."""
    shape = [t.text for t in tokens[i + 1:i + 6]]
    if len(shape) < 5 or shape[0] != "(" or shape[1] != "struct" or shape[3:5] != ["*", ")"]:
        return None, i
    name = shape[2]
    if name in own_structs or name in _DIRECT or name.startswith("tracepoint__"):
        return None, i
    depth = 0
    for j in range(i, len(tokens)):
        depth += {"(": 1, ")": -1}.get(tokens[j].text, 0)
        if depth == 0:
            return name, j
    return None, i


def _chain(tokens: list[Token], index: int) -> tuple[list[tuple[str, str]], int]:
    """The (operator, member) steps of ``->a.b->c`` starting at ``index``, and where it ends."""
    steps = []
    while index + 1 < len(tokens) and tokens[index].text in ("->", ".") and tokens[index + 1].kind == "id":
        steps.append((tokens[index].text, tokens[index + 1].text))
        index += 2
    return steps, index


def _core_read(base: str, struct: str, steps: list[tuple[str, str]]) -> str | None:
    btf = _kernel_btf()
    kernel_name = struct.split("___")[0]  # a CO-RE flavor (NAME___bcc) reads as the kernel struct
    current = btf.find(kernel_name, Kind.STRUCT) or btf.find(kernel_name, Kind.UNION)
    if current is None:
        return None
    groups: list[list[str]] = []
    last_kind = None
    for op, member in steps:
        if current is None or current.kind not in (Kind.STRUCT, Kind.UNION):
            return None
        member_type = _member_type(btf, current.id, member)
        if member_type is None:
            return None
        if op == "->":
            groups.append([member])
        else:
            groups[-1].append(member)
        resolved = btf.resolve(member_type)
        last_kind = resolved.kind
        if resolved.kind == Kind.PTR:
            current = btf.resolve(resolved.ref)
        elif resolved.kind in (Kind.STRUCT, Kind.UNION):
            current = resolved
        else:
            current = None
    accessors = [".".join(group) for group in groups]
    if last_kind in (Kind.ARRAY, Kind.STRUCT, Kind.UNION):
        # an array (or struct) is not loaded: read the pointers before it, take its address
        if len(accessors) == 1:
            return None
        return f"(BPF_CORE_READ({base}, {', '.join(accessors[:-1])})->{accessors[-1]})"
    return f"BPF_CORE_READ({base}, {', '.join(accessors)})"


def _member_type(btf: BTF, struct_id: int, name: str) -> int | None:
    """The type of member ``name``, looking inside anonymous struct/union members too."""
    for m in btf.resolve(struct_id).members:
        if m.name == name:
            return m.type
        if not m.name:
            inner = btf.resolve(m.type)
            if inner.kind in (Kind.STRUCT, Kind.UNION):
                found = _member_type(btf, inner.id, name)
                if found is not None:
                    return found
    return None


def own_structs(text: str) -> set[str]:
    """Structs the program defines itself (``struct name {``)."""
    tokens = tokenize(text)
    return {tokens[i + 1].text for i in range(len(tokens) - 2)
            if tokens[i].text == "struct" and tokens[i + 1].kind == "id" and tokens[i + 2].text == "{"}



def flavor_kernel_structs(text: str) -> str:
    """A program's own definition of a kernel struct (BCC tools copy private ones such
    as ``struct mnt_namespace``) would clash with vmlinux.h: it is renamed to the CO-RE
    flavor ``NAME___bcc`` with ``preserve_access_index``, so its members are relocated
    to where the running kernel has them."""
    btf = _kernel_btf()
    tokens = tokenize(text)
    clashing = {name for name in own_structs(text)
                if btf.find(name, Kind.STRUCT) is not None or btf.find(name, Kind.UNION) is not None}
    if not clashing:
        return text
    out, pos = [], 0
    for i in range(len(tokens) - 1):
        if tokens[i].text == "struct" and tokens[i + 1].text in clashing:
            defining = i + 2 < len(tokens) and tokens[i + 2].text == "{"
            attribute = " __attribute__((preserve_access_index))" if defining else ""
            out.append(text[pos:tokens[i].start] + f"struct{attribute} {tokens[i + 1].text}___bcc")
            pos = tokens[i + 1].end
    out.append(text[pos:])
    return "".join(out)
