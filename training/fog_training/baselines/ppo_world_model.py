"""``fog train ppo-world-model``: the paper's baseline, PPO inside the same global world model.

Same harness as ``fog train policy``: N imagined rollouts of the diffusion WorldModelEnv started
from real context windows, the policy acting on the RSSM state filtered from the generated frames
(exactly what it sees at deployment), the same squashed Gaussian actor, the same true-environment
evaluation and the same sample accounting. What differs is the gradient: a likelihood-ratio
(clipped PPO) estimate with GAE instead of the decoupled first-order one. The RSSM is used as a
fixed filter (no refresh).

Examples::

    fog train ppo-world-model --preset cpu --data data/pusht.zarr --world-model runs/pusht/wm \
        --rssm runs/pusht/rssm --out runs/pusht/ppo_wm
    fog train ppo-world-model --preset debug --data /tmp/tiny.zarr --world-model /tmp/wm --rssm /tmp/rssm --out /tmp/ppo
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from fog_worldmodel.config_io import config_to_dict
from fog_worldmodel.rssm import RSSMState
from torch import nn

from fog_training.actor import ActorConfig, SquashedGaussianActor, mlp, save_actor
from fog_training.presets import load_presets
from fog_training.replay import RunCounters
from fog_training.run_config import PolicyEvalConfig, RunConfig, WorldModelInputs
from fog_training.run_records import append_record, drop_records_after, last_record_has
from fog_training.train_loop import use_bf16


@dataclass
class PPOWorldModelConfig(PolicyEvalConfig, WorldModelInputs, RunConfig):
    num_envs: int = 32
    """Parallel imagined rollouts."""
    rollout_steps: int = 16
    """Steps per rollout (from fresh real contexts each time; GAE bootstraps at the end)."""
    iterations: int = 10_000
    """Rollout + update cycles."""
    sample_budget: int = 0
    """Stop once the world model has produced this many samples (0: iterations only)."""
    lr: float = 3e-4
    """Adam learning rate (actor and value)."""
    epochs: int = 4
    """PPO epochs per rollout."""
    minibatches: int = 4
    """Minibatches per epoch."""
    clip: float = 0.2
    """PPO ratio clip."""
    gamma: float = 0.99
    """Discount."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    ent_coef: float = 0.0
    """Weight of the entropy estimate (-log pi) bonus."""
    vf_coef: float = 0.5
    """Weight of the value loss."""
    max_grad_norm: float = 0.5
    """Gradient clip."""
    actor_hidden: tuple[int, ...] = (256, 128, 64)
    """Actor MLP widths."""
    critic_hidden: tuple[int, ...] = (256, 128, 64)
    """Value MLP widths."""
    global_precision: Literal["fp32", "bf16", "auto"] = "auto"
    """Autocast of the diffusion sampler."""


PRESETS = load_presets("ppo_world_model", PPOWorldModelConfig)
"""--preset NAME: fog_training/presets/ppo_world_model.yaml."""


