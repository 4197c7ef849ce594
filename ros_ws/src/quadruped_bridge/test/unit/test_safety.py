"""Unit tests of the bridge safety layer (pure, no ROS)."""

import math

import numpy as np
import pytest
from fog_contract.go2 import JOINT_LOWER, JOINT_NAMES, JOINT_UPPER, LIE_POSE, STAND_POSE, TORQUE_LIMITS
from quadruped_bridge.safety import Mode, SafetyConfig, SafetyEvent, SafetyLayer, format_events

CFG = SafetyConfig(soft_start_duration=1.0, command_timeout=0.03, state_timeout=0.1)
ZERO = np.zeros(12)


def tick(s: SafetyLayer, t: float, q=STAND_POSE):
    """One motor-loop tick: a fresh state, then the motor command."""
    s.update_state(t, q, ZERO, 0.0, 0.0)
    return s.motor_command(t)


def standing_layer(t_end: float = 1.2) -> SafetyLayer:
    """A layer that has received states from t=0 and finished its soft start."""
    s = SafetyLayer(CFG)
    t = 0.0
    while t <= t_end:
        s.update_state(t, STAND_POSE, ZERO, 0.0, 0.0)
        s.motor_command(t)
        t += 0.01
    assert s.mode is Mode.STAND
    return s


def test_zero_torque_until_first_state():
    s = SafetyLayer(CFG)
    cmd = s.motor_command(0.0)
    assert s.mode is Mode.ZERO_TORQUE
    assert not np.any(cmd.kp) and not np.any(cmd.kd) and not np.any(cmd.tau)
    check = s.submit_command(0.0, JOINT_NAMES, STAND_POSE)
    assert not check.accepted and "zero_torque" in check.reason


def test_soft_start_interpolates_from_first_state_to_stand():
    s = SafetyLayer(CFG)
    s.update_state(0.0, LIE_POSE, ZERO, 0.0, 0.0)
    assert s.mode is Mode.SOFT_START
    q0 = s.motor_command(0.0).q
    np.testing.assert_allclose(q0, LIE_POSE)
    qm = tick(s, 0.5, LIE_POSE).q
    np.testing.assert_allclose(qm, 0.5 * (LIE_POSE + STAND_POSE))  # smoothstep(0.5) = 0.5
    s.update_state(1.0, STAND_POSE, ZERO, 0.0, 0.0)
    q1 = s.motor_command(1.0).q
    np.testing.assert_allclose(q1, STAND_POSE)
    assert s.mode is Mode.STAND
    assert s.motor_command(1.0).kp[0] == CFG.kp


def test_commands_rejected_during_soft_start():
    s = SafetyLayer(CFG)
    s.update_state(0.0, LIE_POSE, ZERO, 0.0, 0.0)
    check = s.submit_command(0.1, JOINT_NAMES, STAND_POSE)
    assert not check.accepted and "soft_start" in check.reason


def test_valid_command_activates_and_is_applied():
    s = standing_layer()
    target = STAND_POSE + 0.1
    check = s.submit_command(1.3, JOINT_NAMES, target, ZERO, ZERO)
    assert check.accepted and not check.clamped
    assert s.mode is Mode.ACTIVE
    np.testing.assert_allclose(tick(s, 1.3).q, target)


def test_command_reordered_by_name():
    s = standing_layer()
    order = list(reversed(range(12)))
    names = [JOINT_NAMES[i] for i in order]
    target = STAND_POSE + np.linspace(-0.05, 0.05, 12)
    assert s.submit_command(1.3, names, target[order]).accepted
    np.testing.assert_allclose(tick(s, 1.3).q, target)


