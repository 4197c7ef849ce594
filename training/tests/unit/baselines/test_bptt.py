"""The gradient-cost benchmark's pure parts: the peak-RSS meter and the BPTT/FoG ratio table."""

import numpy as np
from fog_training.baselines.bptt import PeakRSS, ratios, table


def test_peak_rss_is_reset_after_loading_so_the_update_peak_is_its_own():
    rss = PeakRSS()
    assert rss.resettable  # Linux with /proc (our machines); the fallback cannot be reset
    big = np.ones(200 * 2**20 // 8)  # 200 MB "loading" peak
    del big
    rss.reset()
    base = rss.current()
    assert rss.peak() - base < 20 * 2**20  # the loading peak is gone
    small = np.ones(50 * 2**20 // 8)
    small[::512] = 2.0  # touch every page
    grown = rss.peak() - base
    del small
    assert 45 * 2**20 < grown < 80 * 2**20


def test_gradient_cost_ratio_is_left_out_where_fog_figure_is_unmeasurable():
    fog = {"seconds": 2.0, "saved_activation_mb": 8.0, "peak_rss_increase_mb": 0.0}
    bptt = {"seconds": 6.0, "saved_activation_mb": 3000.0, "peak_rss_increase_mb": 2672.0}
    q = ratios(bptt, fog)
    assert q == {"seconds": 3.0, "saved_activation_mb": 375.0}
    rows = [dict(r, method=m, envs=4, horizon=16) for m, r in (("fog", fog), ("bptt", bptt))]
    text = table({"results": rows, "ratio_bptt_over_fog": q})
    assert "3.0x the time, 375.0x the saved activations (FoG's peak memory increase is under 1 MB: no ratio)." in text
