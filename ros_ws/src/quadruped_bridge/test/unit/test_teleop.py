"""quadruped_bridge.teleop: what each key does to the command and which episode event it sends."""

import numpy as np
from quadruped_bridge.teleop import LIMITS, apply_key


def test_keys_step_clip_stop_and_events():
    cmd = np.zeros(3)
    for _ in range(10):
        cmd = apply_key(cmd, "w").command
    assert cmd[0] == 0.5  # clipped to the gait's envelope
    cmd = apply_key(cmd, "a").command
    cmd = apply_key(cmd, "e").command
    np.testing.assert_allclose(cmd, [0.5, 0.1, -0.2])
    assert not np.any(apply_key(cmd, " ").command)
    assert apply_key(cmd, "1").event == "start" and apply_key(cmd, "3").event == "fail"
    assert apply_key(cmd, "x").quit


def test_keys_clip_each_axis_ignore_unknown_keys_and_keep_the_command_on_events():
    cmd = np.zeros(3)
    for _ in range(20):
        cmd = apply_key(cmd, "s").command
        cmd = apply_key(cmd, "d").command
        cmd = apply_key(cmd, "Q").command  # upper case works as lower case
    np.testing.assert_allclose(cmd, [LIMITS[0][0], LIMITS[1][0], LIMITS[2][1]])
    same = apply_key(cmd, "z")
    np.testing.assert_array_equal(same.command, cmd)
    assert same.event is None and not same.quit
    event = apply_key(cmd, "4")
    assert event.event == "reset" and not event.quit
    np.testing.assert_array_equal(event.command, cmd)  # an event does not stop the robot
    assert apply_key(cmd, "2").event == "success"
    quit_ = apply_key(cmd, "x")
    assert quit_.quit and not np.any(quit_.command)
    # steps are rounded: five presses forward then five back return to exactly zero
    cmd = np.zeros(3)
    for key in "w" * 5 + "s" * 5:
        cmd = apply_key(cmd, key).command
    assert cmd[0] == 0.0
