"""Keep the CPU busy with busy-loop processes, for checking the test suite under load.

    python scripts/cpu_load.py                 # one busy loop per core, until Ctrl-C / SIGTERM
    python scripts/cpu_load.py --workers 2 --duration 60

The workers run at this process's niceness (`nice -n 19 make test LOAD=1` loads the machine as
nicely as the suite runs, so the suite and the load share the cores). They stop with this process:
on SIGINT/SIGTERM, at --duration, and (Linux) when it dies any other way, since each worker gets
SIGTERM when its parent dies. scripts/test_repeat.py --load uses start_load/stop_load.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time

BUSY = "while True: pass"


def _die_with_parent():
    """preexec_fn: SIGTERM this worker when the process that started it dies (Linux prctl)."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return lambda: prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def start_load(workers: int | None = None, into: list | None = None) -> list[subprocess.Popen]:
    """`workers` busy-loop processes (default: one per core), each in its own session (a terminal's
    Ctrl-C does not reach them: stop_load does). Appended to `into` as they start, so that a caller
    interrupted half-way can still stop those already running."""
    procs = [] if into is None else into
    for _ in range(workers or os.cpu_count() or 1):
        procs.append(subprocess.Popen([sys.executable, "-c", BUSY], start_new_session=True,
                                      preexec_fn=_die_with_parent(), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


def stop_load(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, default=0, help="busy-loop processes (default: one per core)")
    p.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0 = until signalled)")
    args = p.parse_args(argv)
    stopping = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.append(True))
    procs = []
    try:
        start_load(args.workers or None, into=procs)
        print(f"cpu load: {len(procs)} busy loops (pids {' '.join(str(x.pid) for x in procs)}), "
              f"niceness {os.nice(0)}", flush=True)
        t0 = time.monotonic()
        while not stopping and not (args.duration and time.monotonic() - t0 >= args.duration):
            time.sleep(0.2)  # the control loop's polling period
    finally:
        stop_load(procs)
    print("cpu load stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
