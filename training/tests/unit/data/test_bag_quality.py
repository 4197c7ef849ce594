"""fog_training.data.bag_quality: a topic's rate, gaps and latency (topic_quality), an episode's
dropped frames and camera-to-joint skew (span_timing), the sorting of a topic's stamps
(Stream.build) and the warnings a converted bag's user sees (bag_warnings)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from fog_training.data.alignment import EpisodeSpan
from fog_training.data.bag_quality import WARN_TOPICS, BagResult, Stream, bag_warnings, span_timing, topic_quality
from fog_training.data.bag_topics import CMD, IMAGE, IMU, JOINTS

MS = 1_000_000  # ns


def ns(ms: list[float]) -> np.ndarray:
    return (np.asarray(ms, np.float64) * MS).astype(np.int64)


# ---- Stream.build


def test_stream_build_sorts_stamps_and_keeps_each_ones_ordinal_and_receive_time():
    s = Stream.build([30, 10, 20, 10], [31, 12, 25, 11])
    assert s.stamps.tolist() == [10, 10, 20, 30] and s.stamps.dtype == np.int64
    assert s.ordinals.tolist() == [1, 3, 2, 0], "stable sort: equal stamps keep their message order"
    assert s.recv.tolist() == [12, 11, 25, 31], "receive times follow their stamps"


# ---- topic_quality


@pytest.mark.parametrize("n", [0, 1])
def test_fewer_than_two_stamps_give_only_the_count(n):
    assert topic_quality(ns([5.0] * n), None, 100 * MS) == {"count": n}


def test_regular_stream_rate_period_and_no_gaps():
    stamps = ns([0, 100, 200, 300, 400])  # 10 Hz
    q = topic_quality(stamps, None, None)
    assert q["rate_hz"] == pytest.approx(10.0) and q["median_period_ms"] == pytest.approx(100.0)
    assert q["nominal_period_ms"] == pytest.approx(100.0), "no nominal period: the median is used"
    assert q["gaps"] == 0 and q["gap_times_s"] == [] and q["max_gap_ms"] == pytest.approx(100.0)
    assert "latency_ms_median" not in q, "no receive times: no latency"


def test_gaps_are_intervals_longer_than_twice_the_period_timed_from_the_bag_start():
    # 100 ms period; 250 ms (> 200) is a gap, exactly 200 ms is not
    stamps = ns([1000, 1100, 1350, 1450, 1650, 1750])
    q = topic_quality(stamps, None, None, t0_ns=500 * MS)
    assert q["gaps"] == 1, f"only the 250 ms interval is > 2x100 ms, got {q['gaps']} gap(s)"
    assert q["gap_times_s"] == [pytest.approx(0.6)], "the gap starts at 1.1 s, 0.6 s after t0"
    assert q["max_gap_ms"] == pytest.approx(250.0)


def test_nominal_period_overrides_the_median():
    stamps = ns([0, 100, 200, 300])
    q = topic_quality(stamps, None, nominal_period_ns=40 * MS)
    assert q["nominal_period_ms"] == pytest.approx(40.0) and q["median_period_ms"] == pytest.approx(100.0)
    assert q["gaps"] == 3, "every 100 ms interval exceeds 2x a 40 ms nominal period"


def test_gap_times_are_capped_at_twenty_but_all_gaps_counted():
    stamps = ns(np.arange(30) * 1000.0)  # 1 s apart against a 10 ms nominal period: 29 gaps
    q = topic_quality(stamps, None, nominal_period_ns=10 * MS)
    assert q["gaps"] == 29, f"expected 29 gaps, got {q['gaps']}"
    assert q["gap_times_s"] == pytest.approx([float(i) for i in range(20)]), "only the first 20 gap times are listed"


def test_latency_is_receive_minus_stamp_median_and_p95():
    stamps = ns(np.arange(0, 2000, 100))  # 20 messages
    lat = np.r_[np.full(19, 5.0), 100.0]  # one late message
    q = topic_quality(stamps, stamps + ns(lat), None)
    assert q["latency_ms_median"] == pytest.approx(5.0)
    assert q["latency_ms_p95"] == pytest.approx(float(np.percentile(lat, 95)))
    assert q["latency_ms_p95"] > 5.0, "the late message shows in the p95"


def test_identical_stamps_give_nan_rate_and_no_gaps():
    q = topic_quality(ns([7, 7, 7]), None, None)
    assert math.isnan(q["rate_hz"]) and math.isnan(q["median_period_ms"]), f"got {q}"
    assert q["gaps"] == 0 and q["max_gap_ms"] == 0.0


# ---- span_timing


def streams(cam_ms: list[float], joint_ms: list[float]) -> dict[str, Stream]:
    return {
        IMAGE: Stream.build(ns(cam_ms).tolist(), ns(cam_ms).tolist()),
        JOINTS: Stream.build(ns(joint_ms).tolist(), ns(joint_ms).tolist()),
    }


def test_span_counts_only_frames_inside_it_and_their_drops():
    cam = [0, 100, 200, 500, 600, 700, 1100]  # 100 ms camera: 200->500 drops 2, 700->1100 lies outside
    span = EpisodeSpan(100 * MS, 700 * MS, "end")
    out = span_timing(streams(cam, cam), span, 100 * MS)
    assert out["frames"] == 5, "frames at 100, 200, 500, 600, 700 ms (inclusive bounds)"
    assert out["dropped_frames"] == 2, f"the 300 ms interval misses 2 frames, got {out['dropped_frames']}"


def test_unknown_camera_period_counts_no_drops():
    out = span_timing(streams([0, 100, 500], [0]), EpisodeSpan(0, 500 * MS, "end"), math.nan)
    assert out["dropped_frames"] == 0 and out["frames"] == 3


def test_skew_is_the_distance_to_the_nearest_joint_state():
    cam = [10, 100, 190, 400]
    joints = [0, 50, 200, 260]  # nearest: 0 (10), 50 or 200 -> 50 (50), 200 (10), 260 (140: after the last)
    out = span_timing(streams(cam, joints), EpisodeSpan(0, 400 * MS, "end"), 100 * MS)
    sk = out["skew_ms"]
    skews = np.array([10.0, 50.0, 10.0, 140.0])
    assert sk["mean"] == pytest.approx(skews.mean()) and sk["max"] == pytest.approx(140.0), f"got {sk}"
    assert sk["p95"] == pytest.approx(float(np.percentile(skews, 95)))


def test_skew_before_the_first_joint_state_and_with_a_single_one():
    out = span_timing(streams([0, 10], [30, 1000]), EpisodeSpan(0, 10 * MS, "end"), 10 * MS)
    assert out["skew_ms"]["max"] == pytest.approx(30.0), "frames before every joint state: the first is nearest"
    out = span_timing(streams([0, 10, 20], [15]), EpisodeSpan(0, 20 * MS, "end"), 10 * MS)
    assert out["skew_ms"]["mean"] == pytest.approx((15 + 5 + 5) / 3), f"one joint state: got {out['skew_ms']}"


def test_no_skew_without_frames_in_the_span_or_without_joint_states():
    out = span_timing(streams([0, 100], [0, 100]), EpisodeSpan(200 * MS, 300 * MS, "end"), 100 * MS)
    assert out == {"frames": 0, "dropped_frames": 0}, f"an empty span has no skew entry, got {out}"
    out = span_timing(streams([0, 100], []), EpisodeSpan(0, 100 * MS, "end"), 100 * MS)
    assert "skew_ms" not in out and out["frames"] == 2


# ---- bag_warnings


def gap_quality(gaps: int, times: list[float]) -> dict:
    return {"count": 100, "gaps": gaps, "gap_times_s": times, "nominal_period_ms": 33.3, "max_gap_ms": 412.6}


def episode(span: int, ticks: int, valid: int, pieces: int = 1, start_s: float = 2.25) -> dict:
    return {"span": span, "start_s": start_s, "ticks": ticks, "valid_ticks": valid, "pieces": pieces}


def test_a_clean_bag_has_no_warnings_and_problems_come_first():
    res = BagResult(Path("bag"), quality={"topics": {IMAGE: gap_quality(0, [])}, "episodes": [episode(0, 10, 10)]})
    assert bag_warnings(res) == []
    res.problems = ["salvaged a truncated bag"]
    assert bag_warnings(res) == ["salvaged a truncated bag"]
    assert bag_warnings(BagResult(Path("bag"))) == [], "a result without quality figures warns of nothing"


def test_sensor_gaps_warn_with_period_longest_and_first_times():
    res = BagResult(Path("bag"), quality={"topics": {IMAGE: gap_quality(2, [1.04, 12.5])}})
    (w,) = bag_warnings(res)
    assert w == (
        f"{IMAGE}: 2 gap(s) longer than 2x its period of 33.3 ms (longest 413 ms; starting at 1.0, 12.5 s into the bag)"
    ), w


def test_more_than_five_gaps_list_five_times_and_an_ellipsis():
    res = BagResult(Path("bag"), quality={"topics": {JOINTS: gap_quality(7, [float(i) for i in range(7)])}})
    (w,) = bag_warnings(res)
    assert "starting at 0.0, 1.0, 2.0, 3.0, 4.0, ... s into the bag" in w and "7 gap(s)" in w, w


def test_only_the_sensor_topics_warn_about_gaps():
    assert set(WARN_TOPICS) == {IMAGE, JOINTS, IMU}
    res = BagResult(Path("bag"), quality={"topics": {CMD: gap_quality(3, [1.0, 2.0, 3.0])}})
    assert bag_warnings(res) == [], "cmd_vel gaps are shown in the report, not warned about"


def test_dropped_ticks_warn_per_episode():
    res = BagResult(Path("bag"), quality={"episodes": [episode(0, 50, 50), episode(3, 80, 62, pieces=2)]})
    (w,) = bag_warnings(res)
    assert w == (
        "episode span 3 (2.2 s into the bag): 18 of 80 ticks dropped (a sensor older than --max-sensor-age); "
        "kept as 2 piece(s)"
    ), w


def test_warnings_do_not_change_the_result_problems():
    res = BagResult(Path("bag"), problems=["p"], quality={"episodes": [episode(0, 5, 4)]})
    assert len(bag_warnings(res)) == 2
    assert res.problems == ["p"], "bag_warnings returns a new list"
