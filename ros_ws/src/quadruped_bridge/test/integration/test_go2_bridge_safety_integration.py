"""The Go2 bridge's safety layer as the robot sees it (the fake Go2's record of every LowCmd_):
clamped and rejected commands, the watchdog's damping, the latched e-stop. Stacks and stages:
quadruped_bridge.fake_go2_stack (and test_go2_bridge_integration.py's docstring)."""


import re
import time

import numpy as np
import pytest
from fog_contract.go2 import JOINT_UPPER, STAND_POSE
from quadruped_bridge.fake_go2 import record_column
from quadruped_bridge.fake_go2_stack import (
    ACTIVE,
    F32,
    MOTOR,
    TIMEOUT,
    commanded,
    damping,
    motor_cols,
    row_summary,
)
from quadruped_bridge.ros_probe import diagnostics_text
from std_srvs.srv import Trigger

pytestmark = pytest.mark.integration


def test_commands_are_clamped_and_bad_ones_rejected(go2):
    stack = go2.at(ACTIVE)
    stack.probe.messages["/diagnostics"].clear()
    n0 = len(stack.rows())
    target = STAND_POSE.copy()
    target[2] = -0.3  # FR calf beyond its upper limit (-0.838)
    target[4] = STAND_POSE[4] + 0.8  # FL thigh: a jump larger than the 0.5 rad max step
    stack.command(target)
    calf_col, thigh_col = record_column("q", MOTOR["FR_calf_joint"]), record_column("q", MOTOR["FL_thigh_joint"])

    def clamped_target_sent():
        rows = stack.rows()[n0:]
        rows = rows[commanded(rows)][-20:]
        return (len(rows) == 20 and np.all(np.abs(rows[:, calf_col] - JOINT_UPPER[2]) <= F32)
                and np.all(np.abs(rows[:, thigh_col] - (STAND_POSE[4] + 0.8)) <= F32))

    stack.await_(clamped_target_sent, 10, "20 LowCmd_ with the FR calf at its limit and the FL thigh at its target")
    rows = stack.rows()[n0:]
    rows = rows[commanded(rows)]  # commanded rows (a busy CPU may trip the watchdog)
    calf = rows[:, calf_col]
    assert calf.max() <= JOINT_UPPER[2] + F32, f"FR calf commanded to {calf.max():.4f}, limit {JOINT_UPPER[2]:.4f}"
    # The max step applies per command (two commands may fall between two motor ticks when the
    # CPU is busy), so LowCmd_ shows it as: never beyond the stand pose + 0.5 before the second
    # command, and the full target once it is reached; the diagnostics name the clamp.
    thigh = rows[:, thigh_col]
    assert set(np.round(thigh, 4)) <= {round(STAND_POSE[4], 4), round(STAND_POSE[4] + 0.5, 4),
                                       round(STAND_POSE[4] + 0.8, 4)}, sorted(set(np.round(thigh, 4)))
    nan_target = STAND_POSE.copy()
    nan_target[7] = float("nan")
    stack.command(nan_target)
    # hold the NaN target until the bridge has reported one (a fixed 0.15 s lost it on a loaded machine)
    said = lambda: "non-finite position" in diagnostics_text(stack.probe.messages["/diagnostics"])  # noqa: E731
    stack.await_(said, 10, "the bridge's report of a non-finite position")
    stack.command(STAND_POSE)
    stack.wait_mode("active")  # (rejected commands may have let the watchdog fire: soft start again)
    text = diagnostics_text(stack.probe.messages["/diagnostics"])
    assert "FR_calf_joint (joint limit)" in text and "FL_thigh_joint (max step)" in text, text
    assert "non-finite position for ['RR_thigh_joint']" in text, text
    assert np.all(np.isfinite(stack.rows()[:, motor_cols("q")]))


def test_watchdog_damping_visible_in_lowcmd(go2):
    stack = go2.at(ACTIVE)
    stack.probe.messages["/diagnostics"].clear()
    n0 = len(stack.rows())
    last = stack.command(None)  # the controller goes silent
    said = lambda: "damping: watchdog" in diagnostics_text(stack.probe.messages["/diagnostics"])  # noqa: E731
    stack.await_(said, 10, "the bridge's report 'damping: watchdog'")
    # 100 damping rows (0.2 s at 500 Hz) after the first, so that "damping holds" has rows to hold over
    def held():
        damp = damping(stack.rows()[n0:])
        return np.any(damp) and len(damp) - int(np.argmax(damp)) >= 100

    stack.await_(held, 10, "100 LowCmd_ from the first damping one")
    rows = stack.rows()[n0:]
    damp = damping(rows)
    start = int(np.argmax(damp))
    assert np.all(damp[start:]), "damping must hold while no command arrives:\n" + row_summary(rows[~damp][-3:])
    assert np.all(rows[damp][:, motor_cols("dq")] == 0.0) and np.all(rows[damp][:, motor_cols("tau")] == 0.0)
    # By the bridge's clock: the motor tick that noticed the silence, after the last command it took
    # (never before the timeout; later by a starved tick at most: 0.252 s late once with both cores kept
    # busy, `make test-repeat LOAD=1`; the idle tick interval is in docs/BENCHMARKS.md).
    text = diagnostics_text(stack.probe.messages["/diagnostics"])
    said = re.search(r"watchdog: no joint command for ([0-9.]+) s", text)
    assert said, "the watchdog event does not say how long the commands had stopped"
    silent = float(said.group(1))
    assert TIMEOUT <= silent <= TIMEOUT + 0.5, f"the bridge damped after {silent:.3f} s of silence ({TIMEOUT} s)"
    # From outside: when the bridge sent the first damping LowCmd_ (its DDS source time) after the last
    # command this test published: never before the timeout, and within it plus what delivering the last
    # command and writing the LowCmd_ take on a loaded 2-core machine (a write 0.47 s after its tick was seen)
    gap = rows[start, 1] - last
    assert TIMEOUT - 0.005 <= gap <= TIMEOUT + 0.5, f"damping sent {gap:.3f} s after the last command published"


def test_estop_latches_damping_until_released(go2):
    stack = go2.at(ACTIVE)  # commands at the stand pose keep coming through the e-stop
    assert stack.probe.call(Trigger, "quadruped_bridge/estop").success
    t_estop, published = time.time(), stack.published
    # the latch must hold while the controller keeps publishing: 250 LowCmd_ (0.5 s) and 30 commands

    def after():
        # rows the bridge wrote after the service replied, by their DDS source timestamp (this machine's
        # wall clock). Not by when the fake took them: a loaded fake once took three LowCmd_ written
        # before the e-stop 50 ms late, in one batch (CI, stop 19)
        rows = stack.rows()
        return rows[rows[:, 1] > t_estop]

    stack.await_(lambda: len(after()) >= 250 and stack.published - published >= 30, 20,
                 "250 LowCmd_ and 30 published commands after the e-stop")
    rows = after()
    assert np.all(damping(rows)), "a command got through the e-stop:\n" + row_summary(rows[~damping(rows)][:3])
    stack.wait_mode("estop", after=0)
    res = stack.probe.call(Trigger, "quadruped_bridge/release_estop")
    assert res.success, res.message
    n1 = len(stack.rows())
    stack.await_(lambda: np.any(commanded(stack.rows()[n1:])), 10, "LowCmd_ with the bridge's gains (soft start)")
    stack.wait_mode("active")


