"""quadruped_bridge.motor_command: the PD set-point, its extrapolation along dq, and the clipped motor law."""

import numpy as np
import pytest
from fog_contract.go2 import TORQUE_LIMITS
from quadruped_bridge.motor_command import MotorCommand, extrapolate, pd_torque


def test_zero_torque_damping_and_copy_are_independent_arrays():
    zero = MotorCommand.zero_torque()
    for name in ("q", "dq", "tau", "kp", "kd"):
        assert getattr(zero, name).shape == (12,) and not np.any(getattr(zero, name))
    damp = MotorCommand.damping(3)
    np.testing.assert_array_equal(damp.kd, 3.0)
    assert not np.any(damp.kp) and not np.any(damp.q)
    assert MotorCommand().q is not MotorCommand().q  # no array shared between instances
    copy = damp.copy()
    copy.kd[0] = 9.0
    assert damp.kd[0] == 3.0


def test_extrapolate_moves_q_along_dq_for_at_most_max_dt():
    cmd = MotorCommand(q=np.full(12, 0.5), dq=np.full(12, 2.0))
    out = extrapolate(cmd, 0.01)
    np.testing.assert_allclose(out.q, 0.52)
    np.testing.assert_array_equal(cmd.q, 0.5)  # the issued command is left as it was
    np.testing.assert_allclose(extrapolate(cmd, 1.0).q, 0.5 + 2.0 * 0.05)  # capped at max_dt
    np.testing.assert_allclose(extrapolate(cmd, 1.0, max_dt=0.2).q, 0.9)
    assert extrapolate(cmd, 0.0) is cmd and extrapolate(cmd, -0.1) is cmd
    still = MotorCommand(q=np.full(12, 0.5))
    assert extrapolate(still, 0.02) is still  # no velocity target: nothing to move


def test_pd_torque_law_and_clipping():
    cmd = MotorCommand(q=np.full(12, 1.0), dq=np.full(12, 0.5), tau=np.full(12, 0.25),
                       kp=np.full(12, 10.0), kd=np.full(12, 2.0))
    q, dq = np.full(12, 0.9), np.full(12, 0.0)
    # 10 * 0.1 + 2 * 0.5 + 0.25
    np.testing.assert_allclose(pd_torque(cmd, q, dq), 2.25)
    far = MotorCommand(q=np.full(12, 100.0), kp=np.full(12, 50.0))
    np.testing.assert_allclose(pd_torque(far, np.zeros(12), np.zeros(12)), TORQUE_LIMITS)
    np.testing.assert_allclose(pd_torque(far, np.full(12, 200.0), np.zeros(12)), -TORQUE_LIMITS)
    assert pd_torque(far, np.zeros(12), np.zeros(12), limits=np.full(12, 1.5)) == pytest.approx(np.full(12, 1.5))
