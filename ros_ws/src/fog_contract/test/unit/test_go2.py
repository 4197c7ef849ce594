"""fog_contract.go2: the joint order, limits and poses, the leg geometry helpers, the cmd_vel space."""

import numpy as np
import pytest
from fog_contract import go2


def test_joint_order_is_unitree_sdk_order_and_poses_within_limits():
    assert go2.JOINT_NAMES[:3] == ("FR_hip_joint", "FR_thigh_joint", "FR_calf_joint")
    assert [n.split("_")[0] for n in go2.JOINT_NAMES[::3]] == ["FR", "FL", "RR", "RL"]
    for pose in (go2.STAND_POSE, go2.LIE_POSE):
        assert np.all(pose >= go2.JOINT_LOWER) and np.all(pose <= go2.JOINT_UPPER)
    assert len(go2.CMD_NAMES) == len(go2.CMD_LOW) == len(go2.CMD_HIGH) == 3
    assert all(lo < 0 < hi for lo, hi in zip(go2.CMD_LOW, go2.CMD_HIGH, strict=True))


def test_per_joint_limits_follow_the_joint_kind_and_front_or_rear():
    assert go2.NUM_JOINTS == 12 == len(set(go2.JOINT_NAMES))
    for arr in (go2.JOINT_LOWER, go2.JOINT_UPPER, go2.TORQUE_LIMITS, go2.STAND_POSE, go2.LIE_POSE):
        assert arr.shape == (12,)
    assert np.all(go2.JOINT_LOWER < go2.JOINT_UPPER)
    fr, rl = go2.leg_slice("FR"), go2.leg_slice("RL")
    lower_fr = [go2.HIP_LIMITS[0], go2.FRONT_THIGH_LIMITS[0], go2.CALF_LIMITS[0]]
    upper_rl = [go2.HIP_LIMITS[1], go2.REAR_THIGH_LIMITS[1], go2.CALF_LIMITS[1]]
    np.testing.assert_array_equal(go2.JOINT_LOWER[fr], lower_fr)
    np.testing.assert_array_equal(go2.JOINT_UPPER[rl], upper_rl)
    np.testing.assert_array_equal(go2.TORQUE_LIMITS[rl], [go2.HIP_TORQUE, go2.THIGH_TORQUE, go2.CALF_TORQUE])
    calf = [i for i, n in enumerate(go2.JOINT_NAMES) if "calf" in n]
    assert np.all(go2.JOINT_UPPER[calf] < 0), "the calf only folds backwards"


def test_leg_slice_picks_that_legs_three_joints():
    for leg in go2.LEGS:
        names = go2.JOINT_NAMES[go2.leg_slice(leg)]
        assert names == tuple(f"{leg}_{kind}_joint" for kind in go2.JOINT_KINDS)
    assert go2.leg_slice("RL") == slice(9, 12)
    with pytest.raises(ValueError):
        go2.leg_slice("XX")


def test_hip_positions_are_mirrored_about_the_body_axes():
    np.testing.assert_allclose(go2.hip_position("FR"), [go2.HIP_OFFSET_X, -go2.HIP_OFFSET_Y, 0.0])
    np.testing.assert_allclose(go2.hip_position("RL"), [-go2.HIP_OFFSET_X, go2.HIP_OFFSET_Y, 0.0])
    hips = np.stack([go2.hip_position(leg) for leg in go2.LEGS])
    np.testing.assert_allclose(hips.sum(axis=0), 0.0, atol=1e-12)  # symmetric about the base origin
    assert hips[0, 0] > 0 and hips[2, 0] < 0, "FR is in front, RR behind"
    with pytest.raises(KeyError):
        go2.hip_position("XX")


def test_total_mass_is_the_sum_of_the_links_and_the_stand_pose_reaches_the_stand_height():
    assert go2.TOTAL_MASS == pytest.approx(go2.MASS_BASE + 4 * (go2.MASS_HIP + go2.MASS_THIGH + go2.MASS_CALF))
    assert go2.TOTAL_MASS == pytest.approx(15.206, abs=2e-3)  # the module comment's figure (the sum is 15.205)
    # standing: thigh and calf fold so the foot is under the hip at about the stand height
    thigh, calf = go2.STAND_POSE[1], go2.STAND_POSE[2]
    depth = go2.THIGH_LENGTH * np.cos(thigh) + go2.CALF_LENGTH * np.cos(thigh + calf) + go2.FOOT_RADIUS
    assert depth == pytest.approx(go2.STAND_HEIGHT, abs=0.03)
