"""The trainers' YAML presets (fog_training/presets/*.yaml, read by fog_training.presets.load_presets)."""

from __future__ import annotations

import importlib

import pytest
from fog_training.presets import FOLDER, load_presets

TRAINERS = {  # preset file -> (the module that reads it, its config class)
    "fog_trainer": ("fog_training.fog_trainer", "FoGConfig"),
    "ppo_world_model": ("fog_training.baselines.ppo_world_model", "PPOWorldModelConfig"),
    "sb3_ppo": ("fog_training.baselines.sb3_ppo", "SB3PPOConfig"),
    "train_rssm": ("fog_training.train_rssm", "RSSMTrainConfig"),
    "train_world_model": ("fog_training.train_world_model", "WorldModelTrainConfig"),
    "bench_pusht": ("fog_training.bench_pusht", "BenchConfig"),
}


def test_every_preset_file_belongs_to_a_trainer_and_every_preset_builds():
    assert {p.stem for p in FOLDER.glob("*.yaml")} == set(TRAINERS)
    for module, cls_name in TRAINERS.values():
        mod = importlib.import_module(module)
        cls = getattr(mod, cls_name)
        assert mod.PRESETS and all(isinstance(build(), cls) for build in mod.PRESETS.values()), module
        assert "debug" in mod.PRESETS, f"{module}: the tests' preset"


def test_the_figures_the_benchmarks_quote():
    from fog_training import bench_pusht, fog_trainer, train_world_model
    from fog_training.baselines import ppo_world_model

    fog = fog_trainer.PRESETS
    assert next(iter(fog)) == "goal-cpu"  # the default --preset: the first in the file
    cpu = fog["cpu"]()
    assert (cpu.num_envs, cpu.horizon, cpu.sample_budget, cpu.threads) == (32, 16, 40_960, 2)
    assert cpu.actor_hidden == tuple(cpu.actor_hidden)  # lists in YAML become the config's tuples
    assert fog["gpu"]().sample_budget == 8_000_000 and fog["dmo-cpu"]().mode == "pusht_state"
    ppo = ppo_world_model.PRESETS["cpu"]()
    assert (ppo.num_envs, ppo.rollout_steps, ppo.sample_budget) == (32, 16, 40_960)
    wm = train_world_model.PRESETS["cpu"]()
    assert wm.model.inner.block_out_channels == (16, 32, 64, 64) and wm.model.edm.residual
    assert wm.model.image_size == 64 and wm.loop.time_limit_min == 36.0
    assert bench_pusht.PRESETS["cpu"]() == bench_pusht.BenchConfig()  # the config's defaults


def test_a_preset_field_that_does_not_exist_is_refused(tmp_path, monkeypatch):
    from fog_training import presets
    from fog_training.fog_trainer import FoGConfig

    monkeypatch.setattr(presets, "FOLDER", tmp_path)
    (tmp_path / "x.yaml").write_text("fast:\n  num_envs: 8\n  horizn: 4\n")
    with pytest.raises(ValueError, match="unknown fields for FoGConfig: \\['horizn'\\]"):
        load_presets("x", FoGConfig)["fast"]()
    (tmp_path / "y.yaml").write_text("- just a list\n")
    with pytest.raises(ValueError, match="expected a map of preset names"):
        load_presets("y", FoGConfig)
