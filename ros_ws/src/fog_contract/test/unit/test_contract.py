"""fog_contract: the joint order, the proprio features, gravity, the image resize, the topic table."""

import math

import numpy as np
import pytest
from fog_contract import go2, topics
from fog_contract.images import resize_rgb
from fog_contract.proprio import PROPRIO_NAMES, check_names, gravity_in_imu_frame, proprio_vector, upright_reward


def test_joint_order_is_unitree_sdk_order_and_poses_within_limits():
    assert go2.JOINT_NAMES[:3] == ("FR_hip_joint", "FR_thigh_joint", "FR_calf_joint")
    assert [n.split("_")[0] for n in go2.JOINT_NAMES[::3]] == ["FR", "FL", "RR", "RL"]
    for pose in (go2.STAND_POSE, go2.LIE_POSE):
        assert np.all(pose >= go2.JOINT_LOWER) and np.all(pose <= go2.JOINT_UPPER)
    assert len(go2.CMD_NAMES) == len(go2.CMD_LOW) == len(go2.CMD_HIGH) == 3
    assert all(lo < 0 < hi for lo, hi in zip(go2.CMD_LOW, go2.CMD_HIGH, strict=True))


def test_gravity_from_orientation_matches_the_rotation():
    roll = 0.3
    quat = (math.cos(roll / 2), math.sin(roll / 2), 0.0, 0.0)  # w, x, y, z: roll about x
    rx = np.array([[1, 0, 0], [0, math.cos(roll), -math.sin(roll)], [0, math.sin(roll), math.cos(roll)]])
    np.testing.assert_allclose(gravity_in_imu_frame(quat), rx.T @ [0, 0, -1.0], atol=1e-12)
    np.testing.assert_allclose(gravity_in_imu_frame((1, 0, 0, 0)), [0, 0, -1.0])


def test_gravity_without_orientation_comes_from_the_accelerometer():
    # an IMU that reports no orientation (zero quaternion): gravity is -accel / |accel|
    np.testing.assert_allclose(gravity_in_imu_frame((0, 0, 0, 0), (0.0, 4.9, 8.487)), -np.array([0, 4.9, 8.487]) / 9.8,
                               atol=1e-3)  # fmt: skip
    np.testing.assert_allclose(gravity_in_imu_frame((0, 0, 0, 0)), [0, 0, -1.0])


def test_proprio_vector_by_name_in_any_joint_order():
    rng = np.random.default_rng(0)
    q, dq, gyro = rng.normal(size=12), rng.normal(size=12), rng.normal(size=3)
    reversed_index = {n: 11 - i for i, n in enumerate(go2.JOINT_NAMES)}  # a robot listing joints backwards
    out = proprio_vector(PROPRIO_NAMES, reversed_index, q[::-1], dq[::-1], (1, 0, 0, 0), gyro)
    np.testing.assert_allclose(out, np.concatenate([q, dq, [0, 0, -1], gyro]).astype(np.float32))
    check_names(PROPRIO_NAMES)
    with pytest.raises(ValueError, match="unknown proprio feature 'foot_force.FR'"):
        check_names(["foot_force.FR"])


def test_upright_reward_reads_the_next_steps_tilt_and_joint_speeds():
    level = np.zeros((3, len(PROPRIO_NAMES)))
    level[:, PROPRIO_NAMES.index("gravity.z")] = -1.0
    assert upright_reward(level) == pytest.approx([0.0, 0.0, 0.0])
    tilted = level.copy()
    tilted[1, PROPRIO_NAMES.index("gravity.x")] = 0.6  # step 1 tilted: step 0's reward sees it
    tilted[2, PROPRIO_NAMES.index(f"joint_vel.{go2.JOINT_NAMES[3]}")] = 12.0  # one joint at 12 rad/s
    r = upright_reward(tilted)
    # the last step uses its own features; joint speed counts as 0.01 * mean(v^2) = 0.01 * 144 / 12
    assert r == pytest.approx([-0.6, -0.12, -0.12])
    assert upright_reward(tilted[2:]) == pytest.approx([-0.12])
    assert upright_reward(tilted[[0, 2]])[0] == pytest.approx(-0.12)


def test_resize_is_area_averaging_and_checks_its_input():
    img = np.zeros((4, 4, 3), np.uint8)
    img[:2, :2] = 200  # one bright quadrant
    small = resize_rgb(img, 2)
    assert small.shape == (2, 2, 3) and small[0, 0, 0] == 200 and small[1, 1, 0] == 0
    assert resize_rgb(img, 4) is img
    assert resize_rgb(np.zeros((4, 8, 3), np.uint8), 2, 4).shape == (2, 4, 3)
    with pytest.raises(ValueError, match="HxWx3"):
        resize_rgb(np.zeros((4, 4), np.uint8), 2)


def test_topic_table():
    assert set(topics.COMMAND_TOPICS) == {"cmd_vel", "joint_commands"}
    assert topics.CONTRACT[topics.IMAGE].type == "sensor_msgs/msg/Image" and topics.CONTRACT[topics.IMAGE].sensor
    assert not topics.CONTRACT[topics.JOINT_COMMANDS].sensor, "commands are reliable"
    assert topics.CLOCK.startswith("/") and topics.DIAGNOSTICS.startswith("/")
    assert not set(topics.CONTRACT) & set(topics.SIM_TOPICS)
