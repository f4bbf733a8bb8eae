"""Synthetic pairs with things that move on their own, and the ground truth to check them:
a camera move (pan and zoom, linear in t) over a photograph, textured non-symmetric objects
placed anywhere (rotated, scaled), and where a frame shows an object."""

from __future__ import annotations

import cv2
import numpy as np
from skimage import data

W, H = 640, 360


def background(t: float, pan: float = -30.0, zoom: float = 1.04) -> np.ndarray:
    """A camera move (pan and zoom, linear in t) over a photograph."""
    photo = data.astronaut()
    cover = 1.6 * max(W / photo.shape[1], H / photo.shape[0])
    source = cv2.resize(photo, None, fx=cover, fy=cover, interpolation=cv2.INTER_CUBIC)
    sh, sw = source.shape[:2]
    matrix = cv2.getRotationMatrix2D((sw / 2, sh / 2), 0.0, 1 + (zoom - 1) * t)
    matrix[0, 2] += W / 2 - sw / 2 + pan * t
    matrix[1, 2] += H / 2 - sh / 2
    return cv2.warpAffine(source, matrix, (W, H), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)


def sprite(size: int = 80, which: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured, non-symmetric object: an L-shaped cut of another photograph."""
    photo = (data.coffee()[100:300, 200:400], data.chelsea()[60:260, 120:320])[which]
    patch = cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA)
    mask = np.zeros((size, size), np.uint8)
    mask[4:-4, 4:size // 2] = 255
    mask[size // 2:-4, 4:-4] = 255
    return patch, mask


def place(frame: np.ndarray, sprite: tuple[np.ndarray, np.ndarray], centre: tuple[float, float],
           angle: float = 0.0, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``frame`` with the sprite drawn at ``centre`` (rotated, scaled), and its mask there."""
    patch, mask = sprite
    side = patch.shape[0]
    matrix = cv2.getRotationMatrix2D((side / 2, side / 2), angle, scale)
    matrix[:, 2] += np.array(centre) - side / 2
    layer = cv2.warpAffine(patch, matrix, (W, H), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(mask, matrix, (W, H), flags=cv2.INTER_LINEAR)
    a = (alpha.astype(np.float32) / 255)[..., None]
    return (frame * (1 - a) + layer * a + 0.5).astype(np.uint8), alpha > 127


def psnr_where(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    mse = float(np.mean((a[where].astype(np.float32) - b[where].astype(np.float32)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def path(start: tuple[float, float], end: tuple[float, float], t: float) -> tuple[float, float]:
    return (start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t)


def found_at(frame: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Where ``frame`` differs from the true background: the object, as the engine drew it."""
    difference = np.abs(frame.astype(np.int16) - background.astype(np.int16)).max(axis=2)
    found = cv2.morphologyEx((difference > 40).astype(np.uint8), cv2.MORPH_OPEN,
                             np.ones((3, 3), np.uint8))
    result: np.ndarray = found > 0
    return result