def gae(
    rewards: torch.Tensor, values: torch.Tensor, last_value: torch.Tensor, dones: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and returns [T, N] (``dones[t]``: the transition at t terminated)."""
    T = rewards.shape[0]
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(last_value)
    for t in reversed(range(T)):
        nv = last_value if t == T - 1 else values[t + 1]
        nonterm = 1.0 - dones[t].float()
        delta = rewards[t] + gamma * nv * nonterm - values[t]
        last = delta + gamma * lam * nonterm * last
        adv[t] = last
    return adv, adv + values


def _resolve_device(cfg: PPOWorldModelConfig) -> torch.device:
    """``--device auto``: CUDA when available, else the CPU; any other value as given."""
    return torch.device(
        "cuda"
        if cfg.device == "auto" and torch.cuda.is_available()
        else ("cpu" if cfg.device == "auto" else cfg.device)
    )


def _make_actor(cfg: PPOWorldModelConfig, feat_dim: int, action_dim: int, act_meta: dict) -> SquashedGaussianActor:
    """The squashed Gaussian actor on RSSM features, bounded by the dataset's action range."""
    A = action_dim
    return SquashedGaussianActor(
        ActorConfig(
            feat_dim=feat_dim,
            action_dim=A,
            hidden=tuple(cfg.actor_hidden),
            action_low=tuple(act_meta.get("low", [-1.0] * A)),
            action_high=tuple(act_meta.get("high", [1.0] * A)),
        )
    )


@dataclass
class _PPORun:
    """What one run works on (global model, RSSM filter, actor, value, optimizer, random stream)
    and where it stands (iteration, world-model samples)."""

    cfg: PPOWorldModelConfig
    out: Path
    device: torch.device
    rng: np.random.Generator
    gm: Any
    """The DiffusionGlobalModel the rollouts run in."""
    rssm: Any
    actor: SquashedGaussianActor
    value: nn.Module
    counters: RunCounters
    agent: nn.ModuleDict
    optimizer: torch.optim.Optimizer
    pusht_action: Any
    """How the true environment reads the dataset's actions (PushTAction)."""
    bf16: bool
    image_size: int
    real_offline: int
    """Real transitions of the training episodes (the world model's data)."""
    config: dict[str, Any]
    iteration: int = 0
    samples: int = 0
    writer: Any = None

    def resume(self) -> None:
        """Check --resume against the run directory, continue from its checkpoint, write config.json."""
        from fog_training.checkpoint import checkpoint_path, load_checkpoint

        ckpt = checkpoint_path(self.out)
        if ckpt.exists() and self.cfg.resume == "never":
            raise FileExistsError(f"{self.out} already holds a checkpoint")
        if not ckpt.exists() and self.cfg.resume == "require":
            raise FileNotFoundError(f"--resume given but {ckpt} does not exist")
        if ckpt.exists():
            st = load_checkpoint(ckpt)
            self.agent.load_state_dict(st.model_state)
            self.optimizer.load_state_dict(st.optim_state)
            self.rng.bit_generator.state = st.numpy_rng
            torch.set_rng_state(st.torch_rng)
            self.iteration, self.samples, _ = self.counters.get()
            self.gm.samples = self.samples
        # Records past the checkpoint came from a run that died before saving them: redone now.
        drop_records_after(self.out / "metrics.jsonl", "iteration", self.iteration)
        drop_records_after(self.out / "evals.jsonl", "iteration", self.iteration)
        (self.out / "config.json").write_text(json.dumps(self.config, indent=2))

    def save(self) -> None:
        """Checkpoint, export the policy (actor + RSSM) and, with --snapshots, keep a copy of it."""
        from fog_training.checkpoint import checkpoint_path, save_checkpoint

        out = self.out
        self.counters.set(self.iteration, self.samples, self.iteration)
        save_checkpoint(
            checkpoint_path(out),
            step=self.iteration,
            config=self.config,
            model=self.agent,
            optimizer=self.optimizer,
            scheduler=None,
            numpy_rng=self.rng,
        )
        save_actor(
            self.actor,
            out / "policy",
            "rssm",
            {
                "data": self.cfg.data,
                "image_size": self.image_size,
                "iteration": self.iteration,
                "samples": self.samples,
                "trainer": "ppo_world_model",
                "pusht_action": self.pusht_action.to_meta(),
            },
        )
        self.rssm.save_pretrained(out / "policy" / "rssm")
        if self.cfg.snapshots:  # the policy at this many samples, for learning curves (fog eval go2 --run SNAPSHOT)
            snap = out / "snapshots" / f"{self.samples:09d}"
            shutil.copytree(out / "policy", snap / "policy", dirs_exist_ok=True)

    def record_eval(self) -> None:
        """Evaluate the policy in the true environment; append to evals.jsonl and TensorBoard."""
        from fog_training.eval_policy import evaluate, run_rssm_policy

        cfg = self.cfg
        self.actor.eval()
        s = evaluate(
            lambda seeds, rec: run_rssm_policy(
                self.actor, self.rssm, seeds, cfg.eval_max_steps, self.image_size, rec, action=self.pusht_action
            ),
            cfg.eval_episodes,
            min(25, cfg.eval_episodes),
            seed=0,
        )
        self.actor.train()
        ev = {
            "iteration": self.iteration,
            "samples": self.samples,
            "sample_kind": "world_model",
            "world_model_samples": self.samples,
            "real_samples": self.real_offline,
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
        append_record(self.out / "evals.jsonl", ev)
        self.writer.add_scalar("eval/mean_final_coverage", ev["mean_final_coverage"], self.samples)
        self.writer.add_scalar("eval/success_rate", ev["success_rate"], self.samples)

    @torch.no_grad()
    def rollout(self) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """N imagined rollouts of T steps from fresh real contexts, acting on the filtered RSSM state;
        the stacked [T, N] buffers (feat, u, logp, value, reward, done), advantages and returns."""
        from fog_worldmodel.rssm import prev_actions_from

        cfg, rssm, device = self.cfg, self.rssm, self.device
        N, T = cfg.num_envs, cfg.rollout_steps
        ctx = self.gm.reset(self.rng)
        is_first = ctx["is_first"].bool().clone()
        is_first[:, 0] = True
        posts, _, _, _ = rssm.observe(
            ctx["frames"], prev_actions_from(ctx["actions"].float(), is_first), is_first, sample=False
        )
        state = RSSMState(posts.deter[:, -1], posts.stoch[:, -1])
        buf: dict[str, list[torch.Tensor]] = {k: [] for k in ("feat", "u", "logp", "value", "reward", "done")}
        alive = torch.ones(N, device=device)
        for _ in range(T):
            f = rssm.feat(state)
            action, logp, u = self.actor.sample(f)
            with torch.autocast(device.type, torch.bfloat16, enabled=self.bf16):
                res = self.gm.step(action)
            for k, v in (
                ("feat", f),
                ("u", u),
                ("logp", logp),
                ("value", self.value(f).squeeze(-1)),
                ("reward", res.reward.float() * alive),
                ("done", res.terminated | (alive == 0)),
            ):
                buf[k].append(v)
            alive = alive * (~res.terminated).float()
            state, _, _, _ = rssm.obs_step(
                state,
                action,
                rssm.encode(res.obs),
                torch.zeros(N, dtype=torch.bool, device=device),
                sample=False,
            )
        last_value = self.value(rssm.feat(state)).squeeze(-1)
        b = {k: torch.stack(v) for k, v in buf.items()}
        adv, ret = gae(b["reward"], b["value"], last_value, b["done"], cfg.gamma, cfg.gae_lambda)
        return b, adv, ret

    def ppo_update(self, b: dict[str, torch.Tensor], adv: torch.Tensor, ret: torch.Tensor) -> dict[str, float]:
        """``epochs`` passes of clipped PPO over the rollout in ``minibatches`` shuffled minibatches;
        the losses, entropy and clip fraction averaged over the minibatches."""
        cfg = self.cfg
        NT = cfg.num_envs * cfg.rollout_steps
        flat = {
            "feat": b["feat"].reshape(NT, -1),
            "u": b["u"].reshape(NT, -1),
            "logp": b["logp"].reshape(-1),
            "adv": adv.reshape(-1),
            "ret": ret.reshape(-1),
        }
        mb = max(1, NT // cfg.minibatches)
        stats: dict[str, float] = {}
        n_mb = 0
        for _ in range(cfg.epochs):
            perm = torch.randperm(NT, device=self.device)
            for a in range(0, NT, mb):
                for k, v in self._minibatch_step(flat, perm[a : a + mb]).items():
                    stats[k] = stats.get(k, 0.0) + v
                n_mb += 1
        return {k: v / n_mb for k, v in stats.items()}

    def _minibatch_step(self, flat: dict[str, torch.Tensor], idx: torch.Tensor) -> dict[str, float]:
        """One clipped-PPO + value step on the rows ``idx`` of the flattened rollout; its metrics."""
        cfg = self.cfg
        new_logp = self.actor.log_prob(flat["feat"][idx], flat["u"][idx])
        ratio = (new_logp - flat["logp"][idx]).exp()
        adv_mb = flat["adv"][idx]
        adv_mb = (adv_mb - adv_mb.mean()) / (adv_mb.std() + 1e-8)
        pg = torch.max(-adv_mb * ratio, -adv_mb * ratio.clamp(1 - cfg.clip, 1 + cfg.clip)).mean()
        v_loss = 0.5 * (self.value(flat["feat"][idx]).squeeze(-1) - flat["ret"][idx]).pow(2).mean()
        ent = -new_logp.mean()
        loss = pg + cfg.vf_coef * v_loss - cfg.ent_coef * ent
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(list(self.actor.parameters()) + list(self.value.parameters()), cfg.max_grad_norm)
        self.optimizer.step()
        with torch.no_grad():
            return {
                "ppo/policy_loss": pg.item(),
                "ppo/value_loss": v_loss.item(),
                "ppo/entropy": ent.item(),
                "ppo/clip_fraction": ((ratio - 1).abs() > cfg.clip).float().mean().item(),
            }

    def log_metrics(self, metrics: dict[str, float]) -> None:
        """One iteration's record in TensorBoard and metrics.jsonl."""
        for k, v in metrics.items():
            self.writer.add_scalar(k, v, self.samples)
        append_record(self.out / "metrics.jsonl", {"iteration": self.iteration, **metrics})


def _build_run(cfg: PPOWorldModelConfig) -> _PPORun:
    """Seed and load the same global model, filter and actor as FoG (plus a value MLP and Adam)."""
    from fog_worldmodel.global_world_model import GlobalWorldModel
    from fog_worldmodel.rssm import RSSM

    from fog_training.data.episode_store import EpisodeStore
    from fog_training.global_models import DiffusionGlobalModel
    from fog_training.pusht_task import PushTAction
    from fog_training.window_sampler import WindowSampler

    if not (cfg.data and cfg.world_model and cfg.rssm and cfg.out):
        raise SystemExit("--data, --world-model, --rssm and --out are required")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = _resolve_device(cfg)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)

    store = EpisodeStore(cfg.data)
    wm = GlobalWorldModel.from_pretrained(Path(cfg.world_model) / "model", device)
    rssm = RSSM.from_pretrained(Path(cfg.rssm) / "model", device).requires_grad_(False)
    sampler = WindowSampler(store, wm.cfg.image_size, 0.05)
    gm = DiffusionGlobalModel(wm, sampler, cfg.num_envs, device, cfg.seed)
    pusht_action = PushTAction.from_store_meta(store.meta)  # how the true env reads the dataset's actions
    actor = _make_actor(cfg, rssm.feat_dim, store.action_dim, store.meta.get("action", {})).to(device)
    value = mlp(rssm.feat_dim, tuple(cfg.critic_hidden), 1).to(device)
    counters = RunCounters()
    agent = nn.ModuleDict({"actor": actor, "value": value, "counters": counters})
    optimizer = torch.optim.Adam(list(actor.parameters()) + list(value.parameters()), lr=cfg.lr, eps=1e-5)
    return _PPORun(
        cfg=cfg,
        out=out,
        device=device,
        rng=rng,
        gm=gm,
        rssm=rssm,
        actor=actor,
        value=value,
        counters=counters,
        agent=agent,
        optimizer=optimizer,
        pusht_action=pusht_action,
        bf16=use_bf16(cfg.global_precision, device),
        image_size=int(store.image_shape[0]),
        real_offline=int(sum(store.episode_lengths[i] for i in sampler.train_episodes)),
        config=config_to_dict(cfg),
    )


def _write_summary(run: _PPORun, start_it: int, t0: float, reason: str) -> dict[str, Any]:
    """Write train_summary.json and print the run's last line; the summary."""
    seconds = time.monotonic() - t0
    summary = {
        "iteration": run.iteration,
        "start_iteration": start_it,
        "samples": run.samples,
        "sample_kind": "world_model",
        "stopped": reason,
        "seconds": seconds,
        "seconds_per_iteration": seconds / max(1, run.iteration - start_it),
    }
    (run.out / "train_summary.json").write_text(json.dumps(summary, indent=2))
    print(f"{run.out}: iteration {run.iteration}, {run.samples} world_model samples ({reason}) in {seconds:.0f} s")
    return summary


def train(cfg: PPOWorldModelConfig) -> dict[str, Any]:
    from torch.utils.tensorboard import SummaryWriter
    from tqdm.auto import tqdm

    run = _build_run(cfg)
    run.resume()
    out = run.out
    run.writer = SummaryWriter(str(out / "tb"), purge_step=run.iteration or None)
    total = cfg.sample_budget or cfg.iterations * cfg.num_envs * cfg.rollout_steps
    bar = tqdm(
        total=total, initial=run.samples, disable=not cfg.progress, dynamic_ncols=True, desc=out.name, unit="sample"
    )
    every = cfg.eval_every_samples
    next_eval = (run.samples // every + 1) * every if every else None
    t0, start_it, reason = time.monotonic(), run.iteration, "done"
    try:
        while run.iteration < cfg.iterations and not (cfg.sample_budget and run.samples >= cfg.sample_budget):
            t_it = time.monotonic()
            b, adv, ret = run.rollout()
            run.samples = run.gm.samples
            metrics = run.ppo_update(b, adv, ret)
            run.iteration += 1
            metrics.update(
                {
                    "rollout/reward_global": b["reward"].mean().item(),
                    "samples": run.samples,
                    "time/iteration_s": time.monotonic() - t_it,
                }
            )
            run.log_metrics(metrics)
            bar.update(run.samples - bar.n)
            if next_eval is not None and cfg.eval_episodes and run.samples >= next_eval:
                run.record_eval()
                next_eval += every
            if run.iteration % cfg.checkpoint_every == 0:
                run.save()
            if cfg.time_limit_min and time.monotonic() - t0 > 60 * cfg.time_limit_min:
                reason = "time_limit"
                break
        run.save()
        evaluated = last_record_has(run.out / "evals.jsonl", "samples", run.samples)
        if cfg.eval_episodes and reason == "done" and not evaluated:
            run.record_eval()
    finally:
        bar.close()
        run.writer.close()
    return _write_summary(run, start_it, t0, reason)


def main(argv: list[str] | None = None) -> int:
    from fog_training.train_cli import parse_with_presets

    argv = sys.argv[1:] if argv is None else argv
    train(parse_with_presets(PPOWorldModelConfig, PRESETS, argv, "fog train ppo-world-model", __doc__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