@pytest.mark.parametrize(
    "names, position, velocity, fragment",
    [
        (JOINT_NAMES[:11], STAND_POSE[:11], (), "expected 12 joint names"),
        (("bogus_joint",) + JOINT_NAMES[1:], STAND_POSE, (), "unknown joint names ['bogus_joint']"),
        (JOINT_NAMES, STAND_POSE[:11], (), "expected 12 positions"),
        (JOINT_NAMES, STAND_POSE, np.ones(3), "expected 0 or 12 velocity values"),
        (
            JOINT_NAMES,
            np.where(np.arange(12) == 4, np.nan, STAND_POSE),
            (),
            "non-finite position for ['FL_thigh_joint']",
        ),
        (JOINT_NAMES, STAND_POSE, np.full(12, np.inf), "non-finite velocity"),
    ],
)
def test_bad_commands_rejected_with_named_reason(names, position, velocity, fragment):
    s = standing_layer()
    before = s.motor_command(1.25).q.copy()
    check = s.submit_command(1.25, names, position, velocity)
    assert not check.accepted
    assert fragment in check.reason
    assert s.mode is Mode.STAND  # still standing on the stand pose
    np.testing.assert_allclose(s.motor_command(1.25).q, before)
    assert any(fragment in e.message for e in s.drain_events())


def test_far_beyond_limits_is_clamped_to_limits_and_max_step():
    s = standing_layer()
    far = STAND_POSE + 100.0
    check = s.submit_command(1.3, JOINT_NAMES, far)
    assert check.accepted and check.clamped
    q = tick(s, 1.3).q
    assert np.all(q <= JOINT_UPPER + 1e-12) and np.all(q >= JOINT_LOWER - 1e-12)
    assert np.all(np.abs(q - STAND_POSE) <= CFG.max_position_step + 1e-12)
    assert any("joint limit" in c for c in check.clamped)
    # Feed-forward torque is bounded too.
    check = s.submit_command(1.31, JOINT_NAMES, STAND_POSE, ZERO, np.full(12, 1e3))
    assert check.accepted
    assert np.all(tick(s, 1.31).tau <= TORQUE_LIMITS * CFG.feedforward_fraction + 1e-9)


def test_velocity_moves_target_between_commands_bounded():
    s = standing_layer()
    dq = np.full(12, 1.0)
    s.submit_command(1.3, JOINT_NAMES, STAND_POSE, dq)
    np.testing.assert_allclose(tick(s, 1.31).q, STAND_POSE + 0.01, atol=1e-9)
    # never extrapolated beyond the limit, even just before the watchdog
    s.submit_command(1.32, JOINT_NAMES, STAND_POSE, dq)
    assert np.all(tick(s, 1.32 + 0.029).q - STAND_POSE <= CFG.extrapolation_limit + 1e-9)


def test_watchdog_damps_then_fresh_commands_soft_start():
    s = standing_layer()
    s.submit_command(1.30, JOINT_NAMES, STAND_POSE)
    s.update_state(1.32, STAND_POSE, ZERO, 0.0, 0.0)
    assert s.motor_command(1.32).kp[0] > 0
    s.update_state(1.331, STAND_POSE, ZERO, 0.0, 0.0)
    cmd = s.motor_command(1.331)
    assert s.mode is Mode.DAMPING and "watchdog" in s.mode_reason
    assert not np.any(cmd.kp) and np.all(cmd.kd == CFG.damping_kd)
    check = s.submit_command(1.4, JOINT_NAMES, STAND_POSE)
    assert not check.accepted and s.mode is Mode.SOFT_START


def test_estop_latches_until_released():
    s = standing_layer()
    s.submit_command(1.3, JOINT_NAMES, STAND_POSE)
    s.estop(1.31)
    for t in (1.32, 2.0, 5.0):
        s.update_state(t, STAND_POSE, ZERO, 0.0, 0.0)
        assert not s.submit_command(t, JOINT_NAMES, STAND_POSE).accepted
        assert s.mode is Mode.ESTOP and not np.any(s.motor_command(t).kp)
    s.reset(5.0)  # reset does not clear an e-stop
    assert s.mode is Mode.ESTOP
    assert s.release_estop(5.1)
    assert s.mode is Mode.SOFT_START


