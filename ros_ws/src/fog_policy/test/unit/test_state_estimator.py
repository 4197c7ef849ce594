"""Legged odometry (fog_policy.state_estimator): the base velocity from stance legs, joint rates and the gyro."""

from __future__ import annotations

import numpy as np
import pytest
from fog_contract.go2 import FOOT_RADIUS, STAND_POSE
from fog_policy.leg_kinematics import foot_jacobians, foot_positions
from fog_policy.state_estimator import EstimatorConfig, LegOdometry

CONTROL_DT = 0.02
UP = np.array([0.0, 0.0, 1.0])
ALL_LEGS = np.ones(4)


def stance_joint_rates(q, v_base, gyro=(0.0, 0.0, 0.0), foot_radius=0.0) -> np.ndarray:
    """(12,) joint rates of legs whose feet hold still on flat ground while the base moves at `v_base`
    and turns at `gyro` (base frame). With `foot_radius`, the ball foot rolls without slipping: its
    contact point holds still and its centre moves at w_calf x (r * up), w_calf the calf's angular
    velocity (the gyro plus the joint rates about their axes)."""
    q = np.asarray(q, dtype=np.float64).reshape(4, 3)
    v_base, gyro = np.asarray(v_base, dtype=np.float64), np.asarray(gyro, dtype=np.float64)
    jac, feet = foot_jacobians(q), foot_positions(q)
    dq = np.zeros((4, 3))
    for _ in range(50):  # fixed point: the rolling term depends on dq, weakly (r << leg length)
        for leg in range(4):
            abd = q[leg, 0]
            pitch_axis = np.array([0.0, np.cos(abd), np.sin(abd)])
            w_calf = gyro + dq[leg, 0] * np.array([1.0, 0.0, 0.0]) + (dq[leg, 1] + dq[leg, 2]) * pitch_axis
            foot_vel = -v_base - np.cross(gyro, feet[leg]) + np.cross(w_calf, foot_radius * UP)
            dq[leg] = np.linalg.solve(jac[leg], foot_vel)
    return dq.reshape(12)


def raw_estimate(q, dq, gyro, weights) -> np.ndarray:
    odo = LegOdometry()
    odo.update(q, dq, np.asarray(gyro, dtype=np.float64), np.asarray(weights, dtype=np.float64), CONTROL_DT)
    return odo.raw_velocity.copy()


def test_odometry_of_a_still_robot_is_zero():
    odo = LegOdometry()
    for _ in range(20):
        v = odo.update(STAND_POSE, np.zeros(12), np.zeros(3), np.ones(4), CONTROL_DT)
    np.testing.assert_allclose(v, 0.0, atol=1e-12)
    # Base moving forward at 0.5 m/s: stance feet sweep backwards; the estimate follows.
    jac = foot_jacobians(STAND_POSE)
    dq = np.concatenate([np.linalg.solve(jac[leg], [-0.5, 0.0, 0.0]) for leg in range(4)])
    for _ in range(50):
        v = odo.update(STAND_POSE, dq, np.zeros(3), np.ones(4), CONTROL_DT)
    assert v[0] == pytest.approx(0.5, abs=0.05)  # the rolling-foot term adds a few percent
    assert abs(v[1]) < 1e-6


@pytest.mark.parametrize("v_base", [(0.5, 0.0, 0.0), (0.0, 0.3, 0.0), (-0.2, 0.15, 0.0)])
def test_rolling_feet_give_the_base_velocity_exactly(v_base):
    """Feet that roll without slipping (the real contact): each stance leg alone gives the base velocity."""
    q = STAND_POSE + np.tile([0.05, 0.1, -0.1], 4)
    dq = stance_joint_rates(q, v_base, foot_radius=FOOT_RADIUS)
    for leg in range(4):
        np.testing.assert_allclose(raw_estimate(q, dq, np.zeros(3), np.eye(4)[leg]), v_base, atol=1e-9)


