"""Frame conversions shared by the world models (uint8 HWC <-> float CHW in [-1, 1])."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def frames_to_float(frames: torch.Tensor, size: int | None = None) -> torch.Tensor:
    """uint8 frames [..., H, W, C] -> float32 [..., C, size, size] in [-1, 1].

    Resizes (antialiased bilinear) only when ``size`` differs from the frames' size.
    """
    if frames.dtype != torch.uint8:
        raise TypeError(f"frames must be uint8 [..., H, W, C], got {frames.dtype}")
    lead = frames.shape[:-3]
    x = frames.reshape(-1, *frames.shape[-3:]).permute(0, 3, 1, 2).float()
    if size is not None and tuple(x.shape[-2:]) != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    x = x.div(127.5).sub(1).clamp(-1, 1)
    return x.reshape(*lead, *x.shape[1:])


def float_to_frames(x: torch.Tensor) -> torch.Tensor:
    """float [..., C, H, W] in [-1, 1] -> uint8 [..., H, W, C]."""
    y = x.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return y.movedim(-3, -1)


def resize_frames_uint8(frames: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 [..., H, W, C] -> uint8 [..., size, size, C] (identity when already that size)."""
    if tuple(frames.shape[-3:-1]) == (size, size):
        return frames
    return float_to_frames(frames_to_float(frames, size))