def test_attitude_guard_latches_until_reset():
    s = standing_layer()
    s.submit_command(1.3, JOINT_NAMES, STAND_POSE)
    s.update_state(1.305, STAND_POSE, ZERO, 1.2, 0.0)
    assert s.mode is Mode.DAMPING and "attitude" in s.mode_reason
    # upright again and commands flowing: still latched
    s.update_state(1.31, STAND_POSE, ZERO, 0.0, 0.0)
    assert not s.submit_command(1.31, JOINT_NAMES, STAND_POSE).accepted
    assert s.mode is Mode.DAMPING
    s.reset(1.4)
    assert s.mode is Mode.SOFT_START


def test_stale_state_damps():
    s = standing_layer()
    s.submit_command(1.3, JOINT_NAMES, STAND_POSE)
    for t in np.arange(1.3, 1.36, 0.01):
        s.submit_command(float(t), JOINT_NAMES, STAND_POSE)
        s.motor_command(float(t))
    s.submit_command(1.5, JOINT_NAMES, STAND_POSE)
    s.motor_command(1.5)
    assert s.mode is Mode.DAMPING and "stale" in s.mode_reason


def test_nan_state_damps():
    s = standing_layer()
    s.update_state(1.3, np.full(12, math.nan), ZERO, 0.0, 0.0)
    assert s.mode is Mode.DAMPING


def test_diagnostics_events_fold_repeats_so_a_rare_rejection_is_not_crowded_out():
    # a NaN command once, then another rejection repeated at the command rate (a CI run lost the
    # NaN rejection when only the last 10 raw events were shown)
    events = [SafetyEvent(1.0, "WARN", "command rejected: non-finite position for ['FL_thigh_joint']")]
    events += [SafetyEvent(1.0 + 0.02 * i, "WARN", "command rejected: unknown joint names") for i in range(1, 30)]
    events.append(SafetyEvent(2.0, "OK", "active: accepting joint commands"))
    text = format_events(events)
    assert "non-finite position for ['FL_thigh_joint']" in text
    assert "[1.020..1.580 WARN] command rejected: unknown joint names (x29)" in text
    assert text.index("non-finite") < text.index("unknown joint") < text.index("active:")
    # more distinct kinds than the limit: the newest are kept, and the count left out is said
    many = [SafetyEvent(float(i), "WARN", f"event {i}") for i in range(15)]
    text = format_events(many, limit=10)
    assert text.startswith("(5 earlier kinds of event not shown) | [5.000 WARN] event 5")
    assert "[4.000 WARN]" not in text and text.endswith("[14.000 WARN] event 14")


def test_reset_soft_starts_from_the_pose_it_is_given():
    """A simulator reset puts the robot down: the soft start must begin at the lying pose, not jump
    from the standing pose the layer saw last (the robot used to pop up within 0.2 s)."""
    s = standing_layer()
    s.reset(1.3, q=LIE_POSE)
    assert s.mode is Mode.SOFT_START
    first = s.motor_command(1.3)
    np.testing.assert_allclose(first.q, LIE_POSE, atol=1e-9, err_msg="soft start did not begin at the given pose")
    for t in np.arange(1.31, 1.8, 0.01):  # states keep arriving (the robot still lies)
        tick(s, float(t), q=LIE_POSE)
    half = tick(s, 1.8, q=LIE_POSE)  # half-way through the 1 s soft start: half-way between the poses
    np.testing.assert_allclose(half.q, (LIE_POSE + STAND_POSE) / 2, atol=1e-9)
    # without a pose, the reset starts from the last state seen
    s2 = standing_layer()
    s2.reset(1.3)
    np.testing.assert_allclose(tick(s2, 1.3).q, STAND_POSE, atol=1e-9)


