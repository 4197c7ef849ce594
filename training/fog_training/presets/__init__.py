"""The trainers' presets, one YAML file per trainer module, read by :func:`load_presets`.

Each file maps a preset name to the fields it sets; fields it leaves out keep the config class's
defaults, and a nested map sets fields of a nested config (``loop: {steps: 20}``). The first preset
in a file is the trainer's default ``--preset``. Unknown field names are refused when the preset is
built (fog_worldmodel.config_io.config_from_dict), so a typo cannot silently fall back to a default.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import yaml
from fog_worldmodel.config_io import config_from_dict

T = TypeVar("T")

FOLDER = Path(__file__).resolve().parent


def load_presets(name: str, cls: type[T]) -> dict[str, Callable[[], T]]:
    """``{preset name: a function building a fresh config}`` from ``presets/<name>.yaml``, in file order."""
    path = FOLDER / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: expected a map of preset names to field values")
    for preset, fields in data.items():
        if not isinstance(fields, dict | None):
            raise ValueError(f"{path}: preset {preset!r} must map field names to values, got {fields!r}")
    return {preset: partial(config_from_dict, cls, dict(fields or {})) for preset, fields in data.items()}
