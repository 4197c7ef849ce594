"""fog_policy.sensor_inputs: which joint state / IMU reading a policy step uses."""

import pytest
from fog_policy.sensor_inputs import StampedBuffer


def test_at_picks_the_newest_reading_at_or_before_the_stamp():
    buf = StampedBuffer()
    for k in range(10):
        buf.add(1.0 + k * 0.005, k)  # 200 Hz
    assert buf.at(1.0 + 4 * 0.005) == (pytest.approx(1.02), 4)  # equal stamps count as at-or-before
    assert buf.at(1.0213)[1] == 4
    assert buf.at(5.0)[1] == 9
    assert buf.at(0.5)[1] == 0, "all readings newer than the stamp: the oldest kept one"
    assert StampedBuffer().at(1.0) is None


def test_reached_says_whether_every_reading_before_a_stamp_is_in():
    buf = StampedBuffer()
    assert not buf.reached(1.0)
    buf.add(0.99, "a")
    assert not buf.reached(1.0), "a reading stamped before the image does not rule out one still to come"
    buf.add(1.0 + 1e-9, "b")
    assert buf.reached(1.0)


def test_the_same_readings_give_the_same_choice_whatever_arrives_later():
    """The point of the module: a step on an image at t chooses the same reading whether the sensor
    messages after t had arrived yet or not."""
    early, late = StampedBuffer(), StampedBuffer()
    stamps = [1.0 + k / 200 for k in range(80)]
    image_stamp = 1.0 + 7 / 30
    for s in stamps:
        late.add(s, s)
        if s <= image_stamp + 0.006:  # the image was processed right after the first reading past it
            early.add(s, s)
    assert early.reached(image_stamp) and late.reached(image_stamp)
    assert early.at(image_stamp) == late.at(image_stamp)


def test_old_readings_fall_out_and_a_clock_restart_starts_over():
    buf = StampedBuffer(horizon=0.1)
    for k in range(100):
        buf.add(k * 0.01, k)
    assert len(buf) <= 11
    assert buf.at(0.0)[1] == 89, "readings older than the horizon are dropped"
    buf.add(0.0, "restart")  # a looping bag or a new episode with its clock back at 0
    assert len(buf) == 1 and buf.newest == (0.0, "restart")


def test_horizon_must_be_positive():
    with pytest.raises(ValueError, match="horizon"):
        StampedBuffer(horizon=0)
