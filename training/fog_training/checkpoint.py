"""Training checkpoints: one safetensors file with everything needed to resume.

``RUN_DIR/checkpoint.safetensors`` holds tensors ``model/<name>`` (the trainable part's state
dict), ``optim/<param index>/<key>`` (optimizer tensors such as Adam moments) and
``rng/torch`` (the CPU torch generator state), and string metadata: ``step``, ``config`` (the run's
full config, JSON), ``optim`` (param groups and non-tensor state, JSON), ``scheduler``,
``numpy_rng`` (the batch sampler's generator) and ``format``. It is written to a temporary file,
fsynced and renamed over the old one, so a run killed at any moment leaves either the previous or
the new checkpoint, never a torn one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

FORMAT = "fog_training.checkpoint/1"
CHECKPOINT_NAME = "checkpoint.safetensors"


@dataclass
class Checkpoint:
    step: int
    config: dict[str, Any]
    model_state: dict[str, torch.Tensor]
    optim_state: dict[str, Any]
    scheduler_state: dict[str, Any]
    numpy_rng: dict[str, Any]
    torch_rng: torch.Tensor


def checkpoint_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT_NAME


def save_checkpoint(
    path: str | Path,
    *,
    step: int,
    config: dict[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    numpy_rng: np.random.Generator,
) -> None:
    from safetensors.torch import save_file

    path = Path(path)
    tensors: dict[str, torch.Tensor] = {
        f"model/{k}": v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()
    }
    osd = optimizer.state_dict()
    plain_state: dict[str, dict[str, Any]] = {}
    for pid, st in osd["state"].items():
        for k, v in st.items():
            if isinstance(v, torch.Tensor):
                tensors[f"optim/{pid}/{k}"] = v.detach().cpu().contiguous().clone()
            else:
                plain_state.setdefault(str(pid), {})[k] = v
    tensors["rng/torch"] = torch.get_rng_state()
    meta = {
        "format": FORMAT,
        "step": str(int(step)),
        "config": json.dumps(config),
        "optim": json.dumps({"param_groups": osd["param_groups"], "plain_state": plain_state}),
        "scheduler": json.dumps(scheduler.state_dict() if scheduler is not None else {}),
        "numpy_rng": json.dumps(numpy_rng.bit_generator.state),
    }
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    save_file(tensors, str(tmp), metadata=meta)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_checkpoint(path: str | Path) -> Checkpoint:
    from safetensors import safe_open

    path = Path(path)
    with safe_open(str(path), framework="pt", device="cpu") as f:
        meta = f.metadata() or {}
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path} is not a {FORMAT} checkpoint (format {meta.get('format')!r})")
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    optim = json.loads(meta["optim"])
    state: dict[int, dict[str, Any]] = {}
    for k, v in tensors.items():
        if k.startswith("optim/"):
            _, pid, name = k.split("/", 2)
            state.setdefault(int(pid), {})[name] = v
    for pid, st in optim["plain_state"].items():
        state.setdefault(int(pid), {}).update(st)
    return Checkpoint(
        step=int(meta["step"]),
        config=json.loads(meta["config"]),
        model_state={k[len("model/") :]: v for k, v in tensors.items() if k.startswith("model/")},
        optim_state={"state": state, "param_groups": optim["param_groups"]},
        scheduler_state=json.loads(meta["scheduler"]),
        numpy_rng=json.loads(meta["numpy_rng"]),
        torch_rng=tensors["rng/torch"],
    )
