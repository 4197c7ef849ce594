"""fog_policy.dream_task: imagined episodes played in order through the dream node and a policy (separate
processes over DDS, private domain), logged, and the same run twice gives the same episodes.

The world model and the policy are untrained and tiny (the `dream_world` and `dream_artifact` fixtures
of training/tests/conftest.py); this test lives in training/tests because it builds them with fog_training.
"""

import pytest
from quadruped_bridge.ros_probe import private_domain_id

pytestmark = pytest.mark.integration


def test_dream_task_plays_imagined_episodes_in_order_logs_them_and_repeats_them(dream_world, dream_artifact, tmp_path):
    from fog_policy.dream_task import run_dream_task

    def run(tag):
        return run_dream_task(tmp_path / tag, policy=str(dream_artifact), world_model=str(dream_world["bundle"]),
                              episodes=4, episode_seconds=1.0, seed=5, domain_id=private_domain_id(),
                              log=lambda s: None, policy_params={"surprise_threshold": 1.0e9})

    r, again = run("a"), run("b")
    assert len(r.episodes) == 4
    # lockstep, seeded noise, the policy's memory reset before each first frame: the same run twice
    assert r.episodes == again.episodes, f"{r.episodes}\n!=\n{again.episodes}"
    # episode k: start window k (modulo the bundle's 3), seed 5 + k; ended by the head or after 1 s (5 steps)
    assert [e["episode"] for e in r.episodes] == [0, 1, 2, 3], "counted from the rewind"
    assert [e["start_window"] for e in r.episodes] == [0, 1, 2, 0]
    assert [e["seed"] for e in r.episodes] == [5, 6, 7, 8]
    for e in r.episodes:
        assert (e["terminated"] and 1 <= e["steps"] <= 5) or (not e["terminated"] and e["steps"] == 5), e
    assert r.success_rate == sum(e["terminated"] for e in r.episodes) / 4
    assert r.lockstep_timeouts == 0, "the policy answered every imagined frame"
    assert 4.0 < r.command_rate_hz < 6.0, f"{r.command_rate_hz:.2f} commands per dream second"
    assert (tmp_path / "a" / "summary.json").exists()
