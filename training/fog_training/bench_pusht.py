"""``fog bench pusht``: every method on Push-T at the same budgets, judged in the true environment.

Stages (each writes its own run directory under ``--out`` and is skipped when already finished,
so an interrupted benchmark resumes where it stopped):

1. ``data``: ``fog collect-pusht`` (unless ``--data`` names an existing store);
2. ``world_model`` and ``rssm``: the global diffusion model and the local RSSM (unless
   ``--world-model`` / ``--rssm`` name finished runs);
3. ``fog``: FoG (diffusion global model + RSSM swap + SAPO) for ``image_budget`` world-model samples;
4. ``ppo_world_model``: PPO inside the same world model, same budget, same contexts and filter;
5. ``dmo``: DMO on state-based Push-T (true simulator + MLP local model), ``state_budget`` real samples;
6. ``sb3_ppo``: stable-baselines3 PPO in the same state-based Push-T, same real samples;
7. ``references``: two reference policies on the evaluation seeds, doing nothing (the agent holds
   still) and uniformly random actions;
8. ``gradient_cost``: time and memory of one actor update, FoG vs BPTT through the sampler.

Actions are relative moves by default (``--action-encoding relative``: env target = agent +
``--action-scale-px`` * a, a in [-1, 1]^2), or absolute targets; the collected store records the
encoding in ``meta.action`` and every method (and the reference rows) acts through the store's
encoding, so a ``--data`` store written before the switch runs everything absolute.

Every policy is evaluated in gym-pusht (``eval_episodes`` episodes of ``eval_max_steps`` steps,
deterministic actions) during and after training, on the same seeds as the reference rows; the
table reports each evaluation's coverage gain over doing nothing and says in a sentence whether any
final policy beats doing nothing. Outputs: ``results.json``, ``results.md``
(tables), ``curves.png`` (coverage and success vs samples; world-model samples and real samples
labelled, with the real data behind the world models marked) and, with ``--docs``, the same
section written into docs/BENCHMARKS.md between its ``bench-pusht`` markers.

Examples::

    fog bench pusht --preset cpu --out runs/bench_pusht --docs docs/BENCHMARKS.md
    fog bench pusht --preset cpu --world-model runs/pusht/global --rssm runs/pusht/rssm --data data/pusht.zarr
    fog bench pusht --preset debug --out /tmp/bench
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fog_training import bench_pusht_report as report
from fog_training.presets import load_presets
from fog_training.pusht_task import DEFAULT_ACTION_SCALE_PX, PushTAction

STAGES = ("data", "world_model", "rssm", "fog", "ppo_world_model", "dmo", "sb3_ppo", "references", "gradient_cost")


@dataclass
class BenchConfig:
    out: str = "runs/bench_pusht"
    """Benchmark directory (one run directory per stage)."""
    data: str = ""
    """An existing Push-T store to use (default: OUT/pusht.zarr, collected)."""
    collect_episodes: int = 200
    """Episodes to collect when there is no store."""
    collect_max_steps: int = 100
    """Steps per collected episode."""
    image_size: int = 64
    """Image size of the collected store."""
    action_encoding: Literal["relative", "absolute"] = "relative"
    """Action encoding of the collected store (an existing --data store's own encoding wins)."""
    action_scale_px: float = DEFAULT_ACTION_SCALE_PX
    """Relative encoding: pixels of target offset for a = 1."""
    world_model: str = ""
    """A finished ``fog train world-model`` run to use instead of training one."""
    rssm: str = ""
    """A finished ``fog train rssm`` run to use instead of training one."""
    wm_preset: str = "cpu"
    """Preset of the world-model training."""
    rssm_preset: str = "cpu"
    """Preset of the RSSM training."""
    fog_preset: str = "cpu"
    """Preset of ``fog train policy`` (and of PPO in the world model)."""
    dmo_preset: str = "dmo-cpu"
    """Preset of the DMO run (``fog train policy``, pusht_state mode)."""
    sb3_preset: str = "cpu"
    """Preset of the SB3 PPO run."""
    image_budget: int = 10_240
    """World-model samples for FoG and for PPO in the world model."""
    image_eval_every: int = 5_120
    """Evaluate the image policies every this many world-model samples."""
    state_budget: int = 61_440
    """Real samples for DMO and for SB3 PPO."""
    state_eval_every: int = 20_480
    """Evaluate the state policies every this many real samples."""
    eval_episodes: int = 50
    """Evaluation episodes per point (>= 50 for the record)."""
    eval_max_steps: int = 300
    """Step limit of evaluation episodes (gym-pusht's own: 300)."""
    gradient_cost_envs: int = 4
    """N of the gradient-cost comparison (BPTT keeps every UNet activation of N x H x 3 evaluations: ~50 MB per
    rollout step with the cpu world model, so 4 x 16 needs ~3.2 GB)."""
    gradient_cost_horizon: int = 16
    """H of the gradient-cost comparison."""
    gradient_cost_repeats: int = 2
    """Timed updates per method."""
    stages: tuple[str, ...] = STAGES
    """Stages to run (others are read from OUT when present)."""
    docs: str = ""
    """Write the results section into this markdown file (docs/BENCHMARKS.md) between the bench-pusht markers."""
    threads: int = 2
    """torch CPU threads of the image stages (world models, FoG, PPO in the world model, gradient cost); the
    state stages (DMO, SB3 PPO) always use 1 (tiny networks)."""
    seed: int = 0
    """Seed of every stage."""


PRESETS = load_presets("bench_pusht", BenchConfig)
"""--preset NAME: fog_training/presets/bench_pusht.yaml."""


def _finished(run: Path) -> bool:
    p = run / "train_summary.json"
    return p.exists() and json.loads(p.read_text()).get("stopped") in ("done", "time_limit")


def _store_ok(path: Path) -> bool:
    from fog_training.data.episode_store import EpisodeStore

    try:
        EpisodeStore(path)
        return True
    except Exception:  # noqa: BLE001  (missing or incomplete: collect again)
        return False


def bench_action_encoding(cfg: BenchConfig, data: Path) -> PushTAction:
    """The encoding every method acts through: the store's own (``meta.action``), else the bench's."""
    from fog_training.data.episode_store import EpisodeStore

    try:
        return PushTAction.from_store_meta(EpisodeStore(data).meta)
    except Exception:  # noqa: BLE001  (no store: the stage list left out data collection)
        return PushTAction(cfg.action_encoding, cfg.action_scale_px)


def _references_done(cfg: BenchConfig, action: PushTAction, path: Path) -> bool:
    if not path.exists():
        return False
    refs = json.loads(path.read_text())
    r = refs.get("nothing", {})
    return (
        r.get("episodes") == cfg.eval_episodes
        and r.get("max_steps") == cfg.eval_max_steps
        and r.get("action_encoding") == action.to_meta()
    )


def run_references(cfg: BenchConfig, action: PushTAction, path: Path) -> None:
    """Do nothing and random actions on the methods' evaluation seeds (evaluate(..., seed=0))."""
    from fog_training.eval_policy import evaluate_references

    if not cfg.eval_episodes:
        return
    refs = evaluate_references(action, cfg.eval_episodes, cfg.eval_max_steps, min(25, cfg.eval_episodes), seed=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(refs, indent=2))


class _Stages:
    """Runs the named stages that ``--stages`` selects, adding each one's seconds to
    ``OUT/stage_seconds.json`` (a resumed bench keeps the earlier part's times)."""

    def __init__(self, cfg: BenchConfig, out: Path) -> None:
        self.cfg, self.path = cfg, out / "stage_seconds.json"
        self.timings: dict[str, float] = json.loads(self.path.read_text()) if self.path.exists() else {}

    def run(self, name: str, fn) -> None:
        if name not in self.cfg.stages:
            return
        t0 = time.monotonic()
        print(f"== bench pusht: {name}", flush=True)
        fn()
        self.timings[name] = self.timings.get(name, 0.0) + time.monotonic() - t0
        self.path.write_text(json.dumps(self.timings, indent=2))


def run_stages(cfg: BenchConfig) -> dict[str, Any]:
    """Every stage that has not finished yet (each is resumable), then the results."""
    from fog_training import fog_trainer, train_rssm, train_world_model
    from fog_training.baselines import ppo_world_model, sb3_ppo
    from fog_training.baselines.bptt import GradientCostConfig
    from fog_training.baselines.bptt import run as gradient_cost
    from fog_training.data import pusht_collect

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    stages = _Stages(cfg, out)
    data = Path(cfg.data) if cfg.data else out / "pusht.zarr"
    wm = Path(cfg.world_model) if cfg.world_model else out / "world_model"
    rssm = Path(cfg.rssm) if cfg.rssm else out / "rssm"
    threads, seed = ["--threads", str(cfg.threads)], ["--seed", str(cfg.seed)]
    if not cfg.data and not _store_ok(data):
        stages.run("data", lambda: pusht_collect.main([
            "--out", str(data), "--episodes", str(cfg.collect_episodes), "--max-steps", str(cfg.collect_max_steps),
            "--image-size", str(cfg.image_size), *seed, "--action-encoding", cfg.action_encoding,
            "--action-scale-px", str(cfg.action_scale_px), "--overwrite"]))
    action = bench_action_encoding(cfg, data)
    model_args = ["--data", str(data), "--loop.threads", str(cfg.threads)]
    if not cfg.world_model and not _finished(wm):
        stages.run("world_model", lambda: train_world_model.main(
            ["--preset", cfg.wm_preset, "--out", str(wm), *model_args]))
    if not cfg.rssm and not _finished(rssm):
        stages.run("rssm", lambda: train_rssm.main(["--preset", cfg.rssm_preset, "--out", str(rssm), *model_args]))
    evals = ["--eval-episodes", str(cfg.eval_episodes), "--eval-max-steps", str(cfg.eval_max_steps)]
    image_args = ["--data", str(data), "--world-model", str(wm), "--rssm", str(rssm), "--sample-budget",
                  str(cfg.image_budget), "--eval-every-samples", str(cfg.image_eval_every), *evals, "--no-progress",
                  *threads, *seed]
    state_args = ["--sample-budget", str(cfg.state_budget), "--eval-every-samples", str(cfg.state_eval_every),
                  *evals, "--threads", "1", *seed]
    if not _finished(out / "fog"):
        stages.run("fog", lambda: fog_trainer.main(
            ["--preset", cfg.fog_preset, "--out", str(out / "fog"), *image_args]))
    ppo_preset = cfg.fog_preset if cfg.fog_preset in ppo_world_model.PRESETS else "cpu"
    if not _finished(out / "ppo_world_model"):
        stages.run("ppo_world_model", lambda: ppo_world_model.main(
            ["--preset", ppo_preset, "--out", str(out / "ppo_world_model"), *image_args]))
    enc = ["--pusht-action-encoding", action.encoding, "--pusht-action-scale-px", str(action.scale_px)]
    if not _finished(out / "dmo"):
        stages.run("dmo", lambda: fog_trainer.main(
            ["--preset", cfg.dmo_preset, "--out", str(out / "dmo"), "--no-progress", *state_args, *enc]))
    sb3_enc = ["--action-encoding", action.encoding, "--action-scale-px", str(action.scale_px)]
    if not _finished(out / "sb3_ppo"):
        stages.run("sb3_ppo", lambda: sb3_ppo.main(
            ["--preset", cfg.sb3_preset, "--out", str(out / "sb3_ppo"), *state_args, *sb3_enc]))
    refs = out / "references" / "references.json"
    if not _references_done(cfg, action, refs):
        stages.run("references", lambda: run_references(cfg, action, refs))
    if not (out / "gradient_cost" / "gradient_cost.json").exists():
        stages.run("gradient_cost", lambda: gradient_cost(GradientCostConfig(
            data=str(data), world_model=str(wm), rssm=str(rssm), out=str(out / "gradient_cost"),
            envs=cfg.gradient_cost_envs, horizon=cfg.gradient_cost_horizon, repeats=cfg.gradient_cost_repeats,
            threads=cfg.threads)))
    return report.collect_results(cfg, data, stages.timings)


def main(argv: list[str] | None = None) -> int:
    from fog_training.train_cli import parse_with_presets

    argv = sys.argv[1:] if argv is None else argv
    report.ARGV[:] = list(argv)
    cfg = parse_with_presets(BenchConfig, PRESETS, argv, "fog bench pusht", __doc__)
    t0 = time.monotonic()
    results = run_stages(cfg)
    print((Path(cfg.out) / "results.md").read_text())
    print(f"bench pusht: {time.monotonic() - t0:.0f} s; results in {cfg.out}")
    return 0 if results else 1


if __name__ == "__main__":
    sys.exit(main())
