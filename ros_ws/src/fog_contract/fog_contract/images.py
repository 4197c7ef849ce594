"""Image resize, the same for the dataset converter and the robot's policy runtime."""

from __future__ import annotations

import numpy as np


def resize_rgb(rgb: np.ndarray, height: int, width: int | None = None) -> np.ndarray:
    """An HxWx3 uint8 image at (height, width) (square when width is None), by area averaging
    (cv2.INTER_AREA): what `fog dataset` stores is what the policy sees on the robot."""
    width = height if width is None else width
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {rgb.shape}")
    if rgb.shape[:2] == (height, width):
        return rgb
    import cv2

    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
