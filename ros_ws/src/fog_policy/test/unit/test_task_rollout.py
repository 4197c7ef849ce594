"""fog_policy.task_rollout: the command sources, the success-rate summary and its Wilson interval,
the fall rule, and the command line's refusal of an unknown source (episodes in MuJoCo are run by
test_task_demo.py and the benchmarks)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from fog_policy import task_rollout
from fog_policy.task_rollout import EpisodeResult, make_source, summarize, wilson_interval
from quadruped_bridge.exploration import command_bounds
from quadruped_bridge.tasks import task_by_name


def obs(**kw) -> task_rollout.Observation:
    z = np.zeros(12)
    base = dict(rgb=np.zeros((8, 8, 3), np.uint8), q=z, dq=z, quat=np.array([1.0, 0, 0, 0]), gyro=np.zeros(3),
                base_xy=np.zeros(2), yaw=0.0, marker_xy=np.array([2.0, 0.0]))
    return task_rollout.Observation(**{**base, **kw})


def test_still_commands_zero_and_random_stays_in_the_bounds_and_repeats_with_its_seed():
    task = task_by_name("goal")
    low, high = command_bounds()
    act, reset, size = make_source("still", task, low, high)
    assert np.array_equal(act(obs()), np.zeros(3)) and size is None
    reset()  # a no-op for the simple sources
    draws = [make_source("random", task, low, high, seed=3)[0] for _ in range(2)]
    a = np.array([draws[0](obs()) for _ in range(200)])
    b = np.array([draws[1](obs()) for _ in range(200)])
    assert np.array_equal(a, b), "the same seed gives the same commands"
    assert (a >= low).all() and (a <= high).all(), f"random commands outside {low}..{high}"
    assert (a.std(0) > 0.2 * (high - low)).all(), "random commands spread over the bounds"


def test_scripted_heads_for_the_marker():
    task = task_by_name("goal")
    act, _, _ = make_source("scripted", task, *command_bounds())
    ahead = act(obs(marker_xy=np.array([2.0, 0.0])))
    assert ahead[0] > 0, f"marker straight ahead: expected a forward command, got {ahead}"
    left = act(obs(marker_xy=np.array([0.0, 2.0])))
    assert left[2] > 0, f"marker to the left: expected a left turn (wz > 0), got {left}"


def test_a_policy_source_needs_an_artifact_folder(tmp_path):
    from fog_contract.artifact import ArtifactError

    with pytest.raises(ArtifactError, match="no policy_meta.json"):
        make_source(str(tmp_path), task_by_name("goal"), *command_bounds())


@pytest.mark.parametrize(
    "k, n, expected",
    [(0, 0, (0.0, 1.0)), (0, 10, (0.0, 0.2775)), (10, 10, (0.7225, 1.0)), (5, 10, (0.2366, 0.7634))],
)
def test_wilson_interval(k, n, expected):
    lo, hi = wilson_interval(k, n)
    assert (lo, hi) == pytest.approx(expected, abs=1e-4), f"Wilson 95 % interval of {k}/{n}"


def result(success: bool, fell: bool = False, t: float | None = None, final: float = 1.0, closest: float = 0.5):
    return EpisodeResult(0, success, fell, t, 3.0, final, closest)


def test_summarize_counts_successes_falls_and_means():
    s = summarize([result(True, t=4.0, final=0.2), result(True, t=6.0, final=0.3), result(False, fell=True)])
    assert s["episodes"] == 3 and s["successes"] == 2 and s["falls"] == 1
    assert s["success_rate"] == pytest.approx(2 / 3) and s["success_ci95"] == list(wilson_interval(2, 3))
    assert s["mean_time_to_success"] == pytest.approx(5.0), "over the successful episodes only"
    assert s["mean_final_distance"] == pytest.approx(0.5) and s["mean_min_distance"] == pytest.approx(0.5)
    empty = summarize([])
    assert empty["success_rate"] == 0.0 and empty["mean_time_to_success"] is None
    assert empty["mean_final_distance"] is None


@pytest.mark.parametrize(
    "height, roll, pitch, fell",
    [(0.30, 0.0, 0.0, False), (0.10, 0.0, 0.0, True), (0.30, 0.9, 0.0, True), (0.30, 0.0, -0.9, True)],
)
def test_the_fall_rule(height, roll, pitch, fell):
    state = SimpleNamespace(base_pos=np.array([0.0, 0.0, height]), roll_pitch_yaw=np.array([roll, pitch, 0.0]))
    assert task_rollout.fallen(state) is fell


def test_the_command_line_refuses_an_unknown_source(capsys):
    with pytest.raises(SystemExit) as e:
        task_rollout.main(["--source", "nowhere"])
    assert e.value.code == 2
    assert "--source 'nowhere': expected still, random, scripted or a policy artifact folder" in capsys.readouterr().err
