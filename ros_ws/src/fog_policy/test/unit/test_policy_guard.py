"""fog_policy.policy_guard: stale and missing inputs, the surprise latch, the order of the reasons
not to command, and the image trigger's policy clock."""

import pytest
from fog_policy.policy_guard import LOCOMOTION_WAIT, Hold, ImageTicks, SurpriseLatch, hold, input_problem


def test_fresh_inputs_pass_and_each_problem_is_named():
    assert input_problem(10.0, 9.9, 9.95, 9.95, image_timeout=0.15, joint_timeout=0.2) is None
    assert input_problem(10.0, None, None, 9.9, 0.15, 0.2) == ("WARN", "waiting for camera/image_raw, joint_states")
    level, reason = input_problem(10.0, 9.8, 9.95, 9.95, 0.15, 0.2)
    assert level == "ERROR" and reason.startswith("camera stale: last image 0.20 s old")
    level, reason = input_problem(10.0, 9.95, 9.95, 9.7, 0.15, 0.2)
    assert level == "ERROR" and "joint state / IMU stale: 0.30 s old" in reason, "the older of joints and IMU counts"


def test_surprise_latches_after_consecutive_steps_only():
    latch = SurpriseLatch(threshold=2.0, steps=3)
    assert not any(latch.update(s) for s in (3.0, 3.0, 1.0, 3.0, 3.0)), "a familiar step restarts the count"
    assert latch.update(3.5) and latch.latched
    assert "surprise 3.50 > 2.00 for 3 steps" in latch.reason
    assert not latch.update(5.0), "latching happens once"
    latch.reset()
    assert latch.latched, "a new episode does not unlatch"
    latch.reset(unlatch=True)
    assert not latch.latched and latch.count == 0 and latch.reason is None


@pytest.mark.parametrize("surprise", [2.0, 1.0])
def test_surprise_at_or_below_the_threshold_is_familiar(surprise):
    latch = SurpriseLatch(threshold=2.0, steps=1)
    assert not latch.update(surprise) and not latch.latched


def held(**changes):
    """`hold` on fresh inputs at t=10 s, enabled, unlatched, not waiting: with `changes` applied."""
    args = dict(
        enabled=True,
        latch=SurpriseLatch(threshold=2.0, steps=1),
        waiting_for_locomotion=False,
        now=10.0,
        image_stamp=9.95,
        joint_stamp=9.98,
        imu_stamp=9.98,
        image_timeout=0.15,
        joint_timeout=0.2,
    )
    return hold(**{**args, **changes})


def latched() -> SurpriseLatch:
    latch = SurpriseLatch(threshold=2.0, steps=1)
    latch.update(5.0)
    return latch


def test_fresh_inputs_step():
    assert held() is None


def test_the_reasons_not_to_command_come_in_order():
    stale = dict(image_stamp=9.0)
    # disabled and latched only report (the node already stopped when they began); the rest stop
    assert held(enabled=False, latch=latched(), **stale) == Hold("WARN", "disabled (fog_policy/enable)", stop=False)
    h = held(latch=latched(), waiting_for_locomotion=True, **stale)
    assert h.level == "ERROR" and h.reason.startswith("surprise 5.00 > 2.00") and not h.stop
    assert held(waiting_for_locomotion=True, **stale) == Hold("WARN", LOCOMOTION_WAIT, stop=True)
    h = held(**stale)
    assert h.stop and h.level == "ERROR" and h.reason.startswith("camera stale")


def test_waiting_for_locomotion_names_a_missing_input_first():
    h = held(waiting_for_locomotion=True, imu_stamp=None)
    assert h == Hold("WARN", "waiting for imu/data", stop=True)


def test_image_ticks_pick_the_first_frame_at_or_after_each_tick():
    ticks = ImageTicks(period=0.1)
    # a 30 Hz camera against a 10 Hz policy: frames at k/30 s
    due = [k for k in range(31) if ticks.due(k / 30)]
    assert due == [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30]


def test_image_ticks_after_a_gap_skip_the_missed_ticks():
    ticks = ImageTicks(period=0.1)
    assert ticks.due(1.0) and not ticks.due(1.05)
    assert ticks.due(1.37), "the first frame after a gap steps"
    assert ticks.next_tick == pytest.approx(1.4), "and the clock moves past every tick the gap skipped"
    assert not ticks.due(1.39) and ticks.due(1.4)
