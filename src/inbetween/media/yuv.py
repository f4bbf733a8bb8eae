"""Frames in the encoder's own layout: I420 (planar Y'CbCr 4:2:0, BT.709, limited range).

An engine may hand the encoder RGB frames, shape (H, W, 3), or I420 frames, shape
(H·3/2, W) uint8 — the Y plane (H×W), then Cb and Cr (H/2×W/2 each), back to back, as
PyAV's ``yuv420p`` arrays. Making frames in I420 directly saves the colour conversion and
blends half the samples of RGB (the keyframe engine does this).

Chroma is sited at the centre of each 2×2 block of luma and is its average, as swscale's
AREA downsampling; values are within 1 of swscale's BT.709 conversion.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["BT709", "ToI420", "i420_to_rgb", "is_i420", "planes", "rgb_to_i420", "to_rgb"]

# Rec. ITU-R BT.709-6 with 8-bit limited range: Y 16–235, Cb and Cr 16–240
_KR, _KB = 0.2126, 0.0722
_KG = 1.0 - _KR - _KB
_Y, _C = 219.0 / 255.0, 224.0 / 255.0
BT709 = np.array([
    [_KR * _Y, _KG * _Y, _KB * _Y, 16.0],
    [-_KR / (2 - 2 * _KB) * _C, -_KG / (2 - 2 * _KB) * _C, 0.5 * _C, 128.0],
    [0.5 * _C, -_KG / (2 - 2 * _KR) * _C, -_KB / (2 - 2 * _KR) * _C, 128.0],
], np.float32)
"""3×4 matrix: RGB (0–255) → Y'CbCr, with the offsets in the last column."""
_INVERSE = np.linalg.inv(np.vstack([BT709, [0, 0, 0, 1]]))[:3].astype(np.float32)


def is_i420(frame: np.ndarray, width: int, height: int) -> bool:
    """Whether ``frame`` is an I420 frame of that size (rather than RGB)."""
    return frame.shape == (height * 3 // 2, width) and frame.dtype == np.uint8


def planes(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, Cb and Cr planes of an I420 frame (writing to them writes the frame)."""
    rows, width = frame.shape
    height = rows * 2 // 3
    flat = frame.reshape(-1)
    luma, quarter = width * height, (width // 2) * (height // 2)
    return (flat[:luma].reshape(height, width),
            flat[luma:luma + quarter].reshape(height // 2, width // 2),
            flat[luma + quarter:].reshape(height // 2, width // 2))


class ToI420:
    """RGB → I420, written into given planes; reuses its buffers between frames."""

    def __init__(self, width: int, height: int) -> None:
        self.size = (width, height)
        self._yuv = np.empty((height, width, 3), np.uint8)
        self._half = np.empty((height // 2, width // 2, 3), np.uint8)

    def __call__(self, rgb: np.ndarray, y: np.ndarray, u: np.ndarray, v: np.ndarray) -> None:
        width, height = self.size
        cv2.transform(rgb, BT709, dst=self._yuv)
        cv2.extractChannel(self._yuv, 0, dst=y)
        cv2.resize(self._yuv, (width // 2, height // 2), dst=self._half,
                   interpolation=cv2.INTER_AREA)
        cv2.extractChannel(self._half, 1, dst=u)
        cv2.extractChannel(self._half, 2, dst=v)


def rgb_to_i420(rgb: np.ndarray) -> np.ndarray:
    """A new I420 frame from an RGB uint8 image of even width and height."""
    height, width = rgb.shape[:2]
    frame = np.empty((height * 3 // 2, width), np.uint8)
    ToI420(width, height)(rgb, *planes(frame))
    return frame


def i420_to_rgb(frame: np.ndarray, size: tuple[int, int] | None = None) -> np.ndarray:
    """RGB of an I420 frame, optionally resized to ``size`` = (width, height) first (cheap
    for thumbnails: the planes are shrunk before the colour conversion)."""
    y, u, v = planes(frame)
    width, height = size if size is not None else (y.shape[1], y.shape[0])
    resized = [_resized(plane, width, height) for plane in (y, u, v)]
    rgb: np.ndarray = cv2.transform(cv2.merge(resized), _INVERSE)
    return rgb


def _resized(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    if plane.shape == (height, width):
        return plane
    shrink = width < plane.shape[1]
    out: np.ndarray = cv2.resize(plane, (width, height),
                                 interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return out


def to_rgb(frame: np.ndarray) -> np.ndarray:
    """``frame`` as RGB: an RGB frame as it is, an I420 one converted."""
    return frame if frame.ndim == 3 else i420_to_rgb(frame)
