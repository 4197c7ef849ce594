"""Real-time scheduling for a control process (Linux SCHED_FIFO), as robot controllers run.

A 50 Hz loop in a normally scheduled process waits behind whatever else the kernel runs on its
core (the policy's network step, logging, a compiler...). Under SCHED_FIFO it preempts them the
moment its timer's input arrives. `set_realtime_priority` moves every thread of this process
(the executor's and the DDS middleware's) to SCHED_FIFO at one priority; threads started later
inherit it from the thread that creates them.

Needs permission: root, CAP_SYS_NICE, or an `rtprio` limit (`ulimit -r`, /etc/security/limits.conf;
`docker run --cap-add SYS_NICE --ulimit rtprio=99`). Measured effect: docs/BENCHMARKS.md
("Deployment latency"), `python benchmarks/deploy_latency.py --realtime 80`.
"""

from __future__ import annotations

import os


def process_threads() -> list[int]:
    """Thread ids of this process."""
    try:
        return sorted(int(t) for t in os.listdir("/proc/self/task"))
    except OSError:
        return [0]


def set_realtime_priority(priority: int, who: str = "realtime_priority") -> int:
    """SCHED_FIFO at `priority` (1-99) for every thread of this process; returns how many threads.

    `who` names the setting in errors. 0 does nothing and returns 0. Raises ValueError for a
    priority outside 0-99 and RuntimeError (saying how to allow it) when the kernel refuses.
    """
    if priority == 0:
        return 0
    if not 1 <= priority <= 99:
        raise ValueError(f"{who} must be 0 (normal scheduling) or a SCHED_FIFO priority 1-99, got {priority}")
    if not hasattr(os, "sched_setscheduler"):
        raise RuntimeError(f"{who}={priority}: this platform has no SCHED_FIFO (Linux only)")
    param = os.sched_param(priority)
    threads = process_threads()
    for tid in threads:
        try:
            os.sched_setscheduler(tid, os.SCHED_FIFO, param)
        except ProcessLookupError:  # the thread ended meanwhile
            continue
        except PermissionError as e:
            raise RuntimeError(
                f"{who}={priority}: the kernel refused SCHED_FIFO ({e.strerror}); run as root, grant "
                "CAP_SYS_NICE, or raise the rtprio limit (ulimit -r; docker: --cap-add SYS_NICE "
                "--ulimit rtprio=99), or set it to 0"
            ) from e
    return len(threads)


def may_use_fifo() -> bool:
    """Whether this process may ask for SCHED_FIFO (root, or a nonzero RLIMIT_RTPRIO)."""
    import resource

    return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_RTPRIO)[0] > 0


def scheduling_of(tid: int = 0) -> tuple[str, int]:
    """(policy name, priority) of a thread, e.g. ('SCHED_FIFO', 80)."""
    policy = os.sched_getscheduler(tid)
    names = {os.SCHED_OTHER: "SCHED_OTHER", os.SCHED_FIFO: "SCHED_FIFO", os.SCHED_RR: "SCHED_RR"}
    return names.get(policy, str(policy)), os.sched_getparam(tid).sched_priority
