"""Shared command-line plumbing of the trainers: ``--preset NAME`` picks a typed config, tyro parses the rest."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def parse_with_presets(
    cls: type[T], presets: dict[str, Callable[[], T]], argv: list[str], prog: str, description: str
) -> T:
    """``--preset`` (default: the first preset) gives the defaults; every field can be overridden
    (``--loop.steps 200``, ``--model.inner.block-out-channels 16 32 64``). A bare ``--resume``
    means ``--resume require``."""
    import tyro

    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--preset", choices=sorted(presets), default=next(iter(presets)))
    known, rest = pre.parse_known_args(argv)
    out: list[str] = []
    for i, a in enumerate(rest):
        out.append(a)
        if a == "--resume" and (i + 1 >= len(rest) or rest[i + 1] not in ("auto", "require", "never")):
            out.append("require")
    first = next(iter(presets))
    desc = f"{description}\n\nPresets: {', '.join(presets)} (--preset NAME, default {first}; now: {known.preset})."
    return tyro.cli(cls, default=presets[known.preset](), args=out, prog=prog, description=desc)


def override_model_config(cfg: Any, saved: dict[str, Any] | None, model_cls: type, from_dict: Callable) -> None:
    """On resume the checkpoint's architecture wins over the preset/CLI (weights must fit)."""
    if saved is not None and "model" in saved:
        cfg.model = from_dict(model_cls, saved["model"])
