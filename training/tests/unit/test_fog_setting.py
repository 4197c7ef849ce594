"""fog_training.fog_setting.make_setting: what each FoG mode trains in (global and local model,
action space and bounds, replay capacity, run metadata): the two DMO settings, the world_model
setting on a tiny store with tiny saved world models (split read from the world model's
config.json, bounds and Push-T encoding from the store's meta), and the refusal of an incomplete
world_model setting."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from fog_training.data.episode_writer import EpisodeWriter
from fog_training.fog_setting import make_setting
from fog_training.fog_trainer import FoGConfig
from fog_training.global_models import DiffusionGlobalModel
from fog_training.local_models import MLPLocalModel, RSSMLocalModel
from fog_training.point_mass_env import PointMassSimulator
from fog_training.pusht_state_env import PushTStateSimulator
from fog_worldmodel.diffusion_sampler import SamplerConfig
from fog_worldmodel.global_world_model import GlobalWorldModel, GlobalWorldModelConfig
from fog_worldmodel.reward_termination_head import RewardTerminationConfig
from fog_worldmodel.rssm import RSSM, RSSMConfig
from fog_worldmodel.unet_inner_model import InnerModelConfig

CPU = torch.device("cpu")
LENGTHS = [6, 7, 8, 9]  # episode lengths of the tiny stores


def dmo(mode: str, **kw) -> FoGConfig:
    return FoGConfig(mode=mode, num_envs=2, local_hidden=(8, 8), replay_capacity=3, **kw)


def test_point_mass_setting():
    s = make_setting(dmo("point_mass"), CPU)
    assert isinstance(s.global_model, PointMassSimulator) and s.global_model.num_envs == 2
    assert isinstance(s.local, MLPLocalModel) and s.local.feat_dim == 4, "the MLP local model on the 4-D state"
    assert s.action_dim == 2 and s.low == (-1.0, -1.0) and s.high == (1.0, 1.0)
    assert s.replay.capacity == 3000, "DMO replays transitions: replay_capacity x 1000"
    assert s.meta == {"env": "2-D point mass (fog_training.point_mass_env)", "state_dim": 4}
    assert s.sampler is None and s.image_size is None and s.real_samples_offline == 0 and s.bf16 is False


def test_pusht_state_setting_records_its_action_encoding():
    s = make_setting(dmo("pusht_state", pusht_action_encoding="relative", pusht_action_scale_px=25.0), CPU)
    assert isinstance(s.global_model, PushTStateSimulator) and s.global_model.num_envs == 2
    assert s.global_model.action_encoding is s.pusht_action, "the simulator acts with the run's encoding"
    assert s.action_dim == 2 and s.replay.capacity == 3000 and isinstance(s.local, MLPLocalModel)
    assert s.meta["pusht_action"] == s.pusht_action.to_meta()
    assert s.meta["pusht_action"]["encoding"] == "relative" and s.meta["pusht_action"]["scale_px"] == 25.0
    assert s.meta["state_dim"] == s.local.feat_dim


@pytest.mark.parametrize("missing", ["data", "world_model", "rssm"])
def test_world_model_mode_needs_data_and_both_models(missing):
    paths = {"data": "d.zarr", "world_model": "wm", "rssm": "rssm"} | {missing: ""}
    with pytest.raises(SystemExit, match="world_model mode needs --data, --world-model and --rssm"):
        make_setting(FoGConfig(mode="world_model", **paths), CPU)


# ---- world_model mode on tiny saved models


def write_store(path: Path, meta: dict, action_dim: int, size: int = 24) -> Path:
    rng = np.random.default_rng(0)
    with EpisodeWriter(path, meta, image_shape=(size, size), action_dim=action_dim, proprio_dim=2) as w:
        for t in LENGTHS:
            w.add_episode(
                image=rng.integers(0, 256, (t, size, size, 3), dtype=np.uint8),
                action=rng.uniform(-1, 1, (t, action_dim)).astype(np.float32),
                proprio=np.zeros((t, 2), np.float32),
                reward=rng.normal(size=t).astype(np.float32),
            )
    return path


def write_models(root: Path, action_dim: int, val_fraction: float | None) -> tuple[Path, Path]:
    torch.manual_seed(0)
    wm = GlobalWorldModel(
        GlobalWorldModelConfig(
            image_size=16,
            action_dim=action_dim,
            inner=InnerModelConfig(
                block_out_channels=(8, 16), attention_levels=(False, False), cond_channels=16, norm_num_groups=4
            ),
            head=RewardTerminationConfig(channels=(8, 8), embed_dim=16, hidden_dim=16),
            sampler=SamplerConfig(num_steps=1),
        )
    )
    wm.save_pretrained(root / "wm" / "model")
    if val_fraction is not None:
        (root / "wm" / "config.json").write_text(json.dumps({"val_fraction": val_fraction}))
    rssm = RSSM(RSSMConfig(image_size=16, action_dim=action_dim, deter=16, stoch=4, classes=4, hidden=16,
                           cnn_depth=4, decoder_depth=4, reward_bins=15))
    rssm.eval().save_pretrained(root / "rssm" / "model")
    return root / "wm", root / "rssm"


def image_cfg(store: Path, wm: Path, rssm: Path) -> FoGConfig:
    return FoGConfig(mode="world_model", data=str(store), world_model=str(wm), rssm=str(rssm), num_envs=2,
                     replay_capacity=5, global_precision="fp32", seed=3)


def test_pusht_store_setting_takes_split_bounds_and_encoding_from_the_store_and_the_world_model(tmp_path):
    action = {"names": ["target_dx", "target_dy"], "encoding": "relative", "scale_px": 40.0,
              "low": [-2.0, -3.0], "high": [2.0, 3.0]}
    store = write_store(tmp_path / "pusht.zarr", {"source": "pusht", "action": action}, action_dim=2)
    wm, rssm = write_models(tmp_path, 2, val_fraction=0.5)
    cfg = image_cfg(store, wm, rssm)
    s = make_setting(cfg, CPU)

    assert isinstance(s.global_model, DiffusionGlobalModel) and s.global_model.num_envs == 2
    assert s.sampler is s.global_model.sampler, "the contexts come from the setting's sampler"
    assert s.sampler.train_episodes == [0, 1], "val_fraction 0.5 from the world model's config.json: 2 of 4 held out"
    assert s.real_samples_offline == LENGTHS[0] + LENGTHS[1], f"training episodes' steps, got {s.real_samples_offline}"
    assert isinstance(s.local, RSSMLocalModel) and s.local.rssm.training, "the RSSM is refreshed: train mode"
    assert s.action_dim == 2 and s.low == (-2.0, -3.0) and s.high == (2.0, 3.0), f"bounds {s.low} {s.high}"
    assert s.replay.capacity == 5, "image runs replay sequences: replay_capacity as given"
    assert s.image_size == 24, "the store's image size (the world model samples at its own 16)"
    assert s.bf16 is False, "global_precision fp32"
    assert s.pusht_action.relative and s.pusht_action.scale_px == 40.0, "Push-T stores define the encoding"
    assert s.meta == {
        "data": str(store), "image_size": 24, "action_names": ["target_dx", "target_dy"], "world_model": str(wm),
        "rssm_source": str(rssm), "pusht_action": s.pusht_action.to_meta(),
    }, f"got {s.meta}"


def test_go2_store_without_bounds_or_run_config_uses_defaults(tmp_path):
    store = write_store(tmp_path / "go2.zarr", {"source": "go2", "action": {"names": ["vx", "vy", "wz"]}}, 3)
    wm, rssm = write_models(tmp_path, 3, val_fraction=None)  # no config.json beside the world model
    cfg = image_cfg(store, wm, rssm)
    cfg.pusht_action_encoding = "absolute"
    s = make_setting(cfg, CPU)
    assert s.sampler.train_episodes == [0, 1, 2], "default val_fraction 0.05: the last of 4 episodes held out"
    assert s.real_samples_offline == sum(LENGTHS[:3])
    assert s.action_dim == 3 and s.low == (-1.0,) * 3 and s.high == (1.0,) * 3, "bounds default to [-1, 1]"
    assert "pusht_action" not in s.meta, "a Go2 store acts with cmd_vel: no Push-T encoding recorded"
    assert not s.pusht_action.relative, "the run's own (absolute) encoding is kept, unused"
