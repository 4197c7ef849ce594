import numpy as np
import pytest
from fog_contract.loop_timing import Every, LoopTiming, RateMeter, interval_stats


def test_missed_deadlines_late_ticks_and_slow_computation():
    t = LoopTiming(period=0.2)
    for k in range(10):
        t.tick(0.2 * k, 0.01)
    assert t.missed == 0
    t.tick(0.2 * 9 + 0.35, 0.01)  # 1.75 periods after the previous tick
    t.tick(0.2 * 9 + 0.55, 0.25)  # on time but computed for longer than a period
    assert t.missed == 2 and t.ticks == 12
    t.add_latency(0.004)
    rep = t.report()
    assert rep["missed_deadlines"] == "2" and rep["latency_ms_p50"] == "4.00" and float(rep["compute_ms_max"]) == 250.0


def test_wall_clock_lateness_is_counted_apart_and_pause_forgives_the_gap():
    t = LoopTiming(period=0.02)
    # the clock advances in a burst (40 ms of simulated time) while the node ticked on time in wall time
    t.tick(0.00, 0.001, wall=10.00)
    t.tick(0.04, 0.001, wall=10.02)
    assert (t.missed, t.late_wall) == (1, 0)
    # the node itself was late: both counts rise
    t.tick(0.08, 0.001, wall=10.06)
    assert (t.missed, t.late_wall) == (2, 1)
    # a deliberate stop: the gap before the next tick is not a missed deadline
    t.pause()
    t.tick(5.00, 0.001, wall=15.0)
    t.tick(5.02, 0.001, wall=15.02)
    assert (t.missed, t.late_wall, t.ticks) == (2, 1, 5)
    assert t.report()["late_wall"] == "1"


def test_every_fires_once_per_period_and_does_not_replay_missed_periods():
    tick = Every(10.0, t0=0.0)
    fired = [t for t in np.arange(0.0, 1.0, 0.01) if tick.due(t)]
    assert len(fired) == 10 and fired[0] == 0.0
    # a clock that jumps 5 periods ahead: the missed periods are not replayed one per call
    late = Every(10.0, t0=0.0)
    after_jump = [t for t in np.arange(0.55, 1.0, 0.01) if late.due(t)] if late.due(0.0) else []
    assert 5 <= len(after_jump) <= 6, after_jump
    assert not any(Every(0.0, 0.0).due(t) for t in (0.0, 1.0)), "rate 0 never fires"


def test_interval_stats_and_rate_meter():
    t = np.arange(0, 1.0, 0.002)
    t[100] += 0.001  # one late tick
    st = interval_stats(t, period=0.002)
    assert st["rate_hz"] == pytest.approx(500, rel=1e-3)
    assert st["p50_ms"] == pytest.approx(2.0, abs=1e-6)
    assert st["max_ms"] == pytest.approx(3.0, abs=1e-6)
    assert st["late_fraction"] == pytest.approx(1 / 499)
    meter = RateMeter(size=10)
    for x in range(25):
        meter.tick(x * 0.01)
    assert meter.total == 25
    np.testing.assert_allclose(meter.times(), np.arange(15, 25) * 0.01)
    assert meter.stats()["rate_hz"] == pytest.approx(100)
