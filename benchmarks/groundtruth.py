"""Ground-truth clips with a known camera path, made from photographs that ship with
scikit-image (they load offline).

A case renders the frame at any t in [0, 1]: a linear camera path (pan in px, zoom factor,
rotation in degrees, all linear in t, about the canvas centre) over an upscaled photo, and
optionally an independently moving object (a disc cut from another photo) on a straight line.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["CASES", "Case"]


def _photo(name: str) -> np.ndarray:
    from skimage import data

    image: np.ndarray = getattr(data, name)()
    return image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)


@dataclass(frozen=True)
class Case:
    name: str
    photo: str
    pan: tuple[float, float] = (0.0, 0.0)  # px at the canvas scale, over the whole clip
    zoom: float = 1.0  # scale at t = 1 (1.0 at t = 0)
    rotation: float = 0.0  # degrees at t = 1
    object_from: tuple[float, float] | None = None  # centre at t = 0, canvas fractions
    object_to: tuple[float, float] | None = None

    def renderer(self, width: int, height: int) -> Renderer:
        return Renderer(self, width, height)


class Renderer:
    def __init__(self, case: Case, width: int, height: int) -> None:
        self.case, self.size = case, (width, height)
        photo = _photo(case.photo)
        cover = 1.6 * max(width / photo.shape[1], height / photo.shape[0])
        self.source = cv2.resize(photo, None, fx=cover, fy=cover, interpolation=cv2.INTER_CUBIC)
        self.disc = None
        if case.object_from is not None:
            patch = cv2.resize(_photo("coffee")[100:300, 200:400], (height // 4, height // 4),
                               interpolation=cv2.INTER_AREA)
            mask = np.zeros(patch.shape[:2], np.uint8)
            r = patch.shape[0] // 2
            cv2.circle(mask, (r, r), r - 2, 255, -1)
            self.disc = (patch, mask)

    def frame(self, t: float) -> np.ndarray:
        c = self.case
        width, height = self.size
        sh, sw = self.source.shape[:2]
        scale = 1.0 + (c.zoom - 1.0) * t
        matrix = cv2.getRotationMatrix2D((sw / 2, sh / 2), c.rotation * t, scale)
        matrix[0, 2] += width / 2 - sw / 2 + c.pan[0] * t
        matrix[1, 2] += height / 2 - sh / 2 + c.pan[1] * t
        out = cv2.warpAffine(self.source, matrix, (width, height), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT)
        if self.disc is not None and c.object_from and c.object_to:
            patch, mask = self.disc
            fx = c.object_from[0] + (c.object_to[0] - c.object_from[0]) * t
            fy = c.object_from[1] + (c.object_to[1] - c.object_from[1]) * t
            place = np.float64([[1, 0, fx * width - patch.shape[1] / 2],
                                [0, 1, fy * height - patch.shape[0] / 2]])
            layer = cv2.warpAffine(patch, place, (width, height), flags=cv2.INTER_LINEAR)
            alpha = cv2.warpAffine(mask, place, (width, height), flags=cv2.INTER_LINEAR)
            a = (alpha.astype(np.float32) / 255.0)[..., None]
            out = (out * (1 - a) + layer * a + 0.5).astype(np.uint8)
        return out


CASES = (
    Case("pan", "astronaut", pan=(-120.0, 0.0)),
    Case("zoom", "rocket", zoom=1.25),
    Case("rotate", "chelsea", rotation=8.0),
    Case("pan+zoom", "astronaut", pan=(60.0, -40.0), zoom=1.2),
    Case("pan+zoom+rotate", "rocket", pan=(-50.0, 30.0), zoom=0.85, rotation=-6.0),
    Case("moving object", "chelsea", pan=(-40.0, 0.0), object_from=(0.35, 0.6),
         object_to=(0.45, 0.55)),
)
