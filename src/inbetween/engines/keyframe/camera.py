"""Global camera motion between two keyframes: a similarity (rotation, scale, translation)
estimated from ORB feature matches with RANSAC, and its smooth path over time.

Feature matches are evidence only where they are spread over the frame: on a smooth
background (a sky, a wall, water) almost every feature sits on the subject, and RANSAC then
returns the subject's motion as the camera's. When the inliers cover too little of the frame,
the camera is estimated densely instead — ECC image alignment of the blurred keyframes, with
the pixels that differ between them (the subject at both its places) left out — and kept only
when that alignment explains the background well; else there is no camera move.
"""

from __future__ import annotations

import cmath
from dataclasses import dataclass

import cv2
import numpy as np

from inbetween.parallel import both

__all__ = ["Camera", "estimate_camera"]

_MIN_INLIERS = 20
_MIN_INLIER_RATIO = 0.3
_SPREAD_GRID = 4  # the frame in 4×4 cells: inliers must fall in at least
_MIN_SPREAD = 6  # this many cells to speak for the whole frame
_ECC_SIDE = 320  # the dense estimate works at most at this size (smooth images: enough)
_ECC_MIN_CORRELATION = 0.85  # below it, the dense alignment explains nothing: no camera


@dataclass(frozen=True)
class Camera:
    """z ↦ a·z + b on complex pixel coordinates (x + iy): first keyframe → last keyframe.

    ``at(t)`` is the t-th power of that map, the camera path of a constant screw motion:
    rotation and log-scale change linearly in t about the motion's fixed point, and a pure
    pan moves linearly. ``at(0)`` is the identity and ``at(1)`` the whole motion.
    """

    a: complex = 1 + 0j
    b: complex = 0j
    inliers: int = 0
    inlier_ratio: float = 0.0
    method: str = "none"  # how it was found: features, dense (ECC), or none

    @property
    def found(self) -> bool:
        return self.a != 1 or self.b != 0

    def at(self, t: float) -> np.ndarray:
        """The 2×3 affine matrix of the camera motion from time 0 to time ``t``."""
        if abs(self.a - 1) < 1e-9:
            a_t, b_t = 1 + 0j, self.b * t
        else:
            a_t = cmath.exp(t * cmath.log(self.a))
            b_t = self.b * (a_t - 1) / (self.a - 1)
        return _matrix(a_t, b_t)

    def matrix(self) -> np.ndarray:
        return _matrix(self.a, self.b)

    @property
    def scale(self) -> float:
        return abs(self.a)

    @property
    def rotation_degrees(self) -> float:
        return float(np.degrees(cmath.phase(self.a)))


def _matrix(a: complex, b: complex) -> np.ndarray:
    return np.array([[a.real, -a.imag, b.real], [a.imag, a.real, b.imag]], dtype=np.float64)


def estimate_camera(grey0: np.ndarray, grey1: np.ndarray) -> Camera:
    """The similarity mapping ``grey0`` onto ``grey1``, or the identity when not trustworthy:
    from features when their inliers are spread over the frame, else densely."""
    camera, spread = _from_features(grey0, grey1)
    if spread >= _MIN_SPREAD:
        return camera
    return _dense(grey0, grey1, camera)


def _spread(points: np.ndarray, width: int, height: int) -> int:
    """In how many cells of a 4×4 grid over the frame ``points`` (N×2) fall."""
    cells = {(min(int(x * _SPREAD_GRID / width), _SPREAD_GRID - 1),
              min(int(y * _SPREAD_GRID / height), _SPREAD_GRID - 1)) for x, y in points}
    return len(cells)


def _dense(grey0: np.ndarray, grey1: np.ndarray, features: Camera) -> Camera:
    """ECC alignment (a similarity, from the identity) of the blurred keyframes at most
    ``_ECC_SIDE`` px, leaving out the pixels that differ a lot between them; the identity
    (``method`` none) when it does not converge or explains the rest poorly."""
    h, w = grey0.shape
    scale = min(1.0, _ECC_SIDE / max(h, w))
    size = (max(16, round(w * scale)), max(16, round(h * scale)))
    small0, small1 = (cv2.GaussianBlur(cv2.resize(g, size, interpolation=cv2.INTER_AREA),
                                       (5, 5), 0).astype(np.float32) for g in (grey0, grey1))
    # the subject at either of its places: where the keyframes differ far more than usual
    difference = cv2.absdiff(small0, small1)
    keep = (difference < max(12.0, 3 * float(np.median(difference)))).astype(np.uint8)
    keep = cv2.erode(keep, np.ones((5, 5), np.uint8))
    none = Camera(inliers=features.inliers, inlier_ratio=features.inlier_ratio, method="none")
    if keep.mean() < 0.3:
        return none
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 1e-5)
    try:
        # small1(warp·x) ≈ small0(x): warp maps the first keyframe's pixels to the last's
        correlation, warp = cv2.findTransformECC(small0, small1, warp, cv2.MOTION_AFFINE,
                                                 criteria, keep, 5)
    except cv2.error:
        return none
    if correlation < _ECC_MIN_CORRELATION:
        return none
    # the similarity nearest to it, at full size (pixel centres aligned)
    a = complex((warp[0, 0] + warp[1, 1]) / 2, (warp[1, 0] - warp[0, 1]) / 2)
    sx, sy = w / size[0], h / size[1]
    centre = complex(0.5 * sx - 0.5, 0.5 * sy - 0.5)
    b = complex(warp[0, 2] * sx, warp[1, 2] * sy) + centre - a * centre
    # a camera move between two keyframes of one shot, or the alignment went astray
    plausible = (0.75 < abs(a) < 1.33 and abs(np.angle(a)) < np.radians(20)
                 and abs(b.real) < 0.4 * w and abs(b.imag) < 0.4 * h)
    if not plausible or (abs(a - 1) < 1e-4 and abs(b) < 0.5):
        return none
    return Camera(a, b, features.inliers, features.inlier_ratio, method="dense")


def _from_features(grey0: np.ndarray, grey1: np.ndarray) -> tuple[Camera, int]:
    """The similarity from ORB matches + RANSAC (or the identity), and how many cells of a
    4×4 grid its inliers cover."""
    (kp0, des0), (kp1, des1) = both(  # one detector each: they run at once
        lambda grey: cv2.ORB_create(nfeatures=2000, fastThreshold=10).detectAndCompute(grey, None),
        grey0, grey1)
    if des0 is None or des1 is None or len(kp0) < _MIN_INLIERS or len(kp1) < _MIN_INLIERS:
        return Camera(), 0
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(des0, des1, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    if len(good) < _MIN_INLIERS:
        return Camera(), 0
    src = np.array([kp0[m.queryIdx].pt for m in good], dtype=np.float32)
    dst = np.array([kp1[m.trainIdx].pt for m in good], dtype=np.float32)
    matrix, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                               ransacReprojThreshold=2.0, maxIters=2000,
                                               confidence=0.995, refineIters=10)
    if matrix is None or mask is None:
        return Camera(), 0
    inliers = int(mask.sum())
    ratio = inliers / len(good)
    if inliers < _MIN_INLIERS or ratio < _MIN_INLIER_RATIO:
        return Camera(inliers=inliers, inlier_ratio=ratio), 0
    a = complex(matrix[0, 0], matrix[1, 0])
    b = complex(matrix[0, 2], matrix[1, 2])
    h, w = grey0.shape
    spread = _spread(src[mask.ravel() > 0], w, h)
    return Camera(a, b, inliers, ratio, method="features"), spread
