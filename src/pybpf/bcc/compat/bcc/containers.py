"""bcc.containers: the C filters BCC's tools prepend for --cgroupmap/--mntnsmap."""

from __future__ import annotations

from typing import Any


def _cgroup_filter(path: str | None) -> str:
    if not path:
        return "static inline int _cgroup_filter() { return 0; }\n"
    return (f'BPF_TABLE_PINNED("hash", u64, u64, cgroupset, 1024, "{path}");\n'
            "static inline int _cgroup_filter() { u64 id = bpf_get_current_cgroup_id(); "
            "return cgroupset.lookup(&id) == NULL; }\n")


def _mntns_filter(path: str | None) -> str:
    if not path:
        return "static inline int _mntns_filter() { return 0; }\n"
    return (f'BPF_TABLE_PINNED("hash", u64, u32, mount_ns_set, 1024, "{path}");\n'
            "static inline int _mntns_filter() { struct task_struct *t = (struct task_struct *)"
            "bpf_get_current_task(); u64 id = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum); "
            "return mount_ns_set.lookup(&id) == NULL; }\n")


def filter_by_containers(args: Any) -> str:
    return (_cgroup_filter(getattr(args, "cgroupmap", None)) + _mntns_filter(getattr(args, "mntnsmap", None))
            + "static inline int container_should_be_filtered() { return _cgroup_filter() || _mntns_filter(); }\n")
