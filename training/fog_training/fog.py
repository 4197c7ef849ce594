"""The FoG step: a policy learned with decoupled first-order gradients (FoG / DMO) and SAPO.

This file is the algorithm, top to bottom; :class:`fog_training.fog_trainer.FoGTrainer` only
calls it (setup, replay, checkpoints, evaluation and the loop live there). Notation: N parallel
rollouts, a window of H steps, state s_t of the *local model* (differentiable), observation
o^G and reward r^G of the *global model* (the diffusion world model, or a true simulator; no
gradient), features f(s) read by the actor pi and the critics V_i.

1. **The swap** (:func:`swap`). Values from the global model, derivatives from the local one::

       swap(x_hat, x^G) = x^G   in the forward pass,   d swap / d x_hat = I   in the backward pass
                        = x_hat + sg(x^G - x_hat)      (:func:`decoupled`: the same up to rounding)

2. **The local step** (:class:`LocalModel`; the models are in :mod:`fog_training.local_models`)::

       s_{t+1}, r_t = local.step(s_t, a_t, o^G_{t+1}, r^G_t)
       s_{t+1} = swap(f_hat(s_t, a_t), s^G_{t+1}),   r_t = swap(r_phi(s_{t+1}), r^G_t)

   where s^G_{t+1} is the global observation in the local model's terms (the simulator's state
   for the MLP; for the RSSM the posterior latent of the global frame, z^G = q(h_{t+1}, e(o^G))),
   so the chain of Jacobians is the local model's, evaluated along the *global* trajectory.
   :class:`SwapConfig` holds the switches (what is swapped, which gradient path).

3. **The rollout window** (:func:`start_window`, :func:`rollout_window`)::

       a_t ~ pi(. | f(s_t))                                 reparameterized squashed Gaussian
       o^G_{t+1}, r^G_t = global_model.step(a_t)            no gradient
       J = sum_t gamma^t (r_t + alpha Hn_t) + gamma^H mean_i V_i(f(s_H)),   Hn_t = -log pi(a_t|s_t) / |A|

   with SAPO's episode handling inside the window (:class:`fog_training.sapo.WindowReturn`):
   a terminated episode adds nothing after its end, a truncated one bootstraps with V of its final
   state; with autoreset the rollout goes on in a fresh episode with the discount reset to 1.
   Gradients stop at window boundaries (the next window starts from sg(s_H)).

4. **Actor and temperature** (:func:`actor_and_temperature_update`)::

       L_pi    = -mean_n J_n / H                          (gradient clipped to ``grad_clip``)
       L_alpha = log_alpha (mean_{t,n} -log pi(a_t|s_t) - H_target),   H_target = -0.5 |A|   (SAC's rule)

5. **Critic** (:func:`critic_update`): TD(lambda) targets from the *minimum* over the target
   ensemble V' on the visited states (features detached), ``critic_iterations`` passes of
   ``critic_minibatches`` minibatches of squared error, then Polyak: V' <- (1 - tau) V' + tau V.

6. **Local-model refresh** (:func:`refresh_local_model`, every ``refresh_every`` iterations): a few
   gradient steps of the local model's own loss on the global model's transitions (the trainer's
   replay supplies the batches; for the RSSM mixed with real dataset windows).

One iteration, as the trainer runs it::

    state  = start_window(local, global_model, carry, rng)
    window = rollout_window(state, actor, critic, temperature, local, global_model, cfg, device=...)
    actor_and_temperature_update(window, actor, temperature, optimizer, cfg, iteration)
    critic_update(window.data, critic, critic_target, optimizer, cfg)
    refresh_local_model(local, optimizer, next_batch, cfg.refresh_steps)    # every refresh_every
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

import torch
from torch import nn

from fog_training.critic import critic_loss, polyak_update, td_lambda_targets
from fog_training.sapo import WindowReturn

if TYPE_CHECKING:
    import numpy as np

    from fog_training.actor import SquashedGaussianActor
    from fog_training.critic import CriticEnsemble
    from fog_training.global_models import GlobalModel
    from fog_training.sapo import Temperature


# ---------------------------------------------------------------- the config the step reads


@dataclass
class SwapConfig:
    swap_stoch: bool = True
    """Take the latent's value from the global model: RSSM z from the posterior of the global frame
    (state for MLP local models). False: the local model's own prediction (Dreamer-style imagination)."""
    swap_deter: bool = False
    """Also take the RSSM's h from a no-grad posterior filter over the global frames. With swap_stoch
    the GRU already computes exactly that value (kept as an ablation switch); it matters without it."""
    stoch_grad: Literal["mean", "sample"] = "mean"
    """Gradient path of the latent: the prior mean, or a straight-through (RSSM) / reparameterized
    (MLP) sample. For the RSSM's categoricals both have the same gradient (the ST estimator's)."""
    reward_value: Literal["global", "local"] = "global"
    """Value of the reward in the return: the global model's (gradient from the local head), or the
    local head's own (value and gradient local)."""
    posterior_sample: bool = False
    """z^G: a posterior sample (True) or its mode (False)."""


