"""fog_contract.proprio: gravity from the IMU, the proprio vector by name, the upright reward."""

import math

import numpy as np
import pytest
from fog_contract import go2
from fog_contract.proprio import (
    PROPRIO_NAMES,
    UPRIGHT_FORMULA,
    check_names,
    gravity_in_imu_frame,
    proprio_vector,
    upright_reward,
)


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


def test_gravity_normalises_the_quaternion_and_ignores_a_zero_accelerometer():
    pitch = -0.4
    unit = (math.cos(pitch / 2), 0.0, math.sin(pitch / 2), 0.0)
    scaled = tuple(3.0 * v for v in unit)  # a non-unit quaternion means the same rotation
    g = gravity_in_imu_frame(scaled)
    np.testing.assert_allclose(g, gravity_in_imu_frame(unit), atol=1e-12)
    assert np.linalg.norm(g) == pytest.approx(1.0)
    ry = np.array([[math.cos(pitch), 0, math.sin(pitch)], [0, 1, 0], [-math.sin(pitch), 0, math.cos(pitch)]])
    np.testing.assert_allclose(g, ry.T @ [0, 0, -1.0], atol=1e-12)
    # no orientation and a zero accelerometer reading: straight down, not a division by zero
    np.testing.assert_allclose(gravity_in_imu_frame((0, 0, 0, 0), (0.0, 0.0, 0.0)), [0, 0, -1.0])


def test_proprio_vector_by_name_in_any_joint_order():
    rng = np.random.default_rng(0)
    q, dq, gyro = rng.normal(size=12), rng.normal(size=12), rng.normal(size=3)
    reversed_index = {n: 11 - i for i, n in enumerate(go2.JOINT_NAMES)}  # a robot listing joints backwards
    out = proprio_vector(PROPRIO_NAMES, reversed_index, q[::-1], dq[::-1], (1, 0, 0, 0), gyro)
    np.testing.assert_allclose(out, np.concatenate([q, dq, [0, 0, -1], gyro]).astype(np.float32))
    check_names(PROPRIO_NAMES)
    with pytest.raises(ValueError, match="unknown proprio feature 'foot_force.FR'"):
        check_names(["foot_force.FR"])


def test_proprio_names_are_the_go2_layout():
    assert len(PROPRIO_NAMES) == 2 * go2.NUM_JOINTS + 6 == len(set(PROPRIO_NAMES))
    assert PROPRIO_NAMES[0] == f"joint_pos.{go2.JOINT_NAMES[0]}"
    assert PROPRIO_NAMES[go2.NUM_JOINTS] == f"joint_vel.{go2.JOINT_NAMES[0]}"
    assert PROPRIO_NAMES[-6:] == ("gravity.x", "gravity.y", "gravity.z", "gyro.x", "gyro.y", "gyro.z")


def test_proprio_vector_takes_a_subset_in_the_order_asked_and_uses_the_accelerometer():
    index = {n: i for i, n in enumerate(go2.JOINT_NAMES)}
    q, dq = np.arange(12.0), -np.arange(12.0)
    names = ["gyro.z", f"joint_vel.{go2.JOINT_NAMES[5]}", "gravity.y", f"joint_pos.{go2.JOINT_NAMES[2]}"]
    out = proprio_vector(names, index, q, dq, (0, 0, 0, 0), (0.1, 0.2, 0.3), accel=(0.0, -9.8, 0.0))
    assert out.dtype == np.float32 and out.shape == (4,)
    np.testing.assert_allclose(out, [0.3, -5.0, 1.0, 2.0], atol=1e-6)


@pytest.mark.parametrize("bad", ["joint_pos", "joint_pos.", "gravity.w", "gyro", "gyro.xy", "", "image.rgb"])
def test_check_names_refuses_what_it_cannot_build(bad):
    with pytest.raises(ValueError, match=f"unknown proprio feature {bad!r}"):
        check_names(["gyro.x", bad])


def test_proprio_vector_refuses_an_unknown_feature_and_a_missing_joint():
    index = {n: i for i, n in enumerate(go2.JOINT_NAMES)}
    zeros = np.zeros(12)
    with pytest.raises(ValueError, match="unknown proprio feature 'foot_force.FR'"):
        proprio_vector(["foot_force.FR"], index, zeros, zeros, (1, 0, 0, 0), np.zeros(3))
    with pytest.raises(KeyError, match="tail_joint"):
        proprio_vector(["joint_pos.tail_joint"], index, zeros, zeros, (1, 0, 0, 0), np.zeros(3))


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


def test_upright_reward_uses_both_horizontal_gravity_axes_and_ignores_joint_positions():
    p = np.zeros((2, len(PROPRIO_NAMES)))
    p[1, PROPRIO_NAMES.index("gravity.x")] = 0.3
    p[1, PROPRIO_NAMES.index("gravity.y")] = 0.4  # |gravity_xy| = 0.5
    p[:, PROPRIO_NAMES.index(f"joint_pos.{go2.JOINT_NAMES[0]}")] = 100.0  # positions do not count
    p[:, PROPRIO_NAMES.index("gyro.z")] = 50.0  # nor does the gyro
    assert upright_reward(p) == pytest.approx([-0.5, -0.5])
    assert "gravity_xy" in UPRIGHT_FORMULA and "joint_vel" in UPRIGHT_FORMULA


def test_gravity_is_down_when_level_and_follows_pitch():
    np.testing.assert_allclose(gravity_in_imu_frame((1.0, 0.0, 0.0, 0.0)), [0.0, 0.0, -1.0])
    a = 0.3  # nose down by a (pitch about +y): gravity gains a +x component in the body frame
    np.testing.assert_allclose(
        gravity_in_imu_frame((np.cos(a / 2), 0.0, np.sin(a / 2), 0.0)), [np.sin(a), 0.0, -np.cos(a)], atol=1e-12
    )
