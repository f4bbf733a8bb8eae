"""Dense optical flow (OpenCV DIS) and flow-based frame synthesis."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["FlowPair", "Synthesiser", "estimate_flows", "synthesise"]

_FLOW_MAX_SIDE = 960  # flow is estimated at most at this size, then scaled up


class FlowPair:
    """Forward (first→last) and backward (last→first) flow at full resolution, float32 HxWx2."""

    def __init__(self, forward: np.ndarray, backward: np.ndarray) -> None:
        self.forward = forward
        self.backward = backward
        h, w = forward.shape[:2]
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        self.grid = np.dstack([xs, ys])


def estimate_flows(first: np.ndarray, last: np.ndarray) -> FlowPair:
    """DIS flow both ways on grey images scaled down to at most 960 px on the long side."""
    h, w = first.shape[:2]
    scale = min(1.0, _FLOW_MAX_SIDE / max(h, w))
    small = (max(8, round(w * scale)), max(8, round(h * scale)))
    grey = [
        cv2.cvtColor(cv2.resize(img, small, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        for img in (first, last)
    ]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    forward = dis.calc(grey[0], grey[1], None)
    backward = dis.calc(grey[1], grey[0], None)
    return FlowPair(_upscale(forward, w, h), _upscale(backward, w, h))


def _upscale(flow: np.ndarray, width: int, height: int) -> np.ndarray:
    fx, fy = width / flow.shape[1], height / flow.shape[0]
    big: np.ndarray = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    big[..., 0] *= fx
    big[..., 1] *= fy
    return big


def synthesise(first: np.ndarray, last: np.ndarray, flows: FlowPair, t: float) -> np.ndarray:
    """The frame at time ``t`` in [0, 1]: both keyframes warped toward ``t`` and blended.

    Flow from ``t`` to each keyframe uses the quadratic approximation of Jiang et al.
    (Super SloMo): F(t→0) = −(1−t)t·F01 + t²·F10, F(t→1) = (1−t)²·F01 − t(1−t)·F10.
    t = 0 and t = 1 return the keyframes themselves, exactly.
    """
    return Synthesiser(first, last, flows)(t)


class Synthesiser:
    """``synthesise`` for many ``t`` of one pair, reusing its work buffers between frames.

    Not thread-safe: one instance per producing thread. Each call returns a new array.
    """

    def __init__(self, first: np.ndarray, last: np.ndarray, flows: FlowPair) -> None:
        self.first, self.last, self.flows = first, last, flows
        self._map0 = np.empty_like(flows.grid)
        self._map1 = np.empty_like(flows.grid)
        self._scratch = np.empty_like(flows.grid)
        self._warp0 = np.empty_like(first)
        self._warp1 = np.empty_like(last)

    def __call__(self, t: float) -> np.ndarray:
        if t <= 0.0:
            return self.first.copy()
        if t >= 1.0:
            return self.last.copy()
        self._map(self._map0, -(1 - t) * t, t * t)
        self._map(self._map1, (1 - t) ** 2, -t * (1 - t))
        cv2.remap(self.first, self._map0, None, cv2.INTER_LINEAR, dst=self._warp0,
                  borderMode=cv2.BORDER_REPLICATE)
        cv2.remap(self.last, self._map1, None, cv2.INTER_LINEAR, dst=self._warp1,
                  borderMode=cv2.BORDER_REPLICATE)
        frame: np.ndarray = cv2.addWeighted(self._warp0, 1 - t, self._warp1, t, 0.0)
        return frame

    def _map(self, out: np.ndarray, w01: float, w10: float) -> None:
        """out = grid + w01·F01 + w10·F10, in place (no temporaries)."""
        cv2.scaleAdd(self.flows.forward, w01, self.flows.grid, dst=self._scratch)
        cv2.scaleAdd(self.flows.backward, w10, self._scratch, dst=out)
