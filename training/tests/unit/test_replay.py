"""The policy trainers' replay (fog_training.replay): a ring buffer of rollout sequences that samples only
what it holds and survives a save/load, and the run counters saved with the weights."""

import numpy as np
import torch
from fog_training.replay import RunCounters, SequenceReplay


def _batch(start: int, n: int) -> dict[str, np.ndarray]:
    idx = np.arange(start, start + n)
    return {"state": np.stack([idx, -idx], 1).astype(np.float32), "done": idx % 2 == 0}


def test_ring_buffer_fills_then_overwrites_the_oldest():
    r = SequenceReplay(capacity=5)
    r.add({"state": np.zeros((0, 2), np.float32)})  # nothing to add: nothing allocated
    assert r.size == 0 and r.data == {}
    r.add(_batch(0, 3))
    assert (r.size, r.pos) == (3, 3) and r.data["state"].shape == (5, 2) and r.data["done"].dtype == bool
    r.add(_batch(3, 4))  # 3, 4 fill the end; 5, 6 overwrite 0, 1
    assert (r.size, r.pos) == (5, 2)
    np.testing.assert_array_equal(r.data["state"][:, 0], [5, 6, 2, 3, 4])
    np.testing.assert_array_equal(r.data["done"], [False, True, True, False, True])


def test_sample_draws_only_stored_rows_and_is_seeded():
    r = SequenceReplay(capacity=10)
    r.add(_batch(100, 4))
    s = r.sample(np.random.default_rng(0), 50)
    assert s["state"].shape == (50, 2) and set(s["state"][:, 0]) <= {100, 101, 102, 103}
    np.testing.assert_array_equal(s["state"][:, 1], -s["state"][:, 0])  # rows stay whole
    np.testing.assert_array_equal(r.sample(np.random.default_rng(0), 50)["state"], s["state"])


def test_state_dict_round_trip_keeps_the_stored_rows():
    r = SequenceReplay(capacity=4)
    r.add(_batch(0, 3))
    sd = r.state_dict()
    assert set(sd) == {"state", "done"} and sd["state"].shape == (3, 2) and isinstance(sd["state"], torch.Tensor)
    fresh = SequenceReplay(capacity=4)
    fresh.load(sd)
    assert fresh.size == 3
    np.testing.assert_array_equal(fresh.data["state"][:3], r.data["state"][:3])
    empty = SequenceReplay(capacity=4)
    empty.load({})
    assert empty.size == 0 and empty.data == {}


def test_run_counters_are_a_buffer_that_round_trips():
    c = RunCounters()
    assert c.get() == (0, 0, 0)
    c.set(7, 2**40, 3)  # float64: sample counts far past 2^24 stay exact
    assert c.get() == (7, 2**40, 3)
    d = RunCounters()
    d.load_state_dict(c.state_dict())
    assert d.get() == (7, 2**40, 3) and "values" in dict(c.named_buffers())
