"""quadruped_bridge.go2_lowlevel: the Go2 low-level wire format (joint <-> motor mapping, LowCmd_/LowState_
fields, CRC stamping and checks, the fast LowCmd_ packer); and fog_contract.loop_timing's stats as the
bridge reports them."""

import math

import numpy as np
import pytest
from fog_contract.go2 import JOINT_LOWER, JOINT_NAMES, JOINT_UPPER, LIE_POSE
from quadruped_bridge.go2_lowlevel import (
    HEAD,
    LEVEL_LOWLEVEL,
    MOTOR_INDEX,
    MOTOR_MODE_SERVO,
    POS_STOP_F,
    VEL_STOP_F,
    check_dds_domain,
    compute_crc,
    crc_valid,
    fill_lowcmd,
    fill_lowstate,
    lowcmd_arrays,
    lowstate_arrays,
    motor_indices,
    new_lowcmd,
    new_lowstate,
    quat_to_roll_pitch,
    stamp_crc,
    unitree_motor_name,
)
from quadruped_bridge.motor_command import MotorCommand
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_, LowState_
from unitree_sdk2py.test.lowlevel.unitree_go2_const import LegID as SDK_LEG_ID

EXPECTED = {  # our joint name -> Unitree motor index, written out from Unitree's documentation
    "FR_hip_joint": 0, "FR_thigh_joint": 1, "FR_calf_joint": 2,
    "FL_hip_joint": 3, "FL_thigh_joint": 4, "FL_calf_joint": 5,
    "RR_hip_joint": 6, "RR_thigh_joint": 7, "RR_calf_joint": 8,
    "RL_hip_joint": 9, "RL_thigh_joint": 10, "RL_calf_joint": 11,
}


def sample_command(seed=0) -> MotorCommand:
    rng = np.random.default_rng(seed)
    return MotorCommand(q=rng.uniform(JOINT_LOWER, JOINT_UPPER), dq=rng.uniform(-3, 3, 12),
                        tau=rng.uniform(-5, 5, 12), kp=rng.uniform(10, 60, 12), kd=rng.uniform(0.5, 3, 12))


@pytest.mark.parametrize("joint", JOINT_NAMES)
def test_joint_maps_to_unitree_motor_by_name(joint):
    j = JOINT_NAMES.index(joint)
    assert MOTOR_INDEX[j] == EXPECTED[joint]
    assert SDK_LEG_ID[unitree_motor_name(joint)] == EXPECTED[joint]  # the SDK's own table agrees


def test_mapping_follows_names_not_positions():
    shuffled = list(reversed(JOINT_NAMES))
    idx = motor_indices(shuffled)
    assert [EXPECTED[n] for n in shuffled] == idx.tolist()
    with pytest.raises(ValueError, match="not a Go2 joint name"):
        motor_indices(["FR_knee_joint"] + list(JOINT_NAMES[1:]))
    with pytest.raises(ValueError, match="one-to-one"):
        motor_indices(list(JOINT_NAMES[:11]) + ["FR_hip_joint"])


def test_new_lowcmd_has_unitree_safe_initial_values():
    cmd = new_lowcmd()
    assert tuple(cmd.head) == HEAD and cmd.level_flag == LEVEL_LOWLEVEL
    for m in cmd.motor_cmd:
        assert m.mode == MOTOR_MODE_SERVO
        assert (m.q, m.dq, m.tau, m.kp, m.kd) == (POS_STOP_F, VEL_STOP_F, 0.0, 0.0, 0.0)


def test_fill_lowcmd_writes_each_joint_into_its_motor_slot():
    motor = sample_command()
    cmd = fill_lowcmd(new_lowcmd(), motor)
    for j, name in enumerate(JOINT_NAMES):
        m = cmd.motor_cmd[EXPECTED[name]]
        assert (m.q, m.dq, m.tau, m.kp, m.kd) == (motor.q[j], motor.dq[j], motor.tau[j], motor.kp[j], motor.kd[j])
    for m in cmd.motor_cmd[12:]:  # the unused slots keep their safe values
        assert (m.kp, m.kd, m.tau) == (0.0, 0.0, 0.0)


def test_zero_torque_and_damping_use_stop_targets_and_round_trip():
    zero = fill_lowcmd(new_lowcmd(), MotorCommand.zero_torque())
    assert all((m.kp, m.kd, m.tau, m.q, m.dq) == (0.0, 0.0, 0.0, POS_STOP_F, VEL_STOP_F) for m in zero.motor_cmd)
    damp = fill_lowcmd(new_lowcmd(), MotorCommand.damping(3.0))
    for i in MOTOR_INDEX:
        m = damp.motor_cmd[i]
        assert (m.kp, m.kd, m.dq, m.q, m.tau) == (0.0, 3.0, 0.0, POS_STOP_F, 0.0)
    back = lowcmd_arrays(damp)
    np.testing.assert_array_equal(back.kp, 0.0)
    np.testing.assert_array_equal(back.kd, 3.0)
    np.testing.assert_array_equal(back.q, 0.0)


