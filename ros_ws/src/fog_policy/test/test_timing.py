from fog_policy.timing import LoopTiming


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
