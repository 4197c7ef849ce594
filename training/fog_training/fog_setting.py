"""What FoG trains in: the global model that steps the rollouts, the local model that supplies the
gradients, and what comes with them (action space, replay for the local refresh, run metadata).

Three settings (``FoGConfig.mode``):

- ``world_model``: the diffusion world model as global model, the RSSM as local model, contexts
  from the dataset the models were trained on (image tasks: Push-T from pixels, the Go2);
- ``pusht_state``: DMO, gym-pusht's true simulator on state features as global model, an MLP as
  local model;
- ``point_mass``: DMO on the 2-D point mass, the sanity task.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from fog_training.local_models import MLPLocalModel, RSSMLocalModel
from fog_training.pusht_task import PushTAction
from fog_training.replay import SequenceReplay
from fog_training.train_loop import use_bf16

if TYPE_CHECKING:
    from fog_training.fog_trainer import FoGConfig


@dataclass
class Setting:
    global_model: Any
    local: torch.nn.Module
    action_dim: int
    low: tuple[float, ...]
    high: tuple[float, ...]
    replay: SequenceReplay
    pusht_action: PushTAction
    """Push-T's action encoding (evaluation in the true environment); unused for the Go2."""
    meta: dict[str, Any] = field(default_factory=dict)
    bf16: bool = False
    sampler: Any = None
    """world_model: the dataset's WindowSampler (contexts, and the split the models were trained on)."""
    image_size: int | None = None
    real_samples_offline: int = 0
    """Real samples behind the world models (the training episodes' steps)."""


def make_setting(cfg: FoGConfig, device: torch.device) -> Setting:
    action = PushTAction(cfg.pusht_action_encoding, cfg.pusht_action_scale_px)
    if cfg.mode == "world_model":
        return _world_model(cfg, device, action)
    if cfg.mode == "point_mass":
        from fog_training.point_mass_env import ACTION_DIM, STATE_DIM, PointMassSimulator

        return Setting(
            PointMassSimulator(cfg.num_envs, cfg.seed, device=device),
            MLPLocalModel(STATE_DIM, ACTION_DIM, tuple(cfg.local_hidden), cfg.swap).to(device),
            ACTION_DIM, (-1.0, -1.0), (1.0, 1.0), SequenceReplay(cfg.replay_capacity * 1000), action,
            meta={"env": "2-D point mass (fog_training.point_mass_env)", "state_dim": STATE_DIM},
        )
    from fog_training.pusht_state_env import ACTION_DIM, STATE_DIM, PushTStateSimulator

    return Setting(
        PushTStateSimulator(cfg.num_envs, cfg.seed, cfg.sim_max_steps, device, action=action),
        MLPLocalModel(STATE_DIM, ACTION_DIM, tuple(cfg.local_hidden), cfg.swap).to(device),
        ACTION_DIM, (-1.0, -1.0), (1.0, 1.0), SequenceReplay(cfg.replay_capacity * 1000), action,
        meta={"env": "gym_pusht state features (fog_training.pusht_state_env)", "state_dim": STATE_DIM,
              "pusht_action": action.to_meta()},
    )


def _world_model(cfg: FoGConfig, device: torch.device, action: PushTAction) -> Setting:
    from fog_worldmodel.global_world_model import GlobalWorldModel
    from fog_worldmodel.rssm import RSSM

    from fog_training.data.episode_store import EpisodeStore
    from fog_training.global_models import DiffusionGlobalModel
    from fog_training.window_sampler import WindowSampler

    if not (cfg.data and cfg.world_model and cfg.rssm):
        raise SystemExit("world_model mode needs --data, --world-model and --rssm")
    store = EpisodeStore(cfg.data)
    wm = GlobalWorldModel.from_pretrained(Path(cfg.world_model) / "model", device)
    rssm = RSSM.from_pretrained(Path(cfg.rssm) / "model", device)
    rssm.train()
    val_fraction = 0.05
    wm_cfg = Path(cfg.world_model) / "config.json"
    if wm_cfg.exists():
        val_fraction = float(json.loads(wm_cfg.read_text()).get("val_fraction", val_fraction))
    sampler = WindowSampler(store, wm.cfg.image_size, val_fraction)
    act = store.meta.get("action", {})
    dim = store.action_dim
    image_size = int(store.image_shape[0])
    meta = {"data": cfg.data, "image_size": image_size, "action_names": act.get("names"),
            "world_model": cfg.world_model, "rssm_source": cfg.rssm}
    if store.meta.get("source") == "pusht":  # Go2 datasets act with cmd_vel, not Push-T targets
        action = PushTAction.from_store_meta(store.meta)
        meta["pusht_action"] = action.to_meta()
    return Setting(
        DiffusionGlobalModel(wm, sampler, cfg.num_envs, device, cfg.seed),
        RSSMLocalModel(rssm, cfg.swap),
        dim,
        tuple(float(x) for x in act.get("low", [-1.0] * dim)),
        tuple(float(x) for x in act.get("high", [1.0] * dim)),
        SequenceReplay(cfg.replay_capacity),
        action,
        meta=meta,
        bf16=use_bf16(cfg.global_precision, device),
        sampler=sampler,
        image_size=image_size,
        real_samples_offline=int(sum(store.episode_lengths[i] for i in sampler.train_episodes)),
    )
