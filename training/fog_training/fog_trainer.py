"""``fog train policy``: train the actor with decoupled first-order gradients (FoG) and SAPO.

The algorithm (the swap, the rollout window, the actor, critic and temperature updates, the
local-model refresh, with the settings they read) is :mod:`fog_training.fog`, one file read top to
bottom; the local models are in :mod:`fog_training.local_models`. This module is the plumbing
around it: the global and local models of each mode, the replay the refresh samples from,
checkpoints and the policy export, true-environment evaluation, and the loop.

Modes: ``world_model`` (FoG: N imagined rollouts of the diffusion world model from real context
windows, the RSSM as local model, images), ``pusht_state`` (DMO: N true Push-T simulators whose
episodes run across windows, an MLP local model on state features) and ``point_mass`` (DMO on the
2-D point mass, the sanity task).

Run directory::

    RUN/checkpoint.safetensors  everything to resume: actor, critics, temperature, local model, optimizer, rng, counters
    RUN/replay.safetensors      DMO mode: the real transitions the MLP local model trains on
    RUN/policy/                 the deployable policy: actor.json + actor.safetensors (+ rssm/), see actor.load_policy
    RUN/config.json  RUN/metrics.jsonl  RUN/evals.jsonl (true-environment evaluations)  RUN/tb/  RUN/train_summary.json

Examples::

    fog train policy --preset cpu --data data/pusht.zarr --world-model runs/pusht/wm --rssm runs/pusht/rssm \
        --out runs/pusht/fog
    fog train policy --preset debug --data /tmp/tiny.zarr --world-model /tmp/wm --rssm /tmp/rssm --out /tmp/fog
    fog train policy --preset dmo-cpu --out runs/pusht/dmo          # DMO: true simulator + MLP local model (state)
    fog train policy --out runs/pusht/fog --resume                  # continue a run
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from fog_worldmodel.config_io import config_from_dict, config_to_dict
from torch import nn

from fog_training import fog
from fog_training.actor import ActorConfig, SquashedGaussianActor, save_actor
from fog_training.critic import CriticEnsemble, make_target
from fog_training.fog import FoGStepConfig
from fog_training.fog_setting import make_setting
from fog_training.presets import load_presets
from fog_training.replay import RunCounters
from fog_training.run_config import PolicyEvalConfig, RunConfig, WorldModelInputs
from fog_training.run_records import append_record, drop_records_after, last_record_has
from fog_training.sapo import Temperature, target_entropy
from fog_training.train_loop import StopSignals


@dataclass
class FoGConfig(FoGStepConfig, PolicyEvalConfig, WorldModelInputs, RunConfig):
    """The run: the step's settings (:class:`fog_training.fog.FoGStepConfig`) plus data, models,
    output, evaluation and checkpoints."""

    mode: Literal["world_model", "pusht_state", "point_mass"] = "world_model"
    """world_model: FoG (diffusion global model + RSSM, images); pusht_state: DMO (true simulator + MLP local
    model); point_mass: DMO on the 2-D point mass (the machinery's sanity task, fog_training.point_mass_env)."""
    iterations: int = 1000
    """Windows (actor updates) of the run."""
    sample_budget: int = 0
    """Stop once the global model has produced this many samples (0: iterations only)."""
    replay_capacity: int = 256
    """Policy-rollout sequences kept for the RSSM refresh (transitions x 1000 for the MLP)."""
    sim_max_steps: int = 100
    """DMO: episode length of the training simulators (the dataset's episodes are 100 steps)."""
    pusht_action_encoding: Literal["relative", "absolute"] = "relative"
    """DMO: Push-T action encoding (fog_training.pusht_task.PushTAction); image runs use the dataset's."""
    pusht_action_scale_px: float = 60.0
    """DMO: pixels of target offset for a = 1 in the relative encoding."""
    local_hidden: tuple[int, ...] = (256, 256)
    """DMO: widths of the MLP local model."""
    global_precision: Literal["fp32", "bf16", "auto"] = "auto"
    """Autocast of the (no-grad) diffusion sampler: auto = bf16 where the CPU/GPU has native bf16."""
    log_every: int = 1
    """Iterations between metrics records."""


PRESETS = load_presets("fog_trainer", FoGConfig)
"""--preset NAME: fog_training/presets/fog_trainer.yaml."""


# ---------------------------------------------------------------- the trainer


class FoGTrainer:
    """Holds the global model, the local model, actor, critics and temperature; ``train()`` runs the loop."""

    def __init__(self, cfg: FoGConfig) -> None:
        self.cfg = cfg
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        self.device = torch.device(
            "cuda"
            if cfg.device == "auto" and torch.cuda.is_available()
            else ("cpu" if cfg.device == "auto" else cfg.device)
        )
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        setting = make_setting(cfg, self.device)  # fog_training.fog_setting: the global and local models
        self.global_model, self.local, self.replay = setting.global_model, setting.local, setting.replay
        self.action_dim, self.action_low, self.action_high = setting.action_dim, setting.low, setting.high
        self.sampler, self.image_size, self.bf16 = setting.sampler, setting.image_size, setting.bf16
        self.real_samples_offline, self.meta = setting.real_samples_offline, setting.meta
        self.pusht_action = setting.pusht_action
        A = self.action_dim
        self.actor = SquashedGaussianActor(
            ActorConfig(
                feat_dim=self.local.feat_dim,
                action_dim=A,
                hidden=tuple(cfg.actor_hidden),
                action_low=self.action_low,
                action_high=self.action_high,
            )
        ).to(self.device)
        self.critic = CriticEnsemble(self.local.feat_dim, tuple(cfg.critic_hidden), cfg.critic_ensemble).to(self.device)
        self.critic_target = make_target(self.critic)
        self.temperature = Temperature(cfg.init_alpha, target_entropy(A, cfg.target_entropy_scale)).to(self.device)
        self.counters = RunCounters()
        self.agent = nn.ModuleDict(
            {
                "actor": self.actor,
                "critic": self.critic,
                "critic_target": self.critic_target,
                "temperature": self.temperature,
                "local": self.local,
                "counters": self.counters,
            }
        )
        self.modules = (self.actor, self.critic, self.temperature, self.local)
        """The learners, in the optimizer's order (fog.requires_grad_only picks the trained ones)."""
        self.optimizer = fog.make_optimizer(self.actor, self.critic, self.temperature, self.local, cfg)
        self.carry = None
        self.iteration = self.samples = self.updates = 0
        self.local_fitted = False

    @property
    def real(self) -> bool:
        return self.global_model.real

    # ---- one iteration's updates (the algorithm: fog_training.fog) ----
    def actor_update(self) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
        """One rollout window and the actor/temperature step on it -> (critic data, metrics)."""
        gm = self.global_model
        state = fog.start_window(self.local, gm, self.carry, self.rng)
        first_frames = gm.last_frames.clone() if self.cfg.mode == "world_model" else None
        window = fog.rollout_window(
            state,
            self.actor,
            self.critic,
            self.temperature,
            self.local,
            gm,
            self.cfg,
            device=self.device,
            bf16=self.bf16,
        )
        self.carry = window.state
        self._store_replay(window, first_frames)
        metrics = dict(window.metrics)
        if self.real and gm.final_coverages:
            metrics["rollout/final_coverage"] = float(np.mean(gm.final_coverages[-100:]))
            metrics["rollout/episode_return"] = float(np.mean(gm.episode_returns[-100:]))
        metrics.update(
            fog.actor_and_temperature_update(
                window, self.actor, self.temperature, self.optimizer, self.cfg, self.iteration
            )
        )
        return window.data, metrics

    def critic_update(self, data: dict[str, torch.Tensor]) -> dict[str, float]:
        fog.requires_grad_only(self.modules, self.critic)
        return fog.critic_update(data, self.critic, self.critic_target, self.optimizer, self.cfg)

    def refresh_local(self) -> dict[str, float]:
        """A few gradient steps of the local model on the policy's rollouts (+ real windows for the RSSM)."""
        if self.replay.size == 0:
            return {}
        fog.requires_grad_only(self.modules, self.local)
        if self.cfg.mode != "world_model" and not self.local_fitted:
            d, n = self.replay.data, self.replay.size
            self.local.fit_scales(
                *(torch.from_numpy(d[k][:n]).to(self.device) for k in ("state", "next_state", "reward"))
            )
            self.local_fitted = True
        return fog.refresh_local_model(self.local, self.optimizer, self._refresh_batch, self.cfg.refresh_steps)

    # ---- replay for the local-model refresh ----
    def _store_replay(self, window: fog.Window, first_frames: torch.Tensor | None) -> None:
        data = window.data
        if self.cfg.mode == "world_model":
            keep = ~data["ended"].any(0).cpu().numpy()  # drop rollouts the model terminated
            frames = torch.cat([first_frames[:, None], torch.stack(window.next_obs, 1)], 1).cpu().numpy()[keep]
            n, T = frames.shape[:2]
            act = data["action"].transpose(0, 1).cpu().numpy()[keep]
            rew = data["r_global"].transpose(0, 1).float().cpu().numpy()[keep]
            is_first = np.zeros((n, T), bool)
            is_first[:, 0] = True
            self.replay.add(
                {
                    "image": frames,
                    "action": np.concatenate([act, np.zeros_like(act[:, :1])], 1).astype(np.float32),
                    "reward": np.concatenate([rew, np.zeros_like(rew[:, :1])], 1).astype(np.float32),
                    "is_first": is_first,
                    "is_terminal": np.zeros((n, T), bool),
                }
            )
        else:
            flat = lambda x: x.reshape(-1, *x.shape[2:]).cpu().numpy().astype(np.float32)  # noqa: E731
            self.replay.add(
                {
                    "state": flat(data["feat"]),
                    "action": flat(data["action"]),
                    "next_state": flat(torch.stack(window.next_obs)),
                    "reward": flat(data["r_global"]),
                }
            )

    def _refresh_batch(self) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        if cfg.mode != "world_model":
            b = self.replay.sample(self.rng, cfg.refresh_batch)
        else:
            n_real = int(round(cfg.refresh_real_fraction * cfg.refresh_batch))
            parts = []
            if cfg.refresh_batch - n_real > 0:
                parts.append(self.replay.sample(self.rng, cfg.refresh_batch - n_real))
            if n_real > 0:
                w = self.sampler.sample(self.rng, n_real, cfg.horizon + 1)
                parts.append({k: w[k] for k in ("image", "action", "reward", "is_first", "is_terminal")})
            b = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
            b["action"] = b["action"].astype(np.float32)
            b["reward"] = b["reward"].astype(np.float32)
        return {k: torch.from_numpy(np.ascontiguousarray(v)).to(self.device) for k, v in b.items()}

    # ---- evaluation in the true environment ----
    def evaluate(self, episodes: int) -> dict[str, Any]:
        from fog_training.eval_policy import actor_state_policy, evaluate, run_rssm_policy, run_state_policy

        cfg = self.cfg
        self.actor.eval()
        self.local.eval()
        try:
            if cfg.mode == "world_model":
                rssm = self.local.rssm
                runner = lambda seeds, rec: run_rssm_policy(
                    self.actor, rssm, seeds, cfg.eval_max_steps, self.image_size, rec, action=self.pusht_action
                )  # noqa: E731
            else:
                policy = actor_state_policy(self.actor)
                runner = lambda seeds, rec: run_state_policy(  # noqa: E731
                    policy, seeds, cfg.eval_max_steps, rec, action=self.pusht_action
                )
            s = evaluate(runner, episodes, min(25, episodes), seed=0)
        finally:
            self.actor.train()
            self.local.train()
        return {
            "iteration": self.iteration,
            "samples": self.samples,
            "sample_kind": "real" if self.real else "world_model",
            "world_model_samples": 0 if self.real else self.samples,
            "real_samples": self.samples if self.real else self.real_samples_offline,
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

    # ---- persistence ----
    def save(self, out: Path, config: dict[str, Any]) -> None:
        from fog_worldmodel.persistence import save_safetensors_atomic

        from fog_training.checkpoint import checkpoint_path, save_checkpoint

        self.counters.set(self.iteration, self.samples, self.updates)
        save_checkpoint(
            checkpoint_path(out),
            step=self.iteration,
            config=config,
            model=self.agent,
            optimizer=self.optimizer,
            scheduler=None,
            numpy_rng=self.rng,
        )
        if self.cfg.mode != "world_model" and self.replay.size:
            save_safetensors_atomic(self.replay.state_dict(), out / "replay.safetensors")
        self.export_policy(out / "policy")
        if self.cfg.snapshots:  # the policy at this many samples, for learning curves (fog eval go2 --run SNAPSHOT)
            self.export_policy(out / "snapshots" / f"{self.samples:09d}" / "policy")

    def export_policy(self, directory: Path) -> None:
        feature = {"world_model": "rssm", "pusht_state": "pusht_state", "point_mass": "state"}[self.cfg.mode]
        save_actor(self.actor, directory, feature, {**self.meta, "iteration": self.iteration, "samples": self.samples})
        if feature == "rssm":
            self.local.rssm.save_pretrained(directory / "rssm")

    def load(self, out: Path) -> None:
        from fog_training.checkpoint import checkpoint_path, load_checkpoint

        state = load_checkpoint(checkpoint_path(out))
        self.agent.load_state_dict(state.model_state)
        self.optimizer.load_state_dict(state.optim_state)
        self.rng.bit_generator.state = state.numpy_rng
        torch.set_rng_state(state.torch_rng)
        self.iteration, self.samples, self.updates = self.counters.get()
        self.global_model.samples = self.samples
        if (out / "replay.safetensors").exists():
            from safetensors.torch import load_file

            self.replay.load(load_file(str(out / "replay.safetensors")))
            self.local_fitted = True

    # ---- the loop ----
    def train(self) -> dict[str, Any]:
        from torch.utils.tensorboard import SummaryWriter
        from tqdm.auto import tqdm

        cfg = self.cfg
        out, config = self._prepare_run_dir()
        writer = SummaryWriter(str(out / "tb"), purge_step=self.iteration or None)
        stop = StopSignals()
        total = cfg.sample_budget if cfg.sample_budget else cfg.iterations * cfg.num_envs * cfg.horizon
        bar = tqdm(
            total=total,
            initial=self.samples,
            disable=not cfg.progress,
            dynamic_ncols=True,
            desc=out.name,
            unit="sample",
        )
        t0 = time.monotonic()
        start_it, reason = self.iteration, "done"
        next_eval = (
            (self.samples // cfg.eval_every_samples + 1) * cfg.eval_every_samples if cfg.eval_every_samples else None
        )
        try:
            while self.iteration < cfg.iterations and not (cfg.sample_budget and self.samples >= cfg.sample_budget):
                metrics = self._train_iteration()
                bar.update(self.samples - bar.n)
                bar.set_postfix(obj=f"{metrics['actor/objective']:.3g}", r=f"{metrics['rollout/reward_global']:.3g}")
                if self.iteration % cfg.log_every == 0:
                    self._log_metrics(out, writer, metrics)
                if next_eval is not None and cfg.eval_episodes and self.samples >= next_eval:
                    self._record_eval(out, writer)
                    next_eval += cfg.eval_every_samples
                if self.iteration % cfg.checkpoint_every == 0:
                    self.save(out, config)
                if stop.signal:
                    reason = stop.signal
                    break
                if cfg.time_limit_min and time.monotonic() - t0 > 60 * cfg.time_limit_min:
                    reason = "time_limit"
                    break
            self.save(out, config)
            evaluated = last_record_has(out / "evals.jsonl", "samples", self.samples)
            if cfg.eval_episodes and reason == "done" and not evaluated:
                self._record_eval(out, writer)
        finally:
            bar.close()
            writer.close()
            stop.restore()
        return self._write_summary(out, start_it, t0, reason)

    def _prepare_run_dir(self) -> tuple[Path, dict[str, Any]]:
        """Check --out and --resume, resume from its checkpoint, write config.json and drop the records
        a dead run logged past that checkpoint; the run directory and the config dict."""
        from fog_training.checkpoint import checkpoint_path

        cfg = self.cfg
        if not cfg.out:
            raise SystemExit("--out is required")
        out = Path(cfg.out)
        out.mkdir(parents=True, exist_ok=True)
        ckpt = checkpoint_path(out)
        if ckpt.exists() and cfg.resume == "never":
            raise FileExistsError(f"{out} already holds a checkpoint; choose another --out or resume it")
        if not ckpt.exists() and cfg.resume == "require":
            raise FileNotFoundError(f"--resume given but {ckpt} does not exist")
        config = config_to_dict(cfg)
        if ckpt.exists():
            self.load(out)
            print(f"resuming {out} from iteration {self.iteration} ({self.samples} samples)")
        (out / "config.json").write_text(json.dumps(config, indent=2))
        # Records past the checkpoint came from a run that died before saving them: redone now.
        drop_records_after(out / "metrics.jsonl", "iteration", self.iteration)
        drop_records_after(out / "evals.jsonl", "iteration", self.iteration)
        return out, config

    def _train_iteration(self) -> dict[str, float]:
        """One actor and critic update (and, when due, a local-model refresh); the iteration's metrics."""
        t_it = time.monotonic()
        data, metrics = self.actor_update()
        metrics.update(self.critic_update(data))
        self.iteration += 1
        self.updates += 1
        self.samples = self.global_model.samples
        if self.cfg.refresh_every and self.iteration % self.cfg.refresh_every == 0:
            metrics.update(self.refresh_local())
        metrics["time/iteration_s"] = time.monotonic() - t_it
        metrics["samples"] = self.samples
        return metrics

    def _log_metrics(self, out: Path, writer, metrics: dict[str, float]) -> None:
        """One iteration's record in TensorBoard and metrics.jsonl."""
        for k, v in metrics.items():
            writer.add_scalar(k, v, self.samples)
        append_record(out / "metrics.jsonl", {"iteration": self.iteration, **metrics})

    def _write_summary(self, out: Path, start_it: int, t0: float, reason: str) -> dict[str, Any]:
        """Write train_summary.json and print the run's last line; the summary."""
        seconds = time.monotonic() - t0
        summary = {
            "iteration": self.iteration,
            "start_iteration": start_it,
            "samples": self.samples,
            "sample_kind": "real" if self.real else "world_model",
            "stopped": reason,
            "seconds": seconds,
            "seconds_per_iteration": seconds / max(1, self.iteration - start_it),
        }
        (out / "train_summary.json").write_text(json.dumps(summary, indent=2))
        print(
            f"{out}: iteration {self.iteration}, {self.samples} {summary['sample_kind']} samples ({reason}) "
            f"in {seconds:.0f} s"
        )
        return summary

    def _record_eval(self, out: Path, writer) -> None:
        ev = self.evaluate(self.cfg.eval_episodes)
        append_record(out / "evals.jsonl", ev)
        for k in ("success_rate", "mean_final_coverage"):
            writer.add_scalar(f"eval/{k}", ev[k], self.samples)


def run(cfg: FoGConfig) -> dict[str, Any]:
    return FoGTrainer(cfg).train()


def main(argv: list[str] | None = None) -> int:
    from fog_training.train_cli import parse_with_presets

    argv = sys.argv[1:] if argv is None else argv
    cfg = parse_with_presets(FoGConfig, PRESETS, argv, "fog train policy", __doc__)
    if cfg.resume != "never" and cfg.out and (Path(cfg.out) / "config.json").exists() and cfg.resume == "require":
        saved = json.loads((Path(cfg.out) / "config.json").read_text())
        cfg = config_from_dict(FoGConfig, {**saved, "resume": "require"})
    run(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
