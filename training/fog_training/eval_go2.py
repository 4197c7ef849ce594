"""``fog eval go2``: judge a trained Go2 policy run (or artifact) in the simulator, in one process.

Runs the task's episodes with ``fog_policy.task_rollout`` (MuJoCo Go2 + the trot at 50 Hz + the
policy at 5 Hz on the latest ego frame, the deployed loop without DDS) for a policy run directory
(``RUN/policy``: actor + RSSM, the exact PolicyStep the exporter turns into ONNX) or for reference
sources, and writes a summary with the first-action histogram against the dataset's actions (is the
policy acting inside the data its world models saw?). Figures for reports come from
``benchmarks/task_success.py`` (separate ROS processes); this is the quick check while training.

    fog eval go2 --run runs/goal/policy --episodes 20
    fog eval go2 --run runs/goal/policy --data runs/goal/go2.zarr --episodes 20 --out runs/goal/eval
    fog eval go2 --source random --episodes 20
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch


def torch_policy_source(run: str | Path):
    """(act(obs), reset()) running RUN/policy's actor and RSSM as the exported PolicyStep does
    (the policy reads the image only; the graph's proprio input is ignored)."""
    from fog_contract.images import resize_rgb

    from fog_training.actor import load_policy
    from fog_training.export import PolicyStep

    actor, rssm = load_policy(str(run))
    step = PolicyStep(rssm.eval(), actor.eval()).eval()
    size = rssm.cfg.image_size
    A = actor.cfg.action_dim
    low, high = actor.action_low.numpy(), actor.action_high.numpy()
    carry = {}

    def reset() -> None:
        carry.update(
            deter=torch.zeros(1, rssm.cfg.deter),
            stoch=torch.zeros(1, rssm.cfg.stoch * rssm.cfg.classes),
            prev=torch.zeros(1, A),
            first=torch.ones(1),
        )

    @torch.no_grad()
    def act(obs) -> np.ndarray:
        img = torch.from_numpy(np.ascontiguousarray(resize_rgb(obs.rgb, size, size)))[None]
        action, deter, stoch, _ = step(img, torch.zeros(1, 1), carry["deter"], carry["stoch"], carry["prev"],
                                       carry["first"])  # fmt: skip
        a = np.clip(action[0].numpy().astype(np.float64), low, high)
        carry.update(deter=deter, stoch=stoch, prev=torch.from_numpy(a[None].astype(np.float32)), first=torch.zeros(1))
        return a

    reset()
    return act, reset


def evaluate_run(source: str, episodes: int, seed: int, task_name: str = "goal", camera_size: int = 64):
    """(summary, results) of ``source``: a policy run dir, its policy/ folder, an artifact dir, or
    still/random/scripted (``fog_policy.task_rollout.make_source``)."""
    from fog_policy import task_rollout as tr
    from quadruped_bridge.exploration import command_bounds
    from quadruped_bridge.tasks import task_by_name

    if (Path(source) / "policy" / "actor.json").exists():
        act, reset = torch_policy_source(source)
    elif (Path(source) / "actor.json").exists():
        act, reset = torch_policy_source(Path(source).parent)
    else:
        act, reset, _ = tr.make_source(source, task_by_name(task_name), *command_bounds(), seed)
    return tr.run_episodes(act, reset, task_name, episodes, seed, camera_size)


def action_histograms(results, data: str | None, out: Path, first: int = 5) -> dict:
    """The policy's commands (all, and the first ``first`` of each episode) against the dataset's actions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cmds = np.array([c for r in results for c in r.commands]).reshape(-1, 3)
    firsts = np.array([c for r in results for c in r.commands[:first]]).reshape(-1, 3)
    ds = None
    if data:
        from fog_training.data.episode_store import EpisodeStore

        ds = np.asarray(EpisodeStore(data).array("action"), np.float64)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    stats = {}
    for k, (ax, name) in enumerate(zip(axes, ("vx (m/s)", "vy (m/s)", "yaw rate (rad/s)"), strict=True)):
        bins = np.linspace(-1.0 if k != 1 else -0.4, 1.0 if k != 1 else 0.4, 41)
        if ds is not None:
            ax.hist(ds[:, k], bins=bins, density=True, alpha=0.4, label="dataset")
        ax.hist(cmds[:, k], bins=bins, density=True, histtype="step", lw=1.5, label="policy (all)")
        ax.hist(firsts[:, k], bins=bins, density=True, histtype="step", lw=1.5, label=f"policy (first {first})")
        ax.set_xlabel(name)
        ax.legend(fontsize=7)
        stats[name] = {"policy_mean": float(cmds[:, k].mean()), "policy_std": float(cmds[:, k].std())}
        if ds is not None:
            stats[name].update(dataset_mean=float(ds[:, k].mean()), dataset_std=float(ds[:, k].std()))
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "actions.png", dpi=100)
    plt.close(fig)
    return stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="fog eval go2", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--run", default=None, help="policy run directory (fog train policy --out) or its policy/ folder")
    p.add_argument("--source", default=None, help="still | random | scripted | ARTIFACT_DIR (instead of --run)")
    p.add_argument("--task", default="goal", choices=("goal",))
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--seed", type=int, default=1000, help="scene seed of the first episode (then +1 each)")
    p.add_argument("--data", default=None, help="dataset whose action histogram to draw beside the policy's")
    p.add_argument("--out", default=None, help="folder for summary.json and actions.png")
    a = p.parse_args(sys.argv[1:] if argv is None else argv)
    source = a.run or a.source
    if not source:
        p.error("give --run RUN or --source SOURCE")
    if a.run and not ((Path(a.run) / "policy" / "actor.json").exists() or (Path(a.run) / "actor.json").exists()):
        p.error(f"--run {a.run}: no policy/actor.json there (a fog train policy run directory was expected)")
    torch.set_num_threads(1)
    summary, results = evaluate_run(source, a.episodes, a.seed, a.task)
    if a.out:
        out = Path(a.out)
        summary["actions"] = action_histograms(results, a.data, out)
        per = [{k: v for k, v in r.__dict__.items() if k != "frames"} for r in results]
        (out / "summary.json").write_text(json.dumps({"source": source, "summary": summary, "episodes": per}, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
