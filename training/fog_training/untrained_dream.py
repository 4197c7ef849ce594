"""A tiny, untrained cmd_vel world model and its dataset, for tests of the dream backend (seconds, CPU).

``make_untrained_world_model(dir)`` writes, like the goal pipeline would:

  dir/data.zarr      a small episode store in the Go2 cmd_vel layout (actions vx, vy, yaw_rate with
                     the goal task's bounds, 5 Hz, camera_info): a pattern that shifts with the
                     command, and terminal last steps;
  dir/global/        a `fog train world-model` run folder: config.json (naming the store) and
                     model/ (an untrained, seeded GlobalWorldModel, weights perturbed so that every
                     layer, the zero-initialised ones too, reacts to its inputs and actions);

and with ``bundle=True`` exports ``dir/bundle`` with `fog export-dream`'s code. Nothing here is a
trained model: tests use it for the machinery (rates, topics, determinism, files), not quality.

    python -m fog_training.untrained_dream /tmp/dream     (prints the folders)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from fog_worldmodel.diffusion_sampler import SamplerConfig
from fog_worldmodel.global_world_model import GlobalWorldModel, GlobalWorldModelConfig
from fog_worldmodel.reward_termination_head import RewardTerminationConfig
from fog_worldmodel.unet_inner_model import InnerModelConfig

LOW, HIGH = [-0.2, -0.25, -0.8], [0.5, 0.25, 0.8]


def make_cmd_vel_store(path: Path, episodes: int = 3, steps: int = 12, size: int = 16, seed: int = 0):
    from fog_training.data.episode_store import EpisodeStore
    from fog_training.data.episode_writer import EpisodeWriter

    rng = np.random.default_rng(seed)
    meta = {
        "source": "synthetic-cmd_vel",
        "policy_rate_hz": 5.0,
        "action": {"names": ["vx", "vy", "yaw_rate"], "low": LOW, "high": HIGH},
        "proprio": {"names": ["gravity.x", "gravity.y", "gravity.z"]},
        "camera_info": {"width": 64, "height": 64, "k": [38.1, 0.0, 31.5, 0.0, 38.1, 31.5, 0.0, 0.0, 1.0]},
        "reward_source": "synthetic: reward[t] = vx[t]",
        "created_by": "fog_training.untrained_dream",
    }
    y, x = np.mgrid[0:size, 0:size]
    with EpisodeWriter(path, meta, image_shape=(size, size), action_dim=3, proprio_dim=3, overwrite=True) as w:
        for _ in range(episodes):
            act = rng.uniform(LOW, HIGH, (steps, 3)).astype(np.float32)
            pos = np.cumsum(act[:, 2] * 8 + act[:, 0] * 4)
            img = np.empty((steps, size, size, 3), np.uint8)
            for t in range(steps):
                img[t, ..., 0] = (8 * x + pos[t]).astype(int) % 256
                img[t, ..., 1] = (8 * y).astype(int) % 256
                img[t, ..., 2] = 40 + 10 * t
            term = np.zeros(steps, bool)
            term[-1] = True
            w.add_episode(image=img, action=act, proprio=np.tile([0.0, 0.0, -1.0], (steps, 1)).astype(np.float32),
                          reward=act[:, 0].copy(), is_terminal=term)
    return EpisodeStore(path)


def tiny_config(size: int = 16) -> GlobalWorldModelConfig:
    return GlobalWorldModelConfig(
        image_size=size,
        context_length=4,
        action_dim=3,
        inner=InnerModelConfig(
            block_out_channels=(8, 16), attention_levels=(False, False), cond_channels=16, norm_num_groups=4
        ),
        sampler=SamplerConfig(num_steps=1),
        head=RewardTerminationConfig(channels=(8, 8), embed_dim=16, hidden_dim=16),
    )


def make_untrained_world_model(out: str | Path, seed: int = 0, size: int = 16, bundle: bool = False) -> dict:
    """Write the store, the run (and the bundle); returns their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store = make_cmd_vel_store(out / "data.zarr", size=size, seed=seed)
    torch.manual_seed(seed)
    model = GlobalWorldModel(tiny_config(size))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.set_normalization(store.normalization)
    run = out / "global"
    model.save_pretrained(run / "model")
    (run / "config.json").write_text(json.dumps({"data": str(out / "data.zarr"), "untrained": True, "seed": seed}))
    paths = {"data": out / "data.zarr", "run": run, "model": run / "model"}
    if bundle:
        from fog_training.dream_export import export_dream

        export_dream(run, out / "bundle", starts=3, check_steps=4, argv=["(untrained_dream)"])
        paths["bundle"] = out / "bundle"
    return paths


def main(argv=None) -> int:
    out = (argv if argv is not None else sys.argv[1:]) or ["untrained_dream"]
    paths = make_untrained_world_model(out[0], bundle=True)
    print(json.dumps({k: str(v) for k, v in paths.items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
