"""Saving and loading the world models (and anything else holding tensors) without half-written files.

A model folder holds ``model.safetensors`` (the weights; the format name in its metadata) and
``config.json`` (``{"format": ..., "config": the dataclass config as a dict}``). Every file is
written to a temporary name and renamed into place, so a run killed while saving leaves the old
file or the new one, never a torn one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from fog_worldmodel.config_io import config_from_dict, config_to_dict

M = TypeVar("M", bound=nn.Module)


def save_safetensors_atomic(
    tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None
) -> None:
    """Write a safetensors file via a temporary file and an atomic rename."""
    from safetensors.torch import save_file

    path = Path(path)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file via a temporary file and an atomic rename."""
    path = Path(path)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_model_folder(model: nn.Module, config, directory: str | Path, fmt: str) -> None:
    """``model.safetensors`` + ``config.json`` in ``directory`` (created if needed)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    save_safetensors_atomic(model.state_dict(), d / "model.safetensors", {"format": fmt})
    write_text_atomic(d / "config.json", json.dumps({"format": fmt, "config": config_to_dict(config)}, indent=2))


def load_model_folder(
    cls: type[M], config_cls: type, directory: str | Path, fmt: str, map_location: str | torch.device = "cpu"
) -> M:
    """The model a :func:`save_model_folder` wrote, in eval mode on ``map_location``; ValueError if the
    folder holds another format."""
    from safetensors.torch import load_file

    d = Path(directory)
    info = json.loads((d / "config.json").read_text())
    if info.get("format") != fmt:
        raise ValueError(f"{d} holds {info.get('format')!r}, not a {fmt} model")
    model = cls(config_from_dict(config_cls, info["config"]))
    model.load_state_dict(load_file(str(d / "model.safetensors"), device=str(map_location)))
    return model.to(map_location).eval()
