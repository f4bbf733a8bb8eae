"""Global camera motion between two keyframes: a similarity (rotation, scale, translation)
estimated from ORB feature matches with RANSAC, and its smooth path over time."""

from __future__ import annotations

import cmath
from dataclasses import dataclass

import cv2
import numpy as np

from inbetween.parallel import both

__all__ = ["Camera", "estimate_camera"]

_MIN_INLIERS = 20
_MIN_INLIER_RATIO = 0.3


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
    """The similarity mapping ``grey0`` onto ``grey1``, or the identity when not trustworthy."""
    (kp0, des0), (kp1, des1) = both(  # one detector each: they run at once
        lambda grey: cv2.ORB_create(nfeatures=2000, fastThreshold=10).detectAndCompute(grey, None),
        grey0, grey1)
    if des0 is None or des1 is None or len(kp0) < _MIN_INLIERS or len(kp1) < _MIN_INLIERS:
        return Camera()
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(des0, des1, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < 0.8 * p[1].distance]
    if len(good) < _MIN_INLIERS:
        return Camera()
    src = np.array([kp0[m.queryIdx].pt for m in good], dtype=np.float32)
    dst = np.array([kp1[m.trainIdx].pt for m in good], dtype=np.float32)
    matrix, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                               ransacReprojThreshold=2.0, maxIters=2000,
                                               confidence=0.995, refineIters=10)
    if matrix is None or mask is None:
        return Camera()
    inliers = int(mask.sum())
    ratio = inliers / len(good)
    if inliers < _MIN_INLIERS or ratio < _MIN_INLIER_RATIO:
        return Camera(inliers=inliers, inlier_ratio=ratio)
    a = complex(matrix[0, 0], matrix[1, 0])
    b = complex(matrix[0, 2], matrix[1, 2])
    return Camera(a, b, inliers, ratio)
