"""Colour arithmetic on RGB arrays, shared by the EDA, the corruptions and the drawings.

Hue is in degrees [0, 360), saturation and value in [0, 1] (HSV, as ``colorsys`` and
matplotlib define them); luma is ITU-R BT.601's ``Y' = 0.299 R + 0.587 G + 0.114 B``,
the weights Pillow's ``convert("L")`` uses, so a grey conversion here matches the
datasets' own.
"""

from __future__ import annotations

import numpy as np

__all__ = ["LUMA_WEIGHTS", "hsv_to_rgb", "luma", "rgb_to_hsv"]

#: Red, green and blue weights of luma (ITU-R BT.601).
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


def luma(rgb: np.ndarray) -> np.ndarray:
    """Luma of RGB values (last axis of 3), in the values' own scale, as float64."""
    return np.asarray(rgb, dtype=np.float64) @ LUMA_WEIGHTS


def rgb_to_hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue (degrees), saturation and value of RGB values in 0-255 (last axis of 3).

    A grey pixel (all channels equal) has hue 0 and saturation 0.
    """
    x = np.asarray(rgb, dtype=np.float32) / np.float32(255)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    top = x.max(axis=-1)
    span = top - x.min(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        saturation = np.where(top > 0, span / top, 0.0)
        safe = np.where(span > 0, span, 1.0)
        hue = np.where(
            top == r,
            ((g - b) / safe) % 6,
            np.where(top == g, (b - r) / safe + 2, (r - g) / safe + 4),
        )
    hue = np.where(span > 0, hue * 60.0, 0.0) % 360.0
    return hue.astype(np.float32), saturation.astype(np.float32), top


def hsv_to_rgb(hue: np.ndarray, saturation: np.ndarray, value: np.ndarray) -> np.ndarray:
    """RGB values in 0-1 (a new last axis of 3) of hue (degrees), saturation and value."""
    h = (np.asarray(hue, dtype=np.float32) % 360.0) / 60.0
    s = np.clip(np.asarray(saturation, dtype=np.float32), 0, 1)
    v = np.asarray(value, dtype=np.float32)
    # Each channel k is v - v s max(0, min(t, 4 - t, 1)) with t = (k + h) mod 6 (k = 5, 3, 1).
    channels = []
    for k in (5.0, 3.0, 1.0):
        t = (k + h) % 6.0
        channels.append(v - v * s * np.clip(np.minimum(t, 4.0 - t), 0.0, 1.0))
    return np.stack(channels, axis=-1)
