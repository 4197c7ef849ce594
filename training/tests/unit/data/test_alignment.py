"""fog_training.data.alignment: policy ticks, latest-at-or-before, episode spans, clock mapping (pure)."""

from __future__ import annotations

import numpy as np
from fog_training.data import alignment as al


def test_latest_at_or_before_and_ticks():
    stamps = np.array([10, 20, 30, 30, 45])
    np.testing.assert_array_equal(
        al.latest_at_or_before(stamps, np.array([5, 10, 29, 30, 44, 100])), [-1, 0, 1, 3, 3, 4]
    )
    np.testing.assert_array_equal(
        al.policy_ticks(1_000, 1_000 + 600_000_000, 5.0), [1_000, 200_001_000, 400_001_000, 600_001_000]
    )
    np.testing.assert_array_equal(al.policy_ticks(0, 599_999_999, 5.0), [0, 200_000_000, 400_000_000])
    # Computed from k, not accumulated: no drift over an hour at 3 Hz.
    ticks = al.policy_ticks(0, 3600 * al.NS, 3.0)
    assert len(ticks) == 10801 and ticks[-1] == 3600 * al.NS


def test_episode_spans():
    S = al.NS
    assert al.episode_spans([], 0, 10 * S) == [al.EpisodeSpan(0, 10 * S, "end")]
    spans = al.episode_spans(
        [(1 * S, "start"), (3 * S, "success"), (4 * S, "start"), (5 * S, "start"), (6 * S, "fail"), (7 * S, "start")],
        0,
        9 * S,
    )
    assert spans == [
        al.EpisodeSpan(1 * S, 3 * S, "success"),
        al.EpisodeSpan(4 * S, 5 * S, "start"),
        al.EpisodeSpan(5 * S, 6 * S, "fail"),
        al.EpisodeSpan(7 * S, 9 * S, "end"),
    ]
    assert [s.terminal for s in spans] == [True, False, True, False]
    # No "start": episodes run between end events.
    spans = al.episode_spans([(2 * S, "reset"), (5 * S, " Success ")], 0, 8 * S)
    assert spans == [
        al.EpisodeSpan(0, 2 * S, "reset"),
        al.EpisodeSpan(2 * S, 5 * S, "success"),
        al.EpisodeSpan(5 * S, 8 * S, "end"),
    ]


def test_map_to_clock_and_runs():
    clock_recv = np.array([100, 200, 300])  # recorder clock
    clock_val = np.array([10, 20, 20])  # sim paused after 20
    np.testing.assert_array_equal(
        al.map_to_clock(np.array([50, 100, 150, 250, 400]), clock_recv, clock_val), [-40, 10, 20, 20, 120]
    )
    np.testing.assert_array_equal(al.map_to_clock(np.array([5]), np.array([]), np.array([])), [5])
    assert al.contiguous_runs(np.array([1, 1, 0, 1, 0, 0, 1, 1, 1], bool), 2) == [(0, 2), (6, 9)]
    assert al.dropped_frames(np.array([0, 10, 20, 50, 60, 61]), 10.0) == 2
    np.testing.assert_array_equal(al.gaps(np.array([0, 10, 20, 50, 60]), 10.0), [2])


def test_fresh_needs_a_sample_at_most_max_age_old():
    stamps = np.array([10, 20, 45], np.int64)
    ticks = np.array([5, 10, 25, 30, 31, 50], np.int64)
    idx = al.latest_at_or_before(stamps, ticks)
    assert al.fresh(ticks, stamps, idx, 10).tolist() == [False, True, True, True, False, True]
    assert al.fresh(ticks, stamps, idx, 0).tolist() == [False, True, False, False, False, False]
    # An empty stream has no sample at or before any tick: nothing is fresh (and nothing is indexed).
    empty = np.zeros(0, np.int64)
    assert al.fresh(ticks, empty, al.latest_at_or_before(empty, ticks), 10).tolist() == [False] * 6
