"""`fog eval go2` (fog_training.eval_go2): a policy run acts as its exported PolicyStep does (image only,
state carried, reset), sources are told apart, the action histograms' figures, and refused arguments.
No simulator: the episode runner is replaced where a test only needs the dispatch."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from fog_training import eval_go2
from fog_training.actor import ActorConfig, SquashedGaussianActor, deterministic_action, save_actor
from fog_worldmodel.rssm import RSSM, RSSMConfig

torch.set_num_threads(1)
LOW, HIGH = (-0.2, -0.25, -0.8), (0.5, 0.25, 0.8)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A policy run folder as `fog train policy` writes it: RUN/policy/actor.* and RUN/policy/rssm/."""
    out = tmp_path_factory.mktemp("go2") / "run"
    torch.manual_seed(0)
    rssm = RSSM(RSSMConfig(image_size=16, action_dim=3, deter=16, stoch=4, classes=4, hidden=16, cnn_depth=4,
                           decoder=False))
    actor = SquashedGaussianActor(ActorConfig(feat_dim=rssm.feat_dim, action_dim=3, hidden=(16,), action_low=LOW,
                                              action_high=HIGH))
    with torch.no_grad():
        actor.net[-1].weight.normal_(0, 1.0)  # the untrained head is zero: make it act
    save_actor(actor, out / "policy", feature="rssm")
    rssm.save_pretrained(out / "policy" / "rssm")
    return out, rssm.eval(), actor.eval()


def test_torch_policy_acts_on_the_image_like_the_deployed_step_and_resets(run):
    out, rssm, actor = run
    act, reset = eval_go2.torch_policy_source(out)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(3)]
    first = act(SimpleNamespace(rgb=frames[0]))
    # the first step by hand (fog_training.actor.load_policy's recipe): the posterior of a first frame
    with torch.no_grad():
        img = torch.from_numpy(frames[0])[None]
        post, *_ = rssm.obs_step(rssm.initial_state(1), torch.zeros(1, 3), rssm.encode(img),
                                 torch.ones(1, dtype=torch.bool), sample=False)
        want = deterministic_action(actor, rssm.feat(post))[0].numpy()
    np.testing.assert_allclose(first, want, atol=1e-5)
    assert first.shape == (3,) and (first >= LOW).all() and (first <= HIGH).all()
    second = act(SimpleNamespace(rgb=frames[1]))
    big = np.repeat(np.repeat(frames[2], 4, 0), 4, 1)  # a 64x64 camera frame: resized to the policy's 16x16
    assert act(SimpleNamespace(rgb=big)).shape == (3,)
    reset()
    np.testing.assert_allclose(act(SimpleNamespace(rgb=frames[0])), first, atol=1e-6)
    np.testing.assert_allclose(act(SimpleNamespace(rgb=frames[1])), second, atol=1e-6)


def test_a_run_its_policy_folder_and_a_named_source_are_told_apart(run, monkeypatch):
    from fog_policy import task_rollout

    out, _, _ = run
    seen = []
    monkeypatch.setattr(task_rollout, "run_episodes",
                        lambda act, reset, task, episodes, seed, size: seen.append((act, task, episodes, seed)) or 7)
    made = []
    monkeypatch.setattr(task_rollout, "make_source", lambda name, *a: made.append(name) or ("act", "reset", None))
    assert eval_go2.evaluate_run(str(out), 2, 5) == 7
    assert eval_go2.evaluate_run(str(out / "policy"), 3, 6) == 7
    assert eval_go2.evaluate_run("still", 1, 0) == 7
    assert [s[1:] for s in seen] == [("goal", 2, 5), ("goal", 3, 6), ("goal", 1, 0)]
    assert callable(seen[0][0]) and callable(seen[1][0]) and seen[2][0] == "act" and made == ["still"]


def test_action_histograms_compare_the_policy_with_the_dataset(tmp_path):
    from fog_training.untrained_dream import make_cmd_vel_store

    store = make_cmd_vel_store(tmp_path / "d.zarr", episodes=2, steps=6, size=8)
    results = [SimpleNamespace(commands=[[0.1, 0.0, 0.2]] * 6 + [[0.3, 0.1, -0.2]] * 4),
               SimpleNamespace(commands=[[0.5, -0.1, 0.0]] * 2)]
    stats = eval_go2.action_histograms(results, str(store.path), tmp_path / "out", first=5)
    assert (tmp_path / "out" / "actions.png").stat().st_size > 5_000
    vx = stats["vx (m/s)"]
    cmds = np.array([c for r in results for c in r.commands])
    assert vx["policy_mean"] == pytest.approx(cmds[:, 0].mean()) and vx["policy_std"] == pytest.approx(cmds[:, 0].std())
    assert vx["dataset_mean"] == pytest.approx(float(np.asarray(store.array("action"))[:, 0].mean()))
    alone = eval_go2.action_histograms(results, None, tmp_path / "alone")
    assert set(alone["yaw rate (rad/s)"]) == {"policy_mean", "policy_std"}, "no dataset: no dataset figures"


def test_main_refuses_no_source_and_a_run_without_a_policy(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        eval_go2.main([])
    assert e.value.code == 2 and "give --run RUN or --source SOURCE" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        eval_go2.main(["--run", str(tmp_path)])
    assert e.value.code == 2 and f"--run {tmp_path}: no policy/actor.json there" in capsys.readouterr().err