@dataclass
class FoGStepConfig:
    """The algorithm's settings; :class:`fog_training.fog_trainer.FoGConfig` adds the run's (data,
    output, evaluation, checkpoints, device)."""

    num_envs: int = 64
    """N: parallel rollouts per window."""
    horizon: int = 16
    """H: steps per window (actor gradient horizon)."""
    gamma: float = 0.99
    """Discount."""
    lam: float = 0.95
    """TD(lambda) of the critic targets."""
    actor_lr: float = 2e-3
    """Actor AdamW learning rate."""
    critic_lr: float = 5e-4
    """Critic AdamW learning rate."""
    alpha_lr: float = 5e-3
    """Temperature learning rate."""
    local_lr: float = 3e-4
    """Local-model (RSSM / MLP) refresh learning rate."""
    betas: tuple[float, float] = (0.7, 0.95)
    """AdamW betas (SAPO's)."""
    grad_clip: float = 1.0
    """Max gradient norm of the actor and of the critic."""
    init_alpha: float = 0.05
    """Initial temperature."""
    target_entropy_scale: float = -0.5
    """Target entropy = this * |A|."""
    actor_hidden: tuple[int, ...] = (256, 128, 64)
    """Actor MLP widths."""
    critic_hidden: tuple[int, ...] = (256, 128, 64)
    """Critic MLP widths."""
    critic_ensemble: int = 2
    """Critics in the ensemble (min for targets, mean for the actor's bootstrap)."""
    critic_iterations: int = 4
    """Passes over the window's states per critic update."""
    critic_minibatches: int = 4
    """Minibatches per pass."""
    critic_tau: float = 0.2
    """Polyak rate of the target critic per iteration."""
    swap: SwapConfig = field(default_factory=SwapConfig)
    """The DMO swap switches (docs/METHOD.md section 2)."""
    refresh_every: int = 4
    """Iterations between local-model refreshes (0: never)."""
    refresh_steps: int = 2
    """Gradient steps per refresh."""
    refresh_batch: int = 16
    """Sequences (RSSM) or transitions (MLP) per refresh step."""
    refresh_real_fraction: float = 0.5
    """RSSM: fraction of each refresh batch taken from real dataset windows (the rest: policy rollouts)."""
    actor_warmup_iterations: int = 0
    """Iterations without actor updates at the start (DMO: let the fresh local model learn first)."""


# ---------------------------------------------------------------- 1. the swap


def decoupled(local: torch.Tensor, global_value: torch.Tensor) -> torch.Tensor:
    """Value of ``global_value``, gradient of ``local``: local + sg(global - local)."""
    return local + (global_value.to(local.dtype) - local).detach()


class DecoupledSwap(torch.autograd.Function):
    """``DecoupledSwap.apply(local, global_value)``: the swap as a custom autograd function (as in
    DMO's code): forward returns the global value exactly, backward hands the incoming gradient to
    the local prediction unchanged."""

    @staticmethod
    def forward(ctx, local: torch.Tensor, global_value: torch.Tensor) -> torch.Tensor:  # noqa: ARG004
        return global_value.to(local.dtype).clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # noqa: ARG004
        return grad, None


def swap(local: torch.Tensor, global_value: torch.Tensor) -> torch.Tensor:
    """Exact global value, local gradient (:class:`DecoupledSwap`; one-hot latents stay exactly one-hot)."""
    return DecoupledSwap.apply(local, global_value.detach())


# ---------------------------------------------------------------- 2. the local step


