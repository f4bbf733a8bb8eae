"""Ground-truth clips with a known camera path, made from photographs that ship with
scikit-image (they load offline).

A case renders the frame at any t in [0, 1]: a linear camera path (pan in px, zoom factor,
rotation in degrees, all linear in t, about the canvas centre) over an upscaled photo, and
optionally independently moving objects (discs cut from another photo) on straight lines —
one may start or end outside the frame. ``object_at(k, t)`` is where object k's centre is, in
canvas pixels, and ``object_mask(k, t)`` the pixels it covers: the tests' ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["CASES", "INDEPENDENT", "SMOOTH", "SMOOTH_CASES", "Case", "Renderer"]


def _photo(name: str) -> np.ndarray:
    if name in SMOOTH:
        return _smooth(name)
    from skimage import data

    image: np.ndarray = getattr(data, name)()
    return image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)


SMOOTH = ("sky", "wall", "water", "studio")
"""Smooth, low-texture backgrounds made in code (800×520, then scaled like a photo)."""


def _smooth(name: str) -> np.ndarray:
    """A sky with soft clouds (blurred noise over a blue gradient), a plain wall with a
    little grain, calm water (a blue-green gradient with soft ripples), a studio backdrop (a
    radial grey falloff)."""
    rng = np.random.default_rng(SMOOTH.index(name))
    h, w = 520, 800
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    v = (y / h)[..., None]

    def soft_noise(cells: int, blur: float) -> np.ndarray:
        noise = rng.random((cells * h // w + 2, cells + 2)).astype(np.float32)
        big = cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
        return cv2.GaussianBlur(big, (0, 0), blur)

    if name == "sky":
        base = (1 - v) * np.float32([40, 95, 185]) + v * np.float32([165, 200, 240])
        clouds = np.clip((soft_noise(7, 25) - 0.45) * 2.2, 0, 1)[..., None]
        image = base * (1 - 0.6 * clouds) + 245 * 0.6 * clouds
    elif name == "wall":
        image = np.float32([196, 184, 160]) * (1 - 0.12 * v) + rng.normal(0, 3, (h, w, 1))
    elif name == "water":
        base = (1 - v) * np.float32([30, 110, 130]) + v * np.float32([20, 70, 95])
        ripples = np.sin(y / 6.0 + 2.0 * soft_noise(5, 20) * 6.28)[..., None]
        image = base + 6 * ripples
    else:  # studio
        r = np.hypot(x / w - 0.5, y / h - 0.45)[..., None]
        image = np.float32([150, 150, 155]) * (1 - 0.9 * r) + 30
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


_DISCS = (("coffee", slice(100, 300), slice(200, 400)),
          ("astronaut", slice(20, 220), slice(160, 360)))
"""Where each moving object's picture is cut from (photo, rows, columns)."""


@dataclass(frozen=True)
class Case:
    name: str
    photo: str
    pan: tuple[float, float] = (0.0, 0.0)  # px at the canvas scale, over the whole clip
    zoom: float = 1.0  # scale at t = 1 (1.0 at t = 0)
    rotation: float = 0.0  # degrees at t = 1
    object_from: tuple[float, float] | None = None  # centre at t = 0, canvas fractions
    object_to: tuple[float, float] | None = None
    more_objects: tuple[tuple[tuple[float, float], tuple[float, float]], ...] = ()
    object_size: float = 0.25  # disc diameter, a fraction of the canvas height
    subject: str = "photo"  # photo (a disc cut from a photo), head, ball, logo

    @property
    def objects(self) -> tuple[tuple[tuple[float, float], tuple[float, float]], ...]:
        """(centre at t = 0, centre at t = 1) of every moving object, canvas fractions."""
        first = () if self.object_from is None or self.object_to is None else (
            (self.object_from, self.object_to),)
        return (*first, *self.more_objects)

    def renderer(self, width: int, height: int) -> Renderer:
        return Renderer(self, width, height)


