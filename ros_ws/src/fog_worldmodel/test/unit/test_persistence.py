"""fog_worldmodel.persistence: model folders round-trip, refuse another format, leave no torn file."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch
from fog_worldmodel.persistence import load_model_folder, save_model_folder, write_text_atomic
from torch import nn


@dataclass
class TinyConfig:
    width: int = 3
    scale: tuple[float, ...] = (1.0,)


class Tiny(nn.Module):
    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.lin = nn.Linear(cfg.width, 2)


def test_round_trip_with_the_config_that_built_it(tmp_path):
    torch.manual_seed(0)
    model = Tiny(TinyConfig(width=5, scale=(0.5, 2.0)))
    save_model_folder(model, model.cfg, tmp_path / "m", "test.Tiny/1")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["config.json", "model.safetensors"]
    back = load_model_folder(Tiny, TinyConfig, tmp_path / "m", "test.Tiny/1")
    assert back.cfg == TinyConfig(width=5, scale=(0.5, 2.0)) and not back.training
    x = torch.randn(4, 5)
    torch.testing.assert_close(back.lin(x), model.lin(x))


def test_another_format_is_refused_by_name(tmp_path):
    model = Tiny(TinyConfig())
    save_model_folder(model, model.cfg, tmp_path, "test.Tiny/1")
    with pytest.raises(ValueError, match="holds 'test.Tiny/1', not a test.Tiny/2 model"):
        load_model_folder(Tiny, TinyConfig, tmp_path, "test.Tiny/2")


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    write_text_atomic(path, json.dumps({"v": 1}))

    def torn(self, text):  # the process dies after writing half of the temporary file
        open(self, "w").write(text[: len(text) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr("pathlib.Path.write_text", torn)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomic(path, json.dumps({"v": 2, "pad": "x" * 100}))
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"v": 1}
