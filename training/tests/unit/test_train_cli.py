"""fog_training.train_cli: ``--preset NAME`` picks a config's defaults, the other flags override its
fields, a bare ``--resume`` anywhere means ``--resume require`` (parse_with_presets), and on resume
a checkpoint's model architecture replaces the preset's (override_model_config). The trainers' own
configs are parsed in test_run_config.py; here a small config shows the plumbing itself."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest
from fog_training.train_cli import override_model_config, parse_with_presets


@dataclasses.dataclass
class Model:
    width: int = 8
    depth: int = 2


@dataclasses.dataclass
class Cfg:
    steps: int = 10
    resume: Literal["auto", "require", "never"] = "auto"
    model: Model = dataclasses.field(default_factory=Model)


PRESETS = {
    "small": lambda: Cfg(steps=5),
    "big": lambda: Cfg(steps=500, model=Model(width=64, depth=6)),
}


def parse(argv: list[str]) -> Cfg:
    return parse_with_presets(Cfg, PRESETS, argv, "fog test", "A test trainer.")


def test_default_preset_is_the_first_one():
    assert parse([]) == Cfg(steps=5), "no --preset: the first preset ('small') gives the defaults"


def test_named_preset_gives_its_defaults():
    assert parse(["--preset", "big"]) == Cfg(steps=500, model=Model(64, 6))


def test_flags_override_the_preset_in_any_position():
    cfg = parse(["--steps", "7", "--preset", "big", "--model.depth", "3"])
    assert cfg == Cfg(steps=7, model=Model(width=64, depth=3)), "--preset may come after other flags"


def test_unknown_preset_is_refused_naming_the_choices(capsys):
    with pytest.raises(SystemExit):
        parse(["--preset", "huge"])
    err = capsys.readouterr().err
    assert "huge" in err and "big" in err and "small" in err, f"error should name the value and choices: {err}"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--resume"], "require"),
        (["--resume", "--steps", "3"], "require"),
        (["--steps", "3", "--resume"], "require"),
        (["--resume", "never"], "never"),
        (["--resume", "auto"], "auto"),
        (["--resume", "require", "--steps", "3"], "require"),
    ],
)
def test_bare_resume_means_require(argv, expected):
    cfg = parse(argv)
    assert cfg.resume == expected, f"{argv} should give resume={expected!r}"
    if "--steps" in argv:
        assert cfg.steps == 3, "the flag after a bare --resume is still parsed"


def test_unknown_field_is_refused(capsys):
    with pytest.raises(SystemExit):
        parse(["--no-such-field", "1"])
    assert "no-such-field" in capsys.readouterr().err


def test_help_lists_the_presets_and_the_chosen_one(capsys):
    with pytest.raises(SystemExit) as e:
        parse(["--preset", "big", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "fog test" in out and "Presets: small, big" in out and "default small; now: big" in out


def test_presets_are_built_fresh_for_each_parse():
    a, b = parse(["--model.width", "3"]), parse([])
    assert a.model.width == 3 and b.model.width == 8, "an override must not leak into the next parse"


# ---- override_model_config


def from_dict(cls, d):
    return cls(**d)


def test_checkpoint_model_replaces_the_preset_model():
    cfg = Cfg(steps=9, model=Model(8, 2))
    override_model_config(cfg, {"model": {"width": 32, "depth": 4}, "steps": 1}, Model, from_dict)
    assert cfg.model == Model(32, 4), "the checkpoint's architecture wins"
    assert cfg.steps == 9, "only the model is taken from the checkpoint"


@pytest.mark.parametrize("saved", [None, {}, {"steps": 1}])
def test_without_a_saved_model_the_config_is_kept(saved):
    cfg = Cfg(model=Model(8, 2))
    override_model_config(cfg, saved, Model, from_dict)
    assert cfg == Cfg(model=Model(8, 2))
