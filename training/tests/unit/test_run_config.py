"""fog_training.run_config: the shared run settings are inherited, not nested, by every trainer's
config, so each keeps RunConfig's / PolicyEvalConfig's / ModelRunConfig's defaults, the command line
keeps flat flags (``--seed 3``) and a saved config.json keeps flat keys that load back."""

from __future__ import annotations

import dataclasses
import json

import pytest
from fog_training import fog_trainer, train_rssm, train_world_model
from fog_training.baselines import ppo_world_model
from fog_training.run_config import ModelRunConfig, PolicyEvalConfig, RunConfig
from fog_training.train_cli import parse_with_presets
from fog_training.train_loop import LoopConfig
from fog_worldmodel.config_io import config_from_dict, config_to_dict

POLICY_TRAINERS = [fog_trainer.FoGConfig, ppo_world_model.PPOWorldModelConfig]
MODEL_TRAINERS = [train_world_model.WorldModelTrainConfig, train_rssm.RSSMTrainConfig]


def defaults(cls) -> dict:
    return {f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("cls", POLICY_TRAINERS, ids=lambda c: c.__name__)
def test_policy_trainers_inherit_the_run_and_eval_fields_with_their_defaults(cls):
    assert issubclass(cls, RunConfig) and issubclass(cls, PolicyEvalConfig)
    trainer = defaults(cls)
    for base in (RunConfig, PolicyEvalConfig):
        for name, value in defaults(base).items():
            assert trainer[name] == value, f"{cls.__name__}.{name}: {trainer[name]!r}, {base.__name__} says {value!r}"


@pytest.mark.parametrize("cls", MODEL_TRAINERS, ids=lambda c: c.__name__)
def test_model_trainers_inherit_the_model_run_fields_with_their_defaults(cls):
    assert issubclass(cls, ModelRunConfig)
    trainer = defaults(cls)
    for name, value in defaults(ModelRunConfig).items():
        assert trainer[name] == value, f"{cls.__name__}.{name}: {trainer[name]!r}, ModelRunConfig says {value!r}"
    assert isinstance(trainer["loop"], LoopConfig), "the optimisation loop is the one nested group"


def test_shared_defaults():
    run = RunConfig()
    assert (run.seed, run.threads, run.device, run.progress, run.time_limit_min, run.resume) == (
        0, 0, "auto", True, 0.0, "auto"
    )
    assert PolicyEvalConfig().eval_episodes == 0 and PolicyEvalConfig().checkpoint_every == 20
    model = ModelRunConfig()
    assert model.val_fraction == 0.05 and model.resume == "auto" and model.loop == LoopConfig()
    assert ModelRunConfig().loop is not model.loop, "each config gets its own LoopConfig"


def test_policy_trainer_flags_are_flat():
    cfg = parse_with_presets(
        fog_trainer.FoGConfig, fog_trainer.PRESETS,
        ["--seed", "3", "--threads", "2", "--device", "cpu", "--time-limit-min", "1.5", "--resume", "never",
         "--eval-episodes", "4", "--snapshots"],
        "fog train policy", "",
    )
    assert (cfg.seed, cfg.threads, cfg.device, cfg.time_limit_min, cfg.resume) == (3, 2, "cpu", 1.5, "never")
    assert cfg.eval_episodes == 4 and cfg.snapshots is True


def test_model_trainer_flags_are_flat_except_the_loop():
    cfg = parse_with_presets(
        train_rssm.RSSMTrainConfig, train_rssm.PRESETS,
        ["--data", "d.zarr", "--out", "runs/r", "--val-fraction", "0.2", "--loop.steps", "7", "--resume"],
        "fog train rssm", "",
    )
    assert (cfg.data, cfg.out, cfg.val_fraction, cfg.loop.steps) == ("d.zarr", "runs/r", 0.2, 7)
    assert cfg.resume == "require", "a bare --resume means require"


def test_an_unknown_resume_policy_is_refused(capsys):
    with pytest.raises(SystemExit):
        parse_with_presets(
            ppo_world_model.PPOWorldModelConfig, ppo_world_model.PRESETS, ["--resume", "maybe"], "prog", ""
        )
    assert "maybe" in capsys.readouterr().err, "the refused value is named"


@pytest.mark.parametrize("cls", POLICY_TRAINERS + MODEL_TRAINERS, ids=lambda c: c.__name__)
def test_saved_config_keeps_flat_keys_and_loads_back(cls):
    cfg = cls(resume="never")
    if isinstance(cfg, RunConfig):
        cfg.seed, cfg.threads, cfg.eval_every_samples = 5, 1, 1000
        flat = {"seed", "threads", "device", "progress", "time_limit_min", "resume", "eval_every_samples",
                "eval_episodes", "eval_max_steps", "checkpoint_every", "snapshots"}
    else:
        cfg.data, cfg.val_fraction = "d.zarr", 0.25
        flat = {"data", "out", "loop", "val_fraction", "resume"}
    saved = json.loads(json.dumps(config_to_dict(cfg)))
    assert flat <= set(saved), f"missing top-level keys in config.json: {sorted(flat - set(saved))}"
    assert "run" not in saved and "eval" not in saved, "no nested group for the shared settings"
    assert config_from_dict(cls, saved) == cfg, "config.json loads back to the same config"