class LocalModel(Protocol):
    """What the window asks of a local model (:class:`fog_training.local_models.RSSMLocalModel`,
    :class:`fog_training.local_models.MLPLocalModel`)."""

    feat_dim: int

    def start(self, start: Any) -> Any:
        """s_0 from what the global model's ``reset`` (or an autoreset) returned; no gradient."""
        ...

    def feat(self, state: Any) -> torch.Tensor:
        """f(s) [N, F]: what the actor and the critics read."""
        ...

    def detach(self, state: Any) -> Any:
        """sg(s): the state without its graph."""
        ...

    def step(
        self, state: Any, action: torch.Tensor, next_obs: torch.Tensor, reward_global: torch.Tensor
    ) -> tuple[Any, torch.Tensor]:
        """(s_t, a_t, o^G_{t+1}, r^G_t) -> (s_{t+1}, r_t [N]): values global, gradients local (the swap)."""
        ...

    def restart(self, state: Any, ended: torch.Tensor, new_start: Any) -> Any:
        """Autoreset: rollouts whose episode ended go on from ``new_start`` (no gradient across)."""
        ...

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        """The local model's own training loss on a batch of transitions (the refresh)."""
        ...


# ---------------------------------------------------------------- 3. the rollout window


class Window(NamedTuple):
    objective: torch.Tensor
    """J [N]: the per-rollout SAPO objective, differentiable into the actor."""
    data: dict[str, torch.Tensor]
    """Detached, [H, N, ...]: ``feat``, ``next_feat`` (f(s_t), f(s_{t+1})), ``reward`` (r_t + alpha
    Hn_t), ``entropy`` (-log pi), ``terminated``, ``ended``, ``weight`` (1 while the rollout is still
    counted), ``r_global`` (r^G_t), ``action``: the critic's data and the logs."""
    next_obs: list[torch.Tensor]
    """o^G_{t+1} for t < H (frames or states): what the local-model refresh learns from."""
    state: Any
    """s_H: where the next window goes on when the global model autoresets."""
    metrics: dict[str, float]
    """``rollout/*``."""


def start_window(local: LocalModel, global_model: GlobalModel, carry: Any, rng: np.random.Generator) -> Any:
    """s_0: a fresh ``reset`` of the global model, or (true simulators with autoreset, whose episodes
    run across windows) the previous window's s_H with its graph cut."""
    if carry is None or not global_model.autoreset:
        return local.start(global_model.reset(rng))
    return local.detach(carry)


def rollout_window(
    state: Any,
    actor: SquashedGaussianActor,
    critic: CriticEnsemble,
    temperature: Temperature,
    local: LocalModel,
    global_model: GlobalModel,
    cfg: FoGStepConfig,
    *,
    device: torch.device,
    bf16: bool = False,
) -> Window:
    """H steps of N rollouts from ``state`` -> the differentiable objective J and the critic's data.

    Only the actor (and the temperature, through its own loss) is trained by J: the critic and the
    local model supply values and Jacobians. ``bf16``: autocast the global model's (no-grad) step.
    """
    requires_grad_only((actor, critic, temperature, local), actor, temperature)
    N, H, A = cfg.num_envs, cfg.horizon, actor.cfg.action_dim
    alpha = temperature.alpha
    ret = WindowReturn(N, cfg.gamma, device)
    keys = ("feat", "next_feat", "reward", "entropy", "terminated", "ended", "weight", "r_global", "action")
    rec: dict[str, list[torch.Tensor]] = {k: [] for k in keys}
    next_obs: list[torch.Tensor] = []
    for _ in range(H):
        f = local.feat(state)
        action, logp, _ = actor.sample(f)
        entropy = -logp
        with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=bf16):
            res = global_model.step(action)
        nxt, reward = local.step(state, action, res.obs, res.reward.to(device))
        ended = (res.terminated | res.truncated).to(device)
        terminated = res.terminated.to(device)
        bonus = alpha * entropy / A
        rec["weight"].append(ret.alive.clone())
        ret.add(reward + bonus)
        nf = local.feat(nxt)
        if bool(ended.any()):
            ret.end(ended, terminated, critic.mean(nf), restart=global_model.autoreset)
        for k, v in (
            ("feat", f),
            ("next_feat", nf),
            ("reward", reward + bonus),
            ("entropy", entropy),
            ("terminated", terminated),
            ("ended", ended),
            ("r_global", res.reward),
            ("action", action),
        ):
            rec[k].append(v.detach())
        next_obs.append(res.obs)
        if global_model.autoreset and bool(ended.any()):
            nxt = local.restart(nxt, ended, local.start(res.next_start))
        state = nxt
    objective = ret.finish(critic.mean(local.feat(state)))
    data = {k: torch.stack(v) for k, v in rec.items()}
    metrics = {
        "rollout/reward_global": data["r_global"].float().mean().item(),
        "rollout/terminated": data["terminated"].float().mean().item(),
        "rollout/action_abs": data["action"].abs().mean().item(),
    }
    return Window(objective, data, next_obs, state, metrics)


# ---------------------------------------------------------------- 4. actor and temperature


