"""Clean exits for node processes and the `fog` verbs that start ROS nodes.

A normal stop (SIGINT, SIGTERM, the end of a `--duration`) must end a process with exit code 0
and no traceback, so that scripts checking exit codes can tell success from failure.

rclpy's own signal handlers shut the context down at once, from a signal thread, while a physics
loop or a timer may be publishing ("publisher's context is invalid"), and before renderers and
bags are closed. Here SIGINT and SIGTERM only set a stop flag that the loops poll (no lock is
taken in the handler), and `teardown` then stops everything in order:

  1. loops and executors (no callback runs any more; their threads are joined),
  2. nodes: publishers, subscriptions, timers, services (`destroy_node`), and with them what the
     nodes own: the simulator and its renderers (SimNode.destroy_node), bags,
  3. the context.

A third signal (e.g. ProcessGroup's SIGKILL escalation never needs it, but a user pressing Ctrl-C
again and again does) exits at once with 128 + the signal number: teardown got stuck.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.signals import SignalHandlerOptions

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopFlag:
    """Set by SIGINT/SIGTERM (or by `set()`); loops poll `is_set()`. Safe to set from a signal handler."""

    def __init__(self) -> None:
        self._set = False
        self.signum: int | None = None
        self.count = 0
        self._hooks: list[Callable[[], None]] = []

    def set(self, signum: int | None = None) -> None:
        if self.signum is None:
            self.signum = signum
        self._set = True  # a plain attribute: a signal handler must not take a lock the loop may hold
        for hook in list(self._hooks):
            hook()

    def on_set(self, hook: Callable[[], None]) -> None:
        """Also call `hook()` when set (e.g. a node's stop(); it runs in a signal handler: take no lock)."""
        self._hooks.append(hook)
        if self._set:
            hook()

    def is_set(self) -> bool:
        return self._set

    def handler(self, signum: int, _frame) -> None:
        self.count += 1
        if self.count >= 3:
            os._exit(128 + signum)
        self.set(signum)

    def install(self) -> StopFlag:
        """SIGINT and SIGTERM set this flag (main thread only)."""
        for sig in STOP_SIGNALS:
            signal.signal(sig, self.handler)
        return self


def init(args: list[str] | None = None) -> StopFlag:
    """rclpy.init without rclpy's signal handlers; SIGINT and SIGTERM set the returned flag instead.

    The project's network policy (quadruped_bridge.network_policy) fills in the ROS domain and the
    discovery range the user has not chosen before rcl reads them: a node started by hand with no
    ROS variables runs on the project's domain with localhost discovery, not on domain 0 over the subnet.
    """
    from quadruped_bridge import network_policy

    network_policy.apply_defaults()
    stop = StopFlag().install()  # before init: a signal during a slow rcl_init is a stop too
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    return stop


def spin_until(executor, stop: StopFlag, done: Callable[[], bool] | None = None, period: float = 0.1) -> None:
    """Run callbacks until `stop` is set, `done()` holds or the context shuts down.

    Polls with a timeout instead of blocking in `executor.spin()`: a Python signal handler only
    runs between bytecodes, never while the main thread blocks in the middleware's wait.
    """
    try:
        while not stop.is_set() and (done is None or not done()) and executor.context.ok():
            executor.spin_once(timeout_sec=period)
    except ExternalShutdownException:
        pass


def spin_in_thread(executor, stop: StopFlag, period: float = 0.1) -> threading.Thread:
    """`spin_until(executor, stop)` in a daemon thread (join it in teardown)."""
    thread = threading.Thread(target=spin_until, args=(executor, stop, None, period), name="executor", daemon=True)
    thread.start()
    return thread


def teardown(
    nodes: Iterable = (),
    executor=None,
    threads: Iterable[threading.Thread] = (),
    join_timeout: float = 5.0,
) -> bool:
    """Stop in order: threads joined, executor shut down, nodes destroyed (last first), context.

    The threads' loops must already have been told to stop (the stop flag, `SimNode.stop()`).
    Returns False (and says so on stderr) if a thread did not end in time. A teardown that takes
    longer than STALL_REPORT_S prints every thread's stack on stderr (faulthandler), so a hang in
    the middleware's teardown names where it waits (a replay once hung here 30 s, undiagnosed).
    """
    import faulthandler

    threads = list(threads)
    faulthandler.dump_traceback_later(STALL_REPORT_S + len(threads) * join_timeout, exit=False)
    try:
        return _teardown(nodes, executor, threads, join_timeout)
    finally:
        faulthandler.cancel_dump_traceback_later()


STALL_REPORT_S = 10.0
"""Seconds of teardown (beyond the threads' join timeouts) after which every thread's stack is printed."""


def _teardown(nodes, executor, threads, join_timeout: float) -> bool:
    ok = True
    for thread in threads:
        if thread is threading.current_thread():
            continue
        thread.join(join_timeout)
        if thread.is_alive():
            ok = False
            print(
                f"[clean_exit] warning: thread {thread.name!r} still runs after {join_timeout:.0f} s", file=sys.stderr
            )
    if executor is not None:
        # rclpy's Executor.shutdown() destroys the guard condition that callbacks still running in a
        # MultiThreadedExecutor's pool trigger ("cannot use Destroyable because destruction was
        # requested", printed as an exception never retrieved); let them finish first.
        pool = getattr(executor, "_executor", None)
        if pool is not None and hasattr(pool, "shutdown"):
            pool.shutdown(wait=True)
        executor.shutdown(timeout_sec=join_timeout)
    for node in reversed(list(nodes)):
        node.destroy_node()
    rclpy.try_shutdown()
    return ok