def test_the_gyro_term_removes_the_turn_from_each_leg():
    """Turning in place at 1 rad/s: the stance feet sweep sideways by w x p_foot (about 0.25 m/s each);
    with the gyro each leg alone says the base does not translate, without it each leg is that far off."""
    gyro = np.array([0.0, 0.0, 1.0])
    dq = stance_joint_rates(STAND_POSE, np.zeros(3), gyro, foot_radius=FOOT_RADIUS)
    for leg in range(4):
        np.testing.assert_allclose(raw_estimate(STAND_POSE, dq, gyro, np.eye(4)[leg]), 0.0, atol=1e-9)
        assert np.linalg.norm(raw_estimate(STAND_POSE, dq, np.zeros(3), np.eye(4)[leg])) > 0.15


def test_stance_legs_are_averaged_by_weight_and_light_ones_ignored():
    rng = np.random.default_rng(0)
    q = STAND_POSE + rng.uniform(-0.1, 0.1, 12)
    dq = rng.normal(0.0, 1.0, 12)  # legs that disagree: a slipping foot, impacts
    gyro = np.array([0.1, -0.2, 0.3])
    per_leg = [raw_estimate(q, dq, gyro, np.eye(4)[leg]) for leg in range(4)]
    weights = np.array([1.0, 0.5, 0.1, 0.3])  # RR is below min_stance_weight (0.2): touching down
    expected = (1.0 * per_leg[0] + 0.5 * per_leg[1] + 0.3 * per_leg[3]) / 1.8
    np.testing.assert_allclose(raw_estimate(q, dq, gyro, weights), expected, atol=1e-12)
    # a lower threshold lets RR in
    odo = LegOdometry(EstimatorConfig(min_stance_weight=0.05))
    odo.update(q, dq, gyro, weights, CONTROL_DT)
    np.testing.assert_allclose(odo.raw_velocity, (expected * 1.8 + 0.1 * per_leg[2]) / 1.9, atol=1e-12)


def test_no_stance_leg_or_no_time_keeps_the_last_estimate():
    dq = stance_joint_rates(STAND_POSE, (0.4, 0.0, 0.0))
    odo = LegOdometry()
    before = odo.update(STAND_POSE, dq, np.zeros(3), ALL_LEGS, CONTROL_DT).copy()
    raw = odo.raw_velocity.copy()
    assert before[0] > 0.0
    # all four legs in the air (a jump, a fall) or light, and a repeated or backwards time stamp
    for weights, dt in ((np.zeros(4), CONTROL_DT), (np.full(4, 0.19), CONTROL_DT), (ALL_LEGS, 0.0), (ALL_LEGS, -0.02)):
        v = odo.update(STAND_POSE, 10 * dq, np.zeros(3), weights, dt)
        np.testing.assert_array_equal(v, before)
        np.testing.assert_array_equal(odo.raw_velocity, raw)


def test_low_pass_filter_steps_towards_the_raw_estimate():
    tau = 0.06
    dq = stance_joint_rates(STAND_POSE, (0.3, -0.1, 0.0), foot_radius=FOOT_RADIUS)
    odo = LegOdometry(EstimatorConfig(filter_time_constant=tau))
    alpha = CONTROL_DT / (tau + CONTROL_DT)
    v = odo.update(STAND_POSE, dq, np.zeros(3), ALL_LEGS, CONTROL_DT).copy()
    np.testing.assert_allclose(odo.raw_velocity, (0.3, -0.1, 0.0), atol=1e-9)
    np.testing.assert_allclose(v, alpha * odo.raw_velocity, atol=1e-12)  # one sample moves it a quarter of the way
    for _ in range(4):
        v = odo.update(STAND_POSE, dq, np.zeros(3), ALL_LEGS, CONTROL_DT).copy()
    np.testing.assert_allclose(v, (1 - (1 - alpha) ** 5) * odo.raw_velocity, atol=1e-12)
    for _ in range(100):
        v = odo.update(STAND_POSE, dq, np.zeros(3), ALL_LEGS, CONTROL_DT)
    np.testing.assert_allclose(v, (0.3, -0.1, 0.0), atol=1e-6)
    odo.reset()
    np.testing.assert_array_equal(odo.velocity, np.zeros(3))
    np.testing.assert_array_equal(odo.raw_velocity, np.zeros(3))