def actor_and_temperature_update(
    window: Window,
    actor: SquashedGaussianActor,
    temperature: Temperature,
    optimizer: torch.optim.Optimizer,
    cfg: FoGStepConfig,
    iteration: int,
) -> dict[str, float]:
    """One step on L_pi + L_alpha (only L_alpha during ``actor_warmup_iterations``)."""
    warm = iteration < cfg.actor_warmup_iterations
    actor_loss = -window.objective.mean() / cfg.horizon
    alpha_loss, metrics = temperature.loss(window.data["entropy"])
    optimizer.zero_grad(set_to_none=True)
    if warm:
        alpha_loss.backward()
        grad_norm = torch.zeros(())
    else:
        (actor_loss + alpha_loss).backward()
        grad_norm = nn.utils.clip_grad_norm_(actor.parameters(), cfg.grad_clip)
    optimizer.step()
    metrics.update(
        {
            "actor/loss": actor_loss.item(),
            "actor/objective": window.objective.mean().item(),
            "actor/grad_norm": float(grad_norm),
            "actor/warmup": float(warm),
        }
    )
    return metrics


# ---------------------------------------------------------------- 5. critic


def critic_update(
    data: dict[str, torch.Tensor],
    critic: CriticEnsemble,
    critic_target: CriticEnsemble,
    optimizer: torch.optim.Optimizer,
    cfg: FoGStepConfig,
) -> dict[str, float]:
    """TD(lambda) regression of the ensemble on the window's states, then the Polyak update of V'."""
    critic.requires_grad_(True)
    H, N = data["reward"].shape
    with torch.no_grad():
        next_values = critic_target.min(data["next_feat"])
    targets = td_lambda_targets(data["reward"], next_values, data["terminated"], data["ended"], cfg.gamma, cfg.lam)
    feat, targets, weight = data["feat"].reshape(H * N, -1), targets.reshape(-1), data["weight"].reshape(-1)
    mb = max(1, (H * N) // cfg.critic_minibatches)
    sums: dict[str, float] = {}
    count = 0
    for _ in range(cfg.critic_iterations):
        perm = torch.randperm(H * N, device=feat.device)
        for a in range(0, H * N, mb):
            idx = perm[a : a + mb]
            loss, m = critic_loss(critic, feat[idx], targets[idx], weight[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(critic.parameters(), cfg.grad_clip)
            optimizer.step()
            for k, v in m.items():
                sums[k] = sums.get(k, 0.0) + v
            count += 1
    polyak_update(critic_target, critic, cfg.critic_tau)
    out = {k: v / max(count, 1) for k, v in sums.items()}
    out["critic/target"] = targets.mean().item()
    return out


# ---------------------------------------------------------------- 6. local-model refresh


def refresh_local_model(
    local: LocalModel,
    optimizer: torch.optim.Optimizer,
    next_batch: Callable[[], dict[str, torch.Tensor]],
    steps: int,
) -> dict[str, float]:
    """``steps`` gradient steps of the local model's own loss on ``next_batch()`` -> mean ``refresh/*``."""
    local.requires_grad_(True)
    sums: dict[str, float] = {}
    for _ in range(steps):
        loss, m = local.compute_loss(next_batch())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(local.parameters(), 100.0)
        optimizer.step()
        for k, v in m.items():
            sums[f"refresh/{k}"] = sums.get(f"refresh/{k}", 0.0) + float(v) / steps
    return sums


# ---------------------------------------------------------------- shared helpers


def make_optimizer(
    actor: nn.Module, critic: nn.Module, temperature: nn.Module, local: nn.Module, cfg: FoGStepConfig
) -> torch.optim.AdamW:
    """One AdamW over the four learners (SAPO's betas; the local model keeps Adam's defaults).

    Each update zeroes all gradients (set to None) and steps; parameters without a gradient are
    skipped, so the groups do not interfere."""
    kw = {"betas": tuple(cfg.betas)}
    return torch.optim.AdamW(
        [
            {"params": list(actor.parameters()), "lr": cfg.actor_lr, **kw},
            {"params": list(critic.parameters()), "lr": cfg.critic_lr, **kw},
            {"params": list(temperature.parameters()), "lr": cfg.alpha_lr, "weight_decay": 0.0, **kw},
            {"params": list(local.parameters()), "lr": cfg.local_lr, "betas": (0.9, 0.999)},
        ]
    )


def requires_grad_only(modules: Sequence[nn.Module], *trainable: nn.Module) -> None:
    """Of ``modules``, only ``trainable`` get gradients (the others become constants of the graph)."""
    for m in modules:
        m.requires_grad_(any(m is x for x in trainable))
