"""``fog train ppo-sb3``: model-free PPO (stable-baselines3) in the true state-based Push-T.

The sample-efficiency reference for DMO: the same environment (:class:`PushTStateEnv`: 11 state
features, actions in the encoding of ``--action-encoding`` (relative moves by default, as DMO's;
recorded in config.json, which ``fog eval policy --sb3`` reads), the dense training reward, success termination,
``sim_max_steps``-step episodes), the same real-sample budget, the same evaluation
(deterministic actions, ``evals.jsonl`` records with the same fields as ``fog train policy``).

Examples::

    fog train ppo-sb3 --preset cpu --out runs/pusht/sb3_ppo
    fog train ppo-sb3 --preset debug --out /tmp/sb3
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fog_training.presets import load_presets
from fog_training.run_records import append_record, last_record_has


@dataclass
class SB3PPOConfig:
    out: str = ""
    """Run directory: model.zip, evals.jsonl, train_summary.json, tb/."""
    sample_budget: int = 61_440
    """Real environment steps."""
    n_envs: int = 8
    """Parallel environments (one process)."""
    n_steps: int = 256
    """Steps per environment per rollout."""
    batch_size: int = 256
    """PPO minibatch size."""
    n_epochs: int = 10
    """PPO epochs per rollout."""
    lr: float = 3e-4
    """Adam learning rate."""
    gamma: float = 0.99
    """Discount."""
    net_arch: tuple[int, ...] = (256, 128, 64)
    """Policy and value MLP widths."""
    sim_max_steps: int = 100
    """Episode length of the training environments (as DMO's)."""
    action_encoding: Literal["relative", "absolute"] = "relative"
    """Push-T action encoding (fog_training.pusht_task.PushTAction)."""
    action_scale_px: float = 60.0
    """Pixels of target offset for a = 1 in the relative encoding."""
    eval_every_samples: int = 20_480
    """True-environment evaluation every this many real samples."""
    eval_episodes: int = 50
    """Episodes per evaluation (0: none)."""
    eval_max_steps: int = 300
    """Step limit of evaluation episodes."""
    seed: int = 0
    """Seed."""
    threads: int = 0
    """torch CPU threads (0 = default)."""
    progress: bool = False
    """SB3's progress bar (needs rich)."""


PRESETS = load_presets("sb3_ppo", SB3PPOConfig)
"""--preset NAME: fog_training/presets/sb3_ppo.yaml."""


def _make_model(cfg: SB3PPOConfig, out: Path, action) -> Any:
    """SB3 PPO on ``n_envs`` seeded state-based Push-T environments, logging to OUT/tb."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    from fog_training.pusht_state_env import PushTStateEnv

    env = DummyVecEnv([lambda i=i: PushTStateEnv(cfg.sim_max_steps, action=action) for i in range(cfg.n_envs)])
    env.seed(cfg.seed)
    return PPO(
        "MlpPolicy",
        env,
        learning_rate=cfg.lr,
        n_steps=cfg.n_steps,
        batch_size=cfg.batch_size,
        n_epochs=cfg.n_epochs,
        gamma=cfg.gamma,
        seed=cfg.seed,
        device="cpu",
        tensorboard_log=str(out / "tb"),
        verbose=0,
        policy_kwargs={"net_arch": {"pi": list(cfg.net_arch), "vf": list(cfg.net_arch)}},
    )


def _record_eval(cfg: SB3PPOConfig, out: Path, model, action, samples: int) -> None:
    """Evaluate the deterministic policy in the true environment; append the record to evals.jsonl."""
    from fog_training.eval_policy import evaluate, run_state_policy

    policy = lambda obs: model.predict(obs, deterministic=True)[0]  # noqa: E731
    s = evaluate(
        lambda seeds, rec: run_state_policy(policy, seeds, cfg.eval_max_steps, rec, action=action),
        cfg.eval_episodes,
        min(25, cfg.eval_episodes),
        seed=0,
    )
    ev = {
        "iteration": samples // (cfg.n_envs * cfg.n_steps),
        "samples": samples,
        "sample_kind": "real",
        "world_model_samples": 0,
        "real_samples": samples,
        **{
            k: s[k]
            for k in (
                "episodes",
                "success_rate",
                "mean_final_coverage",
                "mean_max_coverage",
                "mean_length",
                "seconds",
            )
        },
    }
    append_record(out / "evals.jsonl", ev)


def _eval_callback(cfg: SB3PPOConfig, record_eval: Callable[[int], None]) -> Any:
    """An SB3 callback that calls ``record_eval(samples)`` every ``eval_every_samples`` samples."""
    from stable_baselines3.common.callbacks import BaseCallback

    class EvalCallback(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.next = cfg.eval_every_samples

        def _on_step(self) -> bool:
            if cfg.eval_episodes and cfg.eval_every_samples and self.num_timesteps >= self.next:
                record_eval(self.num_timesteps)
                self.next += cfg.eval_every_samples
            return True

    return EvalCallback()


def train(cfg: SB3PPOConfig) -> dict[str, Any]:
    import torch

    from fog_training.pusht_task import PushTAction

    if not cfg.out:
        raise SystemExit("--out is required")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "evals.jsonl").unlink(missing_ok=True)
    (out / "config.json").write_text(json.dumps({k: getattr(cfg, k) for k in cfg.__dataclass_fields__}, indent=2))
    action = PushTAction(cfg.action_encoding, cfg.action_scale_px)
    model = _make_model(cfg, out, action)

    def record_eval(samples: int) -> None:
        _record_eval(cfg, out, model, action, samples)

    t0 = time.monotonic()
    model.learn(total_timesteps=cfg.sample_budget, callback=_eval_callback(cfg, record_eval), progress_bar=cfg.progress)
    samples = int(model.num_timesteps)
    model.save(str(out / "model.zip"))
    if cfg.eval_episodes and not last_record_has(out / "evals.jsonl", "samples", samples):
        record_eval(samples)
    summary = {"samples": samples, "sample_kind": "real", "stopped": "done", "seconds": time.monotonic() - t0}
    (out / "train_summary.json").write_text(json.dumps(summary, indent=2))
    print(f"{out}: {samples} real samples in {summary['seconds']:.0f} s")
    return summary


def main(argv: list[str] | None = None) -> int:
    from fog_training.train_cli import parse_with_presets

    argv = sys.argv[1:] if argv is None else argv
    train(parse_with_presets(SB3PPOConfig, PRESETS, argv, "fog train ppo-sb3", __doc__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
