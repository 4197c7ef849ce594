"""``fog train rssm``: train the local latent world model (RSSM) on real windows.

Examples::

    fog train rssm --data data/pusht.zarr --out runs/pusht/rssm --preset cpu
    fog train rssm --data data/pusht.zarr --out runs/pusht/rssm --resume
    fog train rssm --data data/synth.zarr --out /tmp/rssm --preset debug

Same loop, checkpointing and resume behaviour as ``fog train world-model``; the model is exported
to ``RUN_DIR/model`` (load with ``RSSM.from_pretrained``).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np
import torch
from fog_worldmodel.config_io import config_from_dict, config_to_dict
from fog_worldmodel.rssm import RSSM, RSSMConfig

from fog_training.presets import load_presets
from fog_training.run_config import ModelRunConfig
from fog_training.train_cli import override_model_config, parse_with_presets
from fog_training.train_loop import read_checkpoint_config, train


@dataclass
class RSSMTrainConfig(ModelRunConfig):
    model: RSSMConfig = field(default_factory=RSSMConfig)
    """Model architecture (action_dim is taken from the dataset)."""
    seq_len: int = 32
    """Steps per training sequence."""


PRESETS = load_presets("train_rssm", RSSMTrainConfig)
"""--preset NAME: fog_training/presets/train_rssm.yaml."""


def run(cfg: RSSMTrainConfig) -> dict:
    from fog_training.data.episode_store import EpisodeStore
    from fog_training.window_sampler import WindowSampler

    if not cfg.data or not cfg.out:
        raise SystemExit("--data and --out are required")
    store = EpisodeStore(cfg.data)
    if cfg.resume != "never":
        override_model_config(cfg, read_checkpoint_config(cfg.out), RSSMConfig, config_from_dict)
    cfg.model.action_dim = store.action_dim
    sampler = WindowSampler(store, cfg.model.image_size, cfg.val_fraction)
    seq_len = min(cfg.seq_len, int(max(store.episode_lengths[i] for i in sampler.train_episodes)))
    torch.manual_seed(cfg.loop.seed)  # the initial weights are part of the run's reproducibility
    model = RSSM(cfg.model)
    model.set_normalization(store.normalization)

    def sample_batch(rng: np.random.Generator) -> dict[str, np.ndarray]:
        w = sampler.sample(rng, cfg.loop.batch_size, seq_len)
        return {k: w[k] for k in ("image", "action", "reward", "is_first", "is_terminal")}

    config = config_to_dict(cfg)
    config["data_meta"] = {
        "source": store.meta.get("source"),
        "episodes": store.num_episodes,
        "steps": store.num_steps,
        "val_episodes": sampler.val_episodes,
    }
    return train(model, sample_batch, cfg.loop, cfg.out, config, resume=cfg.resume)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    cfg = parse_with_presets(RSSMTrainConfig, PRESETS, argv, "fog train rssm", __doc__)
    run(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
