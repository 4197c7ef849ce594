"""``fog train world-model``: train the global diffusion world model (denoiser + reward/termination head).

Examples::

    fog train world-model --data data/pusht.zarr --out runs/pusht/global --preset cpu
    fog train world-model --data data/pusht.zarr --out runs/pusht/global --resume     # continue a killed run
    fog train world-model --data data/synth.zarr --out /tmp/wm --preset debug --loop.steps 50
    accelerate launch -m fog_training.train_world_model --data ... --out ... --preset gpu

A run directory that already has a checkpoint is resumed automatically (same step count, same
random streams); the model architecture is then the checkpoint's. The inference model is exported
to ``RUN_DIR/model`` (load with ``GlobalWorldModel.from_pretrained``) at every checkpoint.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from fog_worldmodel.config_io import config_from_dict, config_to_dict
from fog_worldmodel.global_world_model import GlobalWorldModel, GlobalWorldModelConfig

from fog_training.presets import load_presets
from fog_training.run_config import ModelRunConfig
from fog_training.train_cli import override_model_config, parse_with_presets
from fog_training.train_loop import read_checkpoint_config, train


@dataclass
class WorldModelTrainConfig(ModelRunConfig):
    model: GlobalWorldModelConfig = field(default_factory=GlobalWorldModelConfig)
    """Model architecture (action_dim is taken from the dataset)."""
    head_batch_size: int = 8
    """Sequences per step for the reward/termination head."""
    head_seq_len: int = 12
    """Frames per head sequence (head_seq_len - 1 transitions through the GRU)."""
    auto_sigma_data: bool = False
    """Fresh runs: set model.edm.sigma_data to the std of the denoising target (the change from the last
    frame when residual, else the frame) measured on 512 training windows; recorded in config.json."""


PRESETS = load_presets("train_world_model", WorldModelTrainConfig)
"""--preset NAME: fog_training/presets/train_world_model.yaml."""


def make_batch_fn(model_cfg: GlobalWorldModelConfig, sampler, cfg: WorldModelTrainConfig):
    L = model_cfg.context_length

    def sample_batch(rng: np.random.Generator) -> dict[str, np.ndarray]:
        w = sampler.sample(rng, cfg.loop.batch_size, L + 1)
        h = sampler.sample(rng, cfg.head_batch_size, cfg.head_seq_len)
        return {
            "frames": w["image"],
            "actions": w["action"],
            "head_frames": h["image"],
            "head_actions": h["action"],
            "head_reward": h["reward"],
            "head_is_terminal": h["is_terminal"],
        }

    return sample_batch


def measure_sigma_data(sampler, residual: bool, windows: int = 512, seed: int = 12345) -> float:
    """Std of what the denoiser regresses (frames in [-1, 1]): the next frame, or its change from the last."""
    w = sampler.sample(np.random.default_rng(seed), windows, 2)
    x = w["image"].astype(np.float32) / 127.5 - 1.0
    target = x[:, 1] - x[:, 0] if residual else x[:, 1]
    return round(float(max(target.std(), 1e-3)), 4)


def run(cfg: WorldModelTrainConfig) -> dict:
    from fog_training.data.episode_store import EpisodeStore
    from fog_training.window_sampler import WindowSampler

    if not cfg.data or not cfg.out:
        raise SystemExit("--data and --out are required")
    store = EpisodeStore(cfg.data)
    if cfg.resume != "never":
        override_model_config(cfg, read_checkpoint_config(cfg.out), GlobalWorldModelConfig, config_from_dict)
    if cfg.model.action_dim != store.action_dim:
        cfg.model.action_dim = store.action_dim
    sampler = WindowSampler(store, cfg.model.image_size, cfg.val_fraction)
    fresh = not (Path(cfg.out) / "checkpoint.safetensors").exists()
    if cfg.auto_sigma_data and fresh:
        cfg.model.edm.sigma_data = measure_sigma_data(sampler, cfg.model.edm.residual)
        print(f"[world-model] sigma_data measured on the training windows: {cfg.model.edm.sigma_data:.4f}")
    torch.manual_seed(cfg.loop.seed)  # the initial weights are part of the run's reproducibility
    model = GlobalWorldModel(cfg.model)
    model.set_normalization(store.normalization)
    config = config_to_dict(cfg)
    config["data_meta"] = {
        "source": store.meta.get("source"),
        "episodes": store.num_episodes,
        "steps": store.num_steps,
        "val_episodes": sampler.val_episodes,
    }
    return train(model, make_batch_fn(cfg.model, sampler, cfg), cfg.loop, cfg.out, config, resume=cfg.resume)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cfg = parse_with_presets(WorldModelTrainConfig, PRESETS, argv, "fog train world-model", __doc__)
    run(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
