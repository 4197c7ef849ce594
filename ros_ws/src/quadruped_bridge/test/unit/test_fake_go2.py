"""quadruped_bridge.fake_go2 in process (no DDS): how the fake reads a LowCmd_, its record file and reader,
its joint model, and its command line."""

import math

import numpy as np
import pytest
from fog_contract.go2 import JOINT_LOWER, JOINT_NAMES, JOINT_UPPER, LIE_POSE, STAND_POSE
from quadruped_bridge.fake_go2 import (
    RECORD_COLUMNS,
    RECORD_HEADER,
    JointModel,
    RecordReader,
    lowcmd_row,
    model_joint_of_motor,
    motor_command_from_lowcmd,
    parse_args,
    read_record,
    record_column,
)
from quadruped_bridge.go2_lowlevel import POS_STOP_F, fill_lowcmd, new_lowcmd, stamp_crc
from quadruped_bridge.motor_command import MotorCommand
from unitree_sdk2py.idl.unitree_go.msg.dds_ import LowCmd_


def sample_command(seed=0) -> MotorCommand:
    rng = np.random.default_rng(seed)
    return MotorCommand(q=rng.uniform(JOINT_LOWER, JOINT_UPPER), dq=rng.uniform(-3, 3, 12),
                        tau=rng.uniform(-5, 5, 12), kp=rng.uniform(10, 60, 12), kd=rng.uniform(0.5, 3, 12))


def test_fake_reads_commands_by_unitree_motor_names():
    # a model whose joints are listed in another order still gets each motor's command
    model_names = list(reversed(JOINT_NAMES))
    joint_of_motor = model_joint_of_motor(model_names)
    motor = sample_command(4)
    cmd = stamp_crc(fill_lowcmd(new_lowcmd(), motor))
    got = motor_command_from_lowcmd(LowCmd_.deserialize(cmd.serialize()), joint_of_motor)
    for j, name in enumerate(JOINT_NAMES):
        k = model_names.index(name)
        assert got.kp[k] == pytest.approx(motor.kp[j], rel=1e-6)
        assert got.q[k] == pytest.approx(motor.q[j], abs=1e-6)


def test_record_row_layout():
    cmd = stamp_crc(fill_lowcmd(new_lowcmd(), MotorCommand.damping(2.5)))
    row = lowcmd_row(cmd, 1.0, 2.0, True, 7, False)
    assert row.shape == (RECORD_COLUMNS,)
    assert tuple(row[:6]) == (1.0, 2.0, 1.0, 7.0, 0.0, 0.0)
    assert row[record_column("kd", 5)] == 2.5 and row[record_column("kp", 5)] == 0.0
    assert row[record_column("q", 5)] == pytest.approx(POS_STOP_F)


def test_record_reader_reads_only_what_was_appended(tmp_path):
    """RecordReader sees each row once, in order, waits for a partly written row, and matches read_record."""
    path = tmp_path / "lowcmd.bin"
    reader = RecordReader(path)
    assert reader.rows().shape == (0, RECORD_COLUMNS)  # no file yet
    rows = np.arange(3000 * RECORD_COLUMNS, dtype=np.float64).reshape(3000, RECORD_COLUMNS)
    raw = rows.tobytes()
    cut = 5 * RECORD_COLUMNS * 8 + 17  # five rows and part of the sixth
    with open(path, "ab") as f:
        f.write(raw[:cut])
    np.testing.assert_array_equal(reader.rows(), rows[:5])
    with open(path, "ab") as f:
        f.write(raw[cut:])  # the rest of the sixth row and far more than the initial buffer holds
    np.testing.assert_array_equal(reader.rows(), rows)
    assert len(reader) == 3000
    np.testing.assert_array_equal(reader.rows(), read_record(path))


def test_joint_model_follows_pd_targets():
    model = JointModel(0.002, LIE_POSE)
    cmd = MotorCommand(q=STAND_POSE.copy(), kp=np.full(12, 50.0), kd=np.full(12, 2.0))
    for _ in range(1000):
        model.step(cmd)
    np.testing.assert_allclose(model.q, STAND_POSE, atol=1e-3)


def test_motor_to_model_joint_by_unitree_names_and_stop_targets_read_as_zero():
    assert model_joint_of_motor(JOINT_NAMES).tolist() == list(range(12))  # our order is Unitree's
    with pytest.raises(ValueError):
        model_joint_of_motor(JOINT_NAMES[:11])  # a model without FL/FR/... calf: no joint for a motor
    got = motor_command_from_lowcmd(new_lowcmd(), np.arange(12))  # every target a stop value
    for name in ("q", "dq", "tau", "kp", "kd"):
        assert not np.any(getattr(got, name)), name


def test_record_row_counts_spare_slots_and_missing_file_reads_empty(tmp_path):
    cmd = new_lowcmd()
    cmd.motor_cmd[15].kp = 4.0  # an unused slot that is not inert
    row = lowcmd_row(cmd, 0.5, 0.25, False, 0, True)
    assert row[len(RECORD_HEADER) - 1] == 4.0 and row[2] == 0.0 and row[4] == 1.0
    assert RECORD_COLUMNS == len(RECORD_HEADER) + 6 * 12
    assert record_column("mode", 0) == len(RECORD_HEADER) and record_column("kd", 11) == RECORD_COLUMNS - 1
    assert read_record(tmp_path / "none.bin").shape == (0, RECORD_COLUMNS)
    path = tmp_path / "part.bin"
    path.write_bytes(np.ones(RECORD_COLUMNS + 3).tobytes())  # one row and part of the next
    np.testing.assert_array_equal(read_record(path), np.ones((1, RECORD_COLUMNS)))


def test_joint_model_stops_at_the_joint_limits_and_reports_sensors():
    model = JointModel(0.002, STAND_POSE)
    beyond = MotorCommand(q=JOINT_UPPER + 1.0, kp=np.full(12, 50.0), kd=np.full(12, 2.0))
    for _ in range(500):
        model.step(beyond)
    np.testing.assert_allclose(model.q, JOINT_UPPER)
    q, dq, tau, quat, gyro, accel = model.sensors()
    assert np.all(dq == 0.0) and np.all(tau > 0)  # pressed against the stops, pushing on
    np.testing.assert_array_equal(quat, [1.0, 0.0, 0.0, 0.0])
    assert accel[2] == pytest.approx(9.81) and not np.any(gyro)
    assert math.isnan(model.base_height())


def test_command_line_defaults_and_refusal_of_the_robot_domain(capsys):
    args = parse_args(["--domain", "7"])
    assert (args.interface, args.rate, args.model, args.start_pose) == ("lo", 500.0, "mujoco", "lie")
    assert args.sport_mode == "" and args.record == "" and args.stats == ""
    assert not args.hold_state and args.duration == 0.0
    with pytest.raises(SystemExit):
        parse_args(["--domain", "0"])
    assert "domain 0 is the real robot's" in capsys.readouterr().err
