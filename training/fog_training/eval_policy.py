"""``fog eval policy``: run a trained policy in the true gym-pusht environment.

Image policies (FoG, PPO in the world model) act on the RSSM state filtered from the real frames
(gym-pusht's 96x96 pixels, resized exactly as the dataset was: ``preprocess_pixels``), the way the
deployed ONNX graph does: (frame, previous state, previous action) -> (action, next state).
State policies (DMO, stable-baselines3 PPO) act on the 11 state features of
:mod:`fog_training.pusht_state_env`. Every action is the deterministic one (tanh of the mean).
Actions become gym-pusht targets through the run's recorded action encoding
(:class:`~fog_training.pusht_task.PushTAction`: relative moves or absolute targets; runs
that recorded none predate the switch and are absolute); ``--action-encoding`` overrides it.

Reports, over ``--episodes`` (>= 50 for the record) episodes of up to ``--max-steps`` steps
(gym-pusht's own limit is 300): success rate (coverage > 0.95 at any step, which ends the
episode), mean final coverage, mean max coverage; writes ``eval.json`` and a video of the best
and the worst episode (replayed with the same seed: the policy and the simulator are deterministic).
With ``--references`` (default) the same seeds are also run with two reference policies, doing
nothing (the agent holds still) and uniformly random actions, and the policy's coverage gain over
doing nothing is reported; ``--reference nothing|random`` evaluates a reference policy alone.

Examples::

    fog eval policy --run runs/pusht/fog --episodes 50
    fog eval policy --run runs/pusht/dmo --episodes 100 --max-steps 300
    fog eval policy --sb3 runs/pusht/sb3_ppo/model.zip --episodes 50
    fog eval policy --reference nothing --episodes 50 --out runs/pusht/do_nothing
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from fog_worldmodel.rssm import RSSM

from fog_training.actor import SquashedGaussianActor, deterministic_action, load_policy
from fog_training.pusht_task import DEFAULT_ACTION_SCALE_PX, PushTAction

EVAL_SEED_OFFSET = 1_000_000
"""Evaluation episodes are seeded from here on, away from training and data-collection seeds."""
REFERENCES = {"nothing": "do nothing (agent holds still)", "random": "uniformly random actions"}
"""The reference policies every method is compared with (same seeds, same episodes)."""
RANDOM_REFERENCE_SEED = 7_777


@dataclass
class EvalPolicyConfig:
    run: str = ""
    """Run directory of a trained policy (reads RUN/policy)."""
    sb3: str = ""
    """A stable-baselines3 PPO model (.zip) on state features, instead of --run."""
    reference: Literal["", "nothing", "random"] = ""
    """Evaluate a reference policy instead of --run/--sb3: nothing (the agent holds still) or random actions."""
    action_encoding: Literal["auto", "relative", "absolute"] = "auto"
    """How actions become gym-pusht targets; auto: the run's recorded encoding (none recorded: absolute, runs
    before the switch; --reference: relative)."""
    action_scale_px: float = DEFAULT_ACTION_SCALE_PX
    """Scale of an explicit --action-encoding relative."""
    references: bool = True
    """Also run do-nothing and random actions on the same seeds; report the coverage gain over doing nothing."""
    out: str = ""
    """Output directory (default RUN/eval_policy)."""
    episodes: int = 50
    """Episodes to run."""
    max_steps: int = 300
    """Step limit per episode (gym-pusht's own is 300)."""
    batch: int = 25
    """Episodes run in lockstep (one batched policy call per step)."""
    seed: int = 0
    """Episode i is seeded with EVAL_SEED_OFFSET + seed * 10000 + i."""
    video: bool = True
    """Write a video of the best and the worst episode."""
    threads: int = 0
    """torch CPU threads (0 = default)."""


def episode_seed(seed: int, i: int) -> int:
    return EVAL_SEED_OFFSET + seed * 10_000 + i


def _pusht_env():
    import gym_pusht  # noqa: F401
    import gymnasium as gym

    from fog_training.pusht_task import ENV_ID

    return gym.make(ENV_ID, obs_type="state", max_episode_steps=10**9).unwrapped


def _summary(final_cov: np.ndarray, max_cov: np.ndarray, success: np.ndarray, lengths: np.ndarray) -> dict:
    return {
        "episodes": int(len(final_cov)),
        "success_rate": float(success.mean()),
        "mean_final_coverage": float(final_cov.mean()),
        "mean_max_coverage": float(max_cov.mean()),
        "mean_length": float(lengths.mean()),
        "std_final_coverage": float(final_cov.std()),
        "final_coverage": final_cov.round(4).tolist(),
        "success": success.astype(int).tolist(),
    }


@torch.no_grad()
def run_rssm_policy(
    actor: SquashedGaussianActor,
    rssm: RSSM,
    seeds: list[int],
    max_steps: int,
    image_size: int,
    record: bool = False,
    *,
    action: PushTAction,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Run one lockstep batch of episodes; ``action``: the encoding of the dataset the models saw.

    Returns (final coverage, max coverage, success, length, frames per episode when ``record``).
    """
    from fog_training.data.pusht_collect import render_native
    from fog_training.pusht_task import preprocess_pixels

    n = len(seeds)
    envs = [_pusht_env() for _ in range(n)]
    for env, s in zip(envs, seeds):
        env.reset(seed=s)
    device = next(actor.parameters()).device
    state = rssm.initial_state(n, device)
    prev = torch.zeros(n, actor.cfg.action_dim, device=device)
    is_first = torch.ones(n, dtype=torch.bool, device=device)
    final, best, succ, length = np.zeros(n), np.zeros(n), np.zeros(n, bool), np.zeros(n, int)
    active = np.ones(n, bool)
    frames_out: list[list[np.ndarray]] = [[] for _ in range(n)]
    pix = np.zeros((n, image_size, image_size, 3), np.uint8)
    for t in range(max_steps):
        for i in np.flatnonzero(active):
            native = render_native(envs[i])
            pix[i] = preprocess_pixels(native, image_size)
            if record:
                frames_out[i].append(native)
        post, _, _, _ = rssm.obs_step(
            state, prev, rssm.encode(torch.from_numpy(pix).to(device)), is_first, sample=False
        )
        act = deterministic_action(actor, rssm.feat(post))
        act_np = act.cpu().numpy()
        for i in np.flatnonzero(active):
            target = action.target(act_np[i], np.asarray(envs[i].agent.position))
            _, _, terminated, _, info = envs[i].step(target)
            cov = float(info["coverage"])
            final[i], best[i], length[i] = cov, max(best[i], cov), t + 1
            if info["is_success"]:
                succ[i] = True
            if terminated:
                active[i] = False
        state, prev, is_first = post, act, torch.zeros_like(is_first)
        if not active.any():
            break
    for env in envs:
        env.close()
    return final, best, succ, length, [np.stack(f) if f else np.zeros((0, 96, 96, 3), np.uint8) for f in frames_out]


def run_state_policy(
    policy: Callable[[np.ndarray], np.ndarray],
    seeds: list[int],
    max_steps: int,
    record: bool = False,
    *,
    action: PushTAction,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Same as :func:`run_rssm_policy` for a policy on state features (obs [B, 11] -> action [B, 2] in [-1, 1])."""
    from fog_training.pusht_state_env import PushTStateEnv

    n = len(seeds)
    envs = [PushTStateEnv(max_steps, action=action) for _ in range(n)]
    obs = np.stack([env.reset(seed=s)[0] for env, s in zip(envs, seeds)])
    final, best, succ, length = np.zeros(n), np.zeros(n), np.zeros(n, bool), np.zeros(n, int)
    active = np.ones(n, bool)
    frames_out: list[list[np.ndarray]] = [[] for _ in range(n)]
    for t in range(max_steps):
        act = policy(obs)
        for i in np.flatnonzero(active):
            if record:
                frames_out[i].append(envs[i].render())
            obs[i], _, terminated, truncated, info = envs[i].step(act[i])
            cov = float(info["coverage"])
            final[i], best[i], length[i] = cov, max(best[i], cov), t + 1
            succ[i] |= info["is_success"]
            if terminated or truncated:
                active[i] = False
        if not active.any():
            break
    for env in envs:
        env.close()
    return final, best, succ, length, [np.stack(f) if f else np.zeros((0, 96, 96, 3), np.uint8) for f in frames_out]


def actor_state_policy(actor: SquashedGaussianActor) -> Callable[[np.ndarray], np.ndarray]:
    def policy(obs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            f = torch.from_numpy(np.asarray(obs, np.float32)).to(next(actor.parameters()).device)
            return actor.unscale(deterministic_action(actor, f)).cpu().numpy()

    return policy


def reference_policy(kind: str, action: PushTAction, seeds: list[int]) -> Callable[[np.ndarray], np.ndarray]:
    """A reference policy on state features for the episodes ``seeds``.

    ``nothing``: the agent holds still (relative: a = 0; absolute: the target is the agent's own
    position, read from the features). ``random``: a ~ U[-1, 1]^2 every step, from one generator per
    episode seed (the same actions whatever the batching).
    """
    if kind == "nothing":
        return lambda obs: action.hold((np.asarray(obs, np.float64)[:, :2] + 1.0) * 256.0)
    if kind == "random":
        rngs = [np.random.default_rng([RANDOM_REFERENCE_SEED, s]) for s in seeds]
        return lambda obs: np.stack([r.uniform(-1.0, 1.0, 2) for r in rngs[: len(obs)]])
    raise ValueError(f"unknown reference policy {kind!r} (one of {sorted(REFERENCES)})")


def reference_runner(kind: str, action: PushTAction, max_steps: int) -> Callable[[list[int], bool], tuple]:
    return lambda seeds, rec: run_state_policy(  # noqa: E731
        reference_policy(kind, action, seeds), seeds, max_steps, rec, action=action
    )


def evaluate_references(
    action: PushTAction, episodes: int, max_steps: int, batch: int = 25, seed: int = 0
) -> dict[str, dict]:
    """Do nothing and random actions on the seeds every method is evaluated on ({kind: summary})."""
    out = {}
    for kind, label in REFERENCES.items():
        s = evaluate(reference_runner(kind, action, max_steps), episodes, batch, seed)
        out[kind] = {"label": label, "action_encoding": action.to_meta(), "max_steps": max_steps, **s}
    return out


def coverage_gain(summary: dict, nothing: dict) -> float:
    """Mean final coverage over doing nothing, on the same seeds (positive: the policy moved the T toward the goal)."""
    return float(summary["mean_final_coverage"] - nothing["mean_final_coverage"])


def sb3_state_policy(path: str) -> Callable[[np.ndarray], np.ndarray]:
    from stable_baselines3 import PPO

    model = PPO.load(path, device="cpu")
    return lambda obs: model.predict(obs, deterministic=True)[0]


def evaluate(
    runner: Callable[[list[int], bool], tuple],
    episodes: int,
    batch: int,
    seed: int,
    out: Path | None = None,
    video: bool = False,
) -> dict:
    """Run ``episodes`` episodes in lockstep batches; optional videos of the best and the worst."""
    t0 = time.perf_counter()
    seeds = [episode_seed(seed, i) for i in range(episodes)]
    parts = [runner(seeds[a : a + batch], False) for a in range(0, episodes, batch)]
    final, best, succ, length = (np.concatenate([p[k] for p in parts]) for k in range(4))
    summary = _summary(final, best, succ, length)
    summary["seconds"] = time.perf_counter() - t0
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if video:
            order = np.lexsort((-length, final))  # worst: lowest coverage; ties: longest
            for name, i in (("best", int(order[-1])), ("worst", int(order[0]))):
                frames = runner([seeds[i]], True)[4][0]
                summary[f"video_{name}"] = {
                    "episode": i,
                    "seed": seeds[i],
                    "final_coverage": float(final[i]),
                    "path": write_video(out / f"{name}_episode", frames),
                }
        (out / "eval.json").write_text(json.dumps(summary, indent=2))
    return summary


def write_video(stem: Path, frames: np.ndarray, fps: int = 10) -> str:
    """MP4 (GIF if ffmpeg is unavailable) of uint8 frames [T, H, W, 3], upscaled 2x."""
    import imageio.v2 as imageio

    frames = np.repeat(np.repeat(frames, 2, axis=1), 2, axis=2)
    try:
        path = stem.with_suffix(".mp4")
        imageio.mimsave(path, list(frames), fps=fps, macro_block_size=16)
    except Exception:  # noqa: BLE001  (no ffmpeg backend)
        path = stem.with_suffix(".gif")
        imageio.mimsave(path, list(frames), duration=1.0 / fps)
    return str(path)


def run_action_encoding(run_dir: str | Path) -> PushTAction:
    """The action encoding a FoG/PPO/DMO run recorded with its policy (none: absolute, runs before the switch)."""
    d = Path(run_dir)
    d = d / "policy" if (d / "policy").is_dir() else d
    info = json.loads((d / "actor.json").read_text()) if (d / "actor.json").exists() else {}
    return PushTAction.from_meta(info.get("pusht_action"))


def sb3_action_encoding(model_path: str | Path) -> PushTAction:
    """The action encoding of an SB3 run (its config.json next to model.zip; none: absolute)."""
    cfg = Path(model_path).parent / "config.json"
    c = json.loads(cfg.read_text()) if cfg.exists() else {}
    if "action_encoding" not in c:
        return PushTAction("absolute")
    return PushTAction(c["action_encoding"], float(c.get("action_scale_px", DEFAULT_ACTION_SCALE_PX)))


def evaluate_run(
    run_dir: str | Path,
    episodes: int,
    max_steps: int,
    batch: int = 25,
    seed: int = 0,
    out: Path | None = None,
    video: bool = False,
    action: PushTAction | None = None,
) -> dict:
    """Evaluate the policy of a FoG/PPO/DMO run directory (``action``: override the recorded encoding)."""
    actor, rssm = load_policy(run_dir)
    info = (
        json.loads((Path(run_dir) / "policy" / "actor.json").read_text()) if (Path(run_dir) / "policy").is_dir() else {}
    )
    action = action or run_action_encoding(run_dir)
    if rssm is not None:
        size = int(info.get("image_size", rssm.cfg.image_size))
        runner = lambda seeds, rec: run_rssm_policy(  # noqa: E731
            actor, rssm, seeds, max_steps, size, rec, action=action
        )
    else:
        policy = actor_state_policy(actor)
        runner = lambda seeds, rec: run_state_policy(policy, seeds, max_steps, rec, action=action)  # noqa: E731
    summary = evaluate(runner, episodes, batch, seed, out, video)
    summary["action_encoding"] = action.to_meta()
    return summary


def main(argv: list[str] | None = None) -> int:
    import tyro

    argv = sys.argv[1:] if argv is None else argv
    cfg = tyro.cli(EvalPolicyConfig, args=argv, prog="fog eval policy", description=__doc__)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if sum(map(bool, (cfg.run, cfg.sb3, cfg.reference))) != 1:
        raise SystemExit("give exactly one of --run RUN, --sb3 MODEL.zip or --reference nothing|random")
    if cfg.out:
        out = Path(cfg.out)
    elif cfg.run:
        out = Path(cfg.run) / "eval_policy"
    elif cfg.sb3:
        out = Path(cfg.sb3).with_suffix("") / "eval_policy"
    else:
        out = Path("runs") / f"eval_reference_{cfg.reference}"
    if cfg.action_encoding != "auto":
        action = PushTAction(cfg.action_encoding, cfg.action_scale_px)
    elif cfg.run:
        action = run_action_encoding(cfg.run)
    elif cfg.sb3:
        action = sb3_action_encoding(cfg.sb3)
    else:
        action = PushTAction()
    if cfg.run:
        runner = None
    elif cfg.sb3:
        policy = sb3_state_policy(cfg.sb3)
        runner = lambda seeds, rec: run_state_policy(policy, seeds, cfg.max_steps, rec, action=action)  # noqa: E731
    else:
        runner = reference_runner(cfg.reference, action, cfg.max_steps)
    if cfg.references:
        # Written first, so that eval.json (written by evaluate) can carry them.
        refs = evaluate_references(action, cfg.episodes, cfg.max_steps, cfg.batch, cfg.seed)
    if runner is None:
        summary = evaluate_run(cfg.run, cfg.episodes, cfg.max_steps, cfg.batch, cfg.seed, out, cfg.video, action)
    else:
        summary = evaluate(runner, cfg.episodes, cfg.batch, cfg.seed, out, cfg.video)
    summary["action_encoding"] = action.to_meta()
    lines = [
        f"{summary['episodes']} episodes ({action.encoding} actions): success rate {summary['success_rate']:.2f}, "
        f"mean final coverage {summary['mean_final_coverage']:.3f} (max {summary['mean_max_coverage']:.3f})"
    ]
    if cfg.references:
        summary["references"] = refs
        summary["coverage_gain_over_nothing"] = coverage_gain(summary, refs["nothing"])
        for r in refs.values():
            lines.append(
                f"  same seeds, {r['label']}: success rate {r['success_rate']:.2f}, "
                f"mean final coverage {r['mean_final_coverage']:.3f}"
            )
        g = summary["coverage_gain_over_nothing"]
        lines.append(
            f"  coverage gain over doing nothing: {g:+.3f} ("
            + ("beats doing nothing" if g > 0 else "does not beat doing nothing")
            + ")"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / "eval.json").write_text(json.dumps(summary, indent=2))
    print("\n".join(lines) + f"\n{out / 'eval.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