def _active_layer(cfg: SafetyConfig) -> tuple[SafetyLayer, float]:
    """Stand, then a 200 Hz command stream ticked by a 500 Hz loop up to t = 1.5 s."""
    s = SafetyLayer(cfg)
    t = 0.0
    while t <= 1.2:
        tick(s, t)
        t += 0.002
    assert s.mode is Mode.STAND
    for k in range(150):
        t = 1.2 + k * 0.002
        if k % 5 == 0:
            assert s.submit_command(t, JOINT_NAMES, STAND_POSE).accepted
        tick(s, t)
    assert s.mode is Mode.ACTIVE
    return s, t


def test_a_stall_of_the_motor_loop_itself_is_not_a_dead_commander():
    """The process is not run for 60 ms (load): commands were waiting in its queue; no trip. With no
    stall credit (loop_period 0, the simulator's setting) the same gap trips the watchdog."""
    cfg = SafetyConfig(soft_start_duration=1.0, command_timeout=0.03, state_timeout=0.1, loop_period=0.002)
    s, t = _active_layer(cfg)
    t += 0.060  # no tick, no command, no state for 60 ms
    tick(s, t)
    assert s.mode is Mode.ACTIVE, f"a 60 ms stall of the loop itself tripped: {s.mode_reason}"
    assert s.counters["loop_stalls"] == 1
    assert s.submit_command(t + 0.0005, JOINT_NAMES, STAND_POSE).accepted  # the queued command arrives
    assert s.mode is Mode.ACTIVE

    strict, t2 = _active_layer(SafetyConfig(soft_start_duration=1.0, command_timeout=0.03, state_timeout=0.1))
    tick(strict, t2 + 0.060)
    assert strict.mode is Mode.DAMPING and "watchdog" in strict.mode_reason


def test_a_dead_commander_still_trips_with_the_loop_on_time():
    """Commands stop while the loop keeps its 2 ms period: damping after the 30 ms timeout."""
    cfg = SafetyConfig(soft_start_duration=1.0, command_timeout=0.03, state_timeout=0.1, loop_period=0.002)
    s, t = _active_layer(cfg)
    t_last = 1.2 + 145 * 0.002  # the last command of the stream
    while s.mode is Mode.ACTIVE and t < t_last + 0.2:
        t += 0.002
        tick(s, t)
    assert s.mode is Mode.DAMPING and "watchdog" in s.mode_reason
    assert t - t_last <= 0.03 + 0.0025, f"tripped {t - t_last:.4f} s after the last command (timeout 0.03 s)"


def test_stall_credit_is_capped():
    """A loop that keeps stalling cannot postpone the watchdog past command_timeout + max_stall_credit."""
    cfg = SafetyConfig(
        soft_start_duration=1.0, command_timeout=0.03, state_timeout=10.0, loop_period=0.002, max_stall_credit=0.05
    )
    s, t = _active_layer(cfg)
    t_last = 1.2 + 145 * 0.002
    while s.mode is Mode.ACTIVE and t < t_last + 1.0:
        t += 0.010  # every tick 8 ms late: credit accrues on each
        tick(s, t)
    assert s.mode is Mode.DAMPING, "the watchdog never tripped with a stalling loop and no commands"
    assert t - t_last <= 0.03 + 0.05 + 0.0101, f"tripped {t - t_last:.3f} s after the last command"


def test_diagnostics_level_of_modes_and_events():
    from quadruped_bridge.safety import MODE_LEVEL, worst_level

    assert set(MODE_LEVEL) == set(Mode), "every mode has a /diagnostics level"
    assert MODE_LEVEL[Mode.ESTOP] == MODE_LEVEL[Mode.DAMPING] == "ERROR" and MODE_LEVEL[Mode.ACTIVE] == "OK"
    assert worst_level() == "OK"
    assert worst_level("OK", "WARN") == "WARN" and worst_level("WARN", "ERROR", "OK") == "ERROR"
