"""SCHED_FIFO for the locomotion process: the helper, and the node's realtime_priority parameter."""

import os
import subprocess
import sys
import textwrap

import pytest
from diagnostic_msgs.msg import DiagnosticArray
from fog_policy.realtime import may_use_fifo, set_realtime_priority
from quadruped_bridge.process_launch import ProcessGroup, node_command, ros_env
from quadruped_bridge.ros_probe import RosProbe, diagnostics_text, private_domain_id


def test_zero_is_normal_scheduling_and_out_of_range_is_refused():
    assert set_realtime_priority(0) == 0
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    with pytest.raises(ValueError, match=r"my_param must be 0 .* 1-99, got 150"):
        set_realtime_priority(150, "my_param")
    with pytest.raises(ValueError, match="got -3"):
        set_realtime_priority(-3)


def test_every_thread_of_the_process_and_later_threads_get_fifo():
    # in a child process: the test runner itself must not become real-time
    code = textwrap.dedent(
        """
        import os, threading, time
        from fog_policy.realtime import may_use_fifo, set_realtime_priority, scheduling_of, process_threads

        def sched(tid):
            try:
                return scheduling_of(tid)
            except ProcessLookupError:  # a thread that ended between listing and asking
                return None

        ev = threading.Event()
        before = threading.Thread(target=ev.wait, daemon=True); before.start()
        try:
            n = set_realtime_priority(17)
        except RuntimeError as e:
            print("REFUSED", e); raise SystemExit(0)
        finally:
            ev.set()
        seen = []
        after = threading.Thread(target=lambda: seen.append(scheduling_of(threading.get_native_id())))
        after.start(); after.join()
        print(n, sorted({sched(t) for t in process_threads()} - {None}), seen)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    if may_use_fifo():
        n, rest = out.stdout.strip().split(" ", 1)
        assert int(n) >= 2, out.stdout  # the main thread and the one started before
        assert rest == "[('SCHED_FIFO', 17)] [('SCHED_FIFO', 17)]", out.stdout
    else:
        assert out.stdout.startswith("REFUSED") and "CAP_SYS_NICE" in out.stdout, out.stdout


@pytest.mark.integration
def test_locomotion_node_reports_its_scheduling_and_refuses_a_bad_priority(tmp_path):
    domain = private_domain_id()
    group = ProcessGroup(tmp_path, ros_env(domain))
    probe = RosProbe(domain, use_sim_time=False)
    probe.watch(DiagnosticArray, "/diagnostics")
    try:
        bad_cmd = node_command("fog_policy.locomotion_node", {"realtime_priority": 150}, name="loco_bad")
        bad = group.start("bad", bad_cmd)
        assert bad.popen.wait(timeout=60) == 2
        assert "realtime_priority must be 0 (normal scheduling) or a SCHED_FIFO priority 1-99, got 150" in (
            bad.log_path.read_text()
        )
        rt = group.start("rt", node_command("fog_policy.locomotion_node", {"realtime_priority": 20}))
        if not may_use_fifo():
            assert rt.popen.wait(timeout=60) == 2
            assert "the kernel refused SCHED_FIFO" in rt.log_path.read_text()
            return
        reported = lambda: "scheduling=SCHED_FIFO 20" in diagnostics_text(probe.messages["/diagnostics"])  # noqa: E731
        assert probe.spin_until(reported, timeout=30), "awaited scheduling=SCHED_FIFO 20 reported:\n" + (
            diagnostics_text(probe.messages["/diagnostics"]))
        assert rt.alive()
    finally:
        probe.close()
        group.stop()
