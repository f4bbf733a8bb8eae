"""The fallback transition for keyframes that do not match."""

from __future__ import annotations

import cv2
import numpy as np

from inbetween.engines.keyframe.pair import KeyframePair

__all__ = ["PushPullDissolve", "ease_in_out"]

PUSH = 0.08  # the fallback zooms 8 % into the first image and out of the last
DISSOLVE = (0.4, 0.6)  # the fallback's dissolve happens over this part of the clip


def ease_in_out(t: float) -> float:
    """Smoothstep: starts and ends at rest, fastest in the middle."""
    return t * t * (3.0 - 2.0 * t)


class PushPullDissolve(KeyframePair):
    """A deliberate transition between unrelated images.

    The camera pushes slowly into the first image, an eased dissolve crosses to the last
    image, and the camera pulls back out of it; t = 0 and t = 1 are the keyframes exactly.
    """

    def __init__(self, first: np.ndarray, last: np.ndarray) -> None:
        super().__init__(first, last)
        h, w = first.shape[:2]
        self.centre = (w / 2.0, h / 2.0)
        self.size = (w, h)

    def between(self, t: float, bump: np.ndarray | None) -> np.ndarray:
        start, end = DISSOLVE
        mix = ease_in_out(min(1.0, max(0.0, (t - start) / (end - start))))
        push, pull = 1.0 + PUSH * t, 1.0 + PUSH * (1.0 - t)
        if mix <= 0.0:
            return self._zoom(self.first, push, bump)
        if mix >= 1.0:
            return self._zoom(self.last, pull, bump)
        frame: np.ndarray = cv2.addWeighted(self._zoom(self.first, push, bump), 1.0 - mix,
                                            self._zoom(self.last, pull, bump), mix, 0.0)
        return frame

    def _zoom(self, image: np.ndarray, scale: float, bump: np.ndarray | None) -> np.ndarray:
        matrix = np.vstack([cv2.getRotationMatrix2D(self.centre, 0.0, scale), [0, 0, 1]])
        if bump is not None:
            matrix = bump @ matrix
        out: np.ndarray = cv2.warpAffine(image, matrix[:2], self.size, flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_REFLECT)
        return out
