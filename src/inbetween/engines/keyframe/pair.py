"""What every frame maker of the keyframe engine shares: the keyframes themselves are given
back exactly, and everything in between is the subclass's ``between``."""

from __future__ import annotations

import numpy as np

__all__ = ["KeyframePair"]


class KeyframePair:
    """Frames of a clip from ``first`` (t = 0) to ``last`` (t = 1)."""

    def __init__(self, first: np.ndarray, last: np.ndarray) -> None:
        self.first, self.last = first, last

    def __call__(self, t: float, bump: np.ndarray | None = None) -> np.ndarray:
        """The frame at progress ``t``, seen through the extra camera move ``bump`` (3×3).

        Without a bump, t ≤ 0 and t ≥ 1 are the keyframes exactly (a new array each call).
        """
        if bump is None and t <= 0.0:
            return self.first.copy()
        if bump is None and t >= 1.0:
            return self.last.copy()
        return self.between(min(1.0, max(0.0, t)), bump)

    def between(self, t: float, bump: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError
