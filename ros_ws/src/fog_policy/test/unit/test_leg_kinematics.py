"""Analytic Go2 leg kinematics: against MuJoCo's own forward kinematics, round trips, Jacobians."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from fog_contract.go2 import (
    JOINT_LOWER,
    JOINT_NAMES,
    JOINT_UPPER,
    LEGS,
    STAND_POSE,
)
from fog_policy.leg_kinematics import (
    REACH_MAX,
    foot_jacobians,
    foot_positions,
    inverse_kinematics,
    joint_velocities,
)
from quadruped_bridge.go2_mjcf import go2_model, joint_addresses


def _random_poses(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Stay in the walking workspace: leg below the hip, knee bent.
    lo = np.tile([-0.6, -0.3, -2.6], 4)
    hi = np.tile([0.6, 1.6, -0.9], 4)
    return rng.uniform(lo, hi, size=(n, 12))


def test_forward_kinematics_matches_mujoco():
    model = go2_model()
    data = mujoco.MjData(model)
    qpos_adr, _ = joint_addresses(model, JOINT_NAMES)
    rng = np.random.default_rng(1)
    for _ in range(20):
        q = rng.uniform(JOINT_LOWER, JOINT_UPPER)
        data.qpos[:] = 0.0
        data.qpos[3] = 1.0  # identity base orientation at the origin
        data.qpos[qpos_adr] = q
        mujoco.mj_kinematics(model, data)
        sim_feet = np.stack([data.site(f"{leg}_foot_site").xpos for leg in LEGS])
        np.testing.assert_allclose(foot_positions(q), sim_feet, atol=1e-12)


def test_stand_pose_feet_under_the_hips():
    feet = foot_positions(STAND_POSE)
    assert np.all(feet[:, 2] < -0.25)
    assert np.all(np.sign(feet[:, 1]) == [-1, 1, -1, 1])  # FR, FL, RR, RL
    assert np.all(np.sign(feet[:, 0]) == [1, 1, -1, -1])


def test_inverse_kinematics_round_trip():
    for q in _random_poses(200):
        feet = foot_positions(q)
        q_ik = inverse_kinematics(feet)
        np.testing.assert_allclose(foot_positions(q_ik), feet, atol=1e-10)
        np.testing.assert_allclose(q_ik.reshape(12), q, atol=1e-8)  # unique in this branch


def test_inverse_kinematics_clamps_unreachable_points():
    feet = foot_positions(STAND_POSE)
    far = feet.copy()
    far[:, 2] = -1.0  # far below reach
    q = inverse_kinematics(far)
    assert np.all(np.isfinite(q))
    assert np.all(q >= JOINT_LOWER.reshape(4, 3) - 1e-12) and np.all(q <= JOINT_UPPER.reshape(4, 3) + 1e-12)
    reached = foot_positions(q)
    assert np.all(reached[:, 2] < -0.3)  # as far down as the leg goes, straight-ish
    # Too close to the hip: still a valid, finite pose.
    near = feet.copy()
    near[:, 2] = -0.01
    assert np.all(np.isfinite(inverse_kinematics(near)))
    assert REACH_MAX < 0.426


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jacobian_matches_finite_differences(seed):
    q = _random_poses(1, seed)[0].reshape(4, 3)
    jac = foot_jacobians(q)
    eps = 1e-6
    for j in range(3):
        dq = np.zeros((4, 3))
        dq[:, j] = eps
        numeric = (foot_positions(q + dq) - foot_positions(q - dq)) / (2 * eps)
        np.testing.assert_allclose(jac[:, :, j], numeric, atol=1e-8)


def test_joint_velocities_invert_the_jacobian():
    q = STAND_POSE.reshape(4, 3)
    foot_vel = np.array([[0.3, 0.0, 0.1], [-0.2, 0.1, 0.0], [0.0, -0.1, -0.2], [0.1, 0.1, 0.1]])
    dq = joint_velocities(q, foot_vel)
    np.testing.assert_allclose(np.einsum("lij,lj->li", foot_jacobians(q), dq), foot_vel, atol=1e-3)
