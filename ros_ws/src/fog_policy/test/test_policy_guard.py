"""fog_policy.policy_guard: stale and missing inputs, the surprise latch."""

import pytest
from fog_policy.policy_guard import SurpriseLatch, input_problem


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