def test_lowcmd_survives_cdr_round_trip_with_valid_crc():
    motor = sample_command(1)
    cmd = stamp_crc(fill_lowcmd(new_lowcmd(), motor))
    assert crc_valid(cmd)
    wire = LowCmd_.deserialize(cmd.serialize())
    assert crc_valid(wire)
    back = lowcmd_arrays(wire)
    for name in ("q", "dq", "tau", "kp", "kd"):  # float32 on the wire
        np.testing.assert_allclose(getattr(back, name), getattr(motor, name), rtol=1e-6, atol=1e-6)


def test_crc_detects_any_changed_field():
    cmd = stamp_crc(fill_lowcmd(new_lowcmd(), sample_command(2)))
    for mutate in (lambda c: setattr(c.motor_cmd[4], "kp", c.motor_cmd[4].kp + 1.0),
                   lambda c: setattr(c.motor_cmd[11], "q", c.motor_cmd[11].q + 1e-3),
                   lambda c: setattr(c, "level_flag", 0xEE),
                   lambda c: setattr(c, "crc", c.crc ^ 1)):
        bad = LowCmd_.deserialize(cmd.serialize())
        mutate(bad)
        assert not crc_valid(bad)


def test_lowstate_round_trip_in_joint_order():
    rng = np.random.default_rng(3)
    q, dq, tau = rng.uniform(-1, 1, 12), rng.uniform(-5, 5, 12), rng.uniform(-9, 9, 12)
    quat = np.array([math.cos(0.1), math.sin(0.1), 0.0, 0.0])  # roll 0.2 rad
    msg = stamp_crc(fill_lowstate(new_lowstate(), q, dq, tau, quat, [0.1, 0.2, 0.3], [0.0, 0.0, 9.81], tick=1234))
    wire = LowState_.deserialize(msg.serialize())
    assert crc_valid(wire)
    st = lowstate_arrays(wire)
    np.testing.assert_allclose(st.q, q, atol=1e-6)
    np.testing.assert_allclose(st.dq, dq, atol=1e-5)
    np.testing.assert_allclose(st.tau, tau, atol=1e-5)
    for j, name in enumerate(JOINT_NAMES):
        assert wire.motor_state[EXPECTED[name]].q == pytest.approx(q[j], abs=1e-6)
    assert st.tick == 1234
    roll, pitch = st.roll_pitch
    assert roll == pytest.approx(0.2, abs=1e-6) and pitch == pytest.approx(0.0, abs=1e-6)


def test_quat_to_roll_pitch():
    assert quat_to_roll_pitch([1, 0, 0, 0]) == (0.0, 0.0)
    _, pitch = quat_to_roll_pitch([math.cos(0.25), 0, math.sin(0.25), 0])
    assert pitch == pytest.approx(0.5)
    assert all(math.isnan(v) for v in quat_to_roll_pitch([0, 0, 0, 0]))


def test_domain_zero_needs_real_robot():
    with pytest.raises(ValueError, match="real_robot"):
        check_dds_domain(0, real_robot=False)
    check_dds_domain(0, real_robot=True)
    check_dds_domain(123, real_robot=False)
    with pytest.raises(ValueError):
        check_dds_domain(300, real_robot=False)


def test_lowcmd_packer_matches_fill_lowcmd_and_the_sdk_crc():
    from quadruped_bridge.go2_lowlevel import LowCmdPacker

    rng = np.random.default_rng(0)
    packer = LowCmdPacker()
    for motor in (MotorCommand.zero_torque(), MotorCommand.damping(3.0),
                  MotorCommand(q=rng.uniform(-2, 2, 12), dq=rng.uniform(-5, 5, 12), tau=rng.uniform(-9, 9, 12),
                               kp=np.full(12, 50.0), kd=np.full(12, 2.0))):
        fast = packer.pack(motor)
        slow = stamp_crc(fill_lowcmd(new_lowcmd(), motor))
        assert fast.crc == slow.crc == compute_crc(fast)
        a, b = lowcmd_arrays(fast), lowcmd_arrays(slow)
        for field in ("q", "dq", "tau", "kp", "kd"):
            assert np.allclose(getattr(a, field), getattr(b, field), rtol=1e-6, atol=1e-5), field


def test_lowstate_crc_check_agrees_with_the_sdk_and_catches_corruption():
    from quadruped_bridge.go2_lowlevel import lowstate_crc_valid

    st = stamp_crc(fill_lowstate(new_lowstate(), LIE_POSE, np.zeros(12), np.ones(12), (1.0, 0, 0, 0), (0.1, 0, 0),
                                 (0, 0, 9.8), tick=123))
    assert crc_valid(st) and lowstate_crc_valid(st)
    st.motor_state[5].q += 1e-3
    assert not crc_valid(st) and not lowstate_crc_valid(st)