def _subject(kind: str, k: int, side: int) -> tuple[np.ndarray, np.ndarray]:
    """(picture, mask) of a ``side``-sized subject: a disc cut from a photo; a head (the
    astronaut's face with a soft, irregular edge); a plain ball (one colour, shaded); a flat
    logo (two colours, hard edges)."""
    r = side // 2
    mask = np.zeros((side, side), np.uint8)
    if kind == "photo":
        photo, rows, cols = _DISCS[k % len(_DISCS)]
        patch = cv2.resize(_photo(photo)[rows, cols], (side, side), interpolation=cv2.INTER_AREA)
        cv2.circle(mask, (r, r), r - 2, 255, -1)
        return patch, mask
    if kind == "head":
        patch = cv2.resize(_photo("astronaut")[30:230, 150:350], (side, side),
                           interpolation=cv2.INTER_AREA)
        angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        wobble = 1 + 0.08 * np.sin(3 * angles) + 0.05 * np.cos(7 * angles + 1)
        points = np.stack([r + 0.8 * r * wobble * np.cos(angles),
                           r + 0.92 * r * wobble * np.sin(angles)], axis=1)
        cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 255)
        mask = cv2.GaussianBlur(mask, (0, 0), max(1.0, side / 60))  # a soft edge
        return patch, mask
    y, x = np.mgrid[0:side, 0:side].astype(np.float32)
    if kind == "ball":
        light = np.clip(1.15 - np.hypot(x - 0.7 * r, y - 0.7 * r) / (1.6 * r), 0.35, 1.0)
        patch = (np.float32([200, 40, 35]) * light[..., None]).astype(np.uint8)
        cv2.circle(mask, (r, r), r - 2, 255, -1)
        return patch, mask
    patch = np.zeros((side, side, 3), np.uint8)  # logo: a yellow disc with a blue bar
    patch[:] = (250, 200, 20)
    cv2.rectangle(patch, (side // 5, int(0.42 * side)), (4 * side // 5, int(0.58 * side)),
                  (20, 60, 180), -1)
    cv2.circle(mask, (r, r), r - 2, 255, -1)
    return patch, mask


class Renderer:
    def __init__(self, case: Case, width: int, height: int) -> None:
        self.case, self.size = case, (width, height)
        photo = _photo(case.photo)
        cover = 1.6 * max(width / photo.shape[1], height / photo.shape[0])
        self.source = cv2.resize(photo, None, fx=cover, fy=cover, interpolation=cv2.INTER_CUBIC)
        self.discs: list[tuple[np.ndarray, np.ndarray]] = []
        side = round(height * case.object_size) // 2 * 2
        for k in range(len(case.objects)):  # each object its own picture
            self.discs.append(_subject(case.subject, k, side))

    def object_at(self, k: int, t: float) -> tuple[float, float]:
        """Object ``k``'s centre at ``t``, in canvas pixels."""
        (x0, y0), (x1, y1) = self.case.objects[k]
        width, height = self.size
        return ((x0 + (x1 - x0) * t) * width, (y0 + (y1 - y0) * t) * height)

    def object_mask(self, k: int, t: float) -> np.ndarray:
        """The canvas pixels object ``k`` covers at ``t`` (bool)."""
        return self._placed(self.discs[k][1], k, t) > 127

    def _placed(self, image: np.ndarray, k: int, t: float) -> np.ndarray:
        cx, cy = self.object_at(k, t)
        side = image.shape[0]
        place = np.float64([[1, 0, cx - side / 2], [0, 1, cy - side / 2]])
        placed: np.ndarray = cv2.warpAffine(image, place, self.size, flags=cv2.INTER_LINEAR)
        return placed

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
        for k, (patch, mask) in enumerate(self.discs):
            layer = self._placed(patch, k, t)
            a = (self._placed(mask, k, t).astype(np.float32) / 255.0)[..., None]
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
    # independent motion: objects travelling far, each with a camera move under it
    Case("object over sky", "rocket", pan=(-60.0, 0.0), zoom=1.05, object_from=(0.15, 0.2),
         object_to=(0.78, 0.26), object_size=0.2),
    Case("object over texture", "astronaut", pan=(50.0, -20.0), object_from=(0.2, 0.62),
         object_to=(0.82, 0.5)),
    Case("two objects", "chelsea", pan=(-40.0, 10.0), object_from=(0.18, 0.3),
         object_to=(0.75, 0.35), more_objects=(((0.82, 0.72), (0.3, 0.66)),), object_size=0.2),
    Case("object entering", "astronaut", pan=(40.0, 0.0), object_from=(-0.1, 0.45),
         object_to=(0.06, 0.45)),
)
SMOOTH_CASES = (
    # subjects over smooth backgrounds: far (more than half the width) and near, with and
    # without a camera move, one entering through an edge
    Case("head over sky", "sky", pan=(-30.0, 0.0), object_from=(0.15, 0.45),
         object_to=(0.82, 0.4), object_size=0.3, subject="head"),
    Case("ball across a wall", "wall", object_from=(0.12, 0.55), object_to=(0.85, 0.45),
         object_size=0.18, subject="ball"),
    Case("logo over studio", "studio", zoom=1.06, object_from=(0.3, 0.5),
         object_to=(0.7, 0.5), object_size=0.22, subject="logo"),
    Case("head over water", "water", pan=(25.0, 0.0), object_from=(0.35, 0.5),
         object_to=(0.5, 0.48), object_size=0.3, subject="head"),
    Case("photo over sky with zoom", "sky", zoom=1.1, object_from=(0.2, 0.6),
         object_to=(0.75, 0.3), object_size=0.22),
    Case("ball over sky", "sky", pan=(-40.0, 10.0), object_from=(0.85, 0.3),
         object_to=(0.2, 0.7), object_size=0.15, subject="ball"),
    Case("head over studio near", "studio", object_from=(0.45, 0.5),
         object_to=(0.55, 0.5), object_size=0.35, subject="head"),
    Case("ball entering over wall", "wall", pan=(20.0, 0.0), object_from=(1.1, 0.5),
         object_to=(0.8, 0.5), object_size=0.18, subject="ball"),
)
"""Issue 26's cases: subjects over smooth, low-texture backgrounds."""
INDEPENDENT = ("object over sky", "object over texture", "two objects", "object entering")
"""The cases with objects travelling far (issue 16's targets)."""
