"""Dense optical flow (OpenCV DIS), occlusion from forward–backward consistency, and
occlusion-aware frame synthesis."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["FlowPair", "Synthesiser", "estimate_flows", "synthesise"]

_FLOW_MAX_SIDE = 960  # flow is estimated at most at this size, then scaled up
_OCCLUSION_PX = 1.5  # forward–backward mismatch (working-scale px) at which visibility halves
_MIN_VISIBILITY = 0.02  # never zero: a pixel seen by neither view still gets both


class FlowPair:
    """Flows and visibilities at full resolution.

    ``forward`` (first→last) and ``backward`` (last→first) are float32 HxWx2; ``visible0``
    says, per pixel of the first keyframe, how surely it is seen in the last one (float32 HxW,
    0–1, from forward–backward consistency), ``visible1`` the same for the last keyframe.
    ``consistency`` is the mean visibility, a measure of how well the two frames match.
    """

    def __init__(self, forward: np.ndarray, backward: np.ndarray, visible0: np.ndarray,
                 visible1: np.ndarray) -> None:
        self.forward, self.backward = forward, backward
        self.visible0, self.visible1 = visible0, visible1
        h, w = forward.shape[:2]
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        self.grid = np.dstack([xs, ys])
        self.consistency = float((visible0.mean() + visible1.mean()) / 2)


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
    visible0, visible1 = _visibility(forward, backward), _visibility(backward, forward)
    return FlowPair(_upscale(forward, w, h), _upscale(backward, w, h),
                    _resize(visible0, w, h), _resize(visible1, w, h))


def _visibility(there: np.ndarray, back: np.ndarray) -> np.ndarray:
    """Soft visibility of each pixel: 1 where going there and back returns home, → 0 if not."""
    h, w = there.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    target = np.dstack([xs, ys]) + there
    back_at_target = cv2.remap(back, target, None, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
    error = np.linalg.norm(there + back_at_target, axis=2)
    outside = ((target[..., 0] < 0) | (target[..., 0] > w - 1) | (target[..., 1] < 0)
               | (target[..., 1] > h - 1))
    visible = 1.0 / (1.0 + (error / _OCCLUSION_PX) ** 2)
    visible[outside] = 0.0
    result: np.ndarray = np.maximum(visible, _MIN_VISIBILITY).astype(np.float32)
    return result


def _upscale(flow: np.ndarray, width: int, height: int) -> np.ndarray:
    fx, fy = width / flow.shape[1], height / flow.shape[0]
    big: np.ndarray = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    big[..., 0] *= fx
    big[..., 1] *= fy
    return big


def _resize(plane: np.ndarray, width: int, height: int) -> np.ndarray:
    out: np.ndarray = cv2.resize(plane, (width, height), interpolation=cv2.INTER_LINEAR)
    return out


def synthesise(first: np.ndarray, last: np.ndarray, flows: FlowPair, t: float) -> np.ndarray:
    """The frame at time ``t`` in [0, 1]: both keyframes warped toward ``t`` and blended.

    Flow from ``t`` to each keyframe uses the quadratic approximation of Jiang et al.
    (Super SloMo): F(t→0) = −(1−t)t·F01 + t²·F10, F(t→1) = (1−t)²·F01 − t(1−t)·F10. Each
    warp is weighted by its time weight (1−t, t) times the visibility of the pixel it samples,
    so a region that one keyframe cannot see is taken from the other (no ghosts).
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
        self._weight0 = np.empty_like(flows.visible0)
        self._weight1 = np.empty_like(flows.visible1)

    def __call__(self, t: float) -> np.ndarray:
        if t <= 0.0:
            return self.first.copy()
        if t >= 1.0:
            return self.last.copy()
        self._map(self._map0, -(1 - t) * t, t * t)
        self._map(self._map1, (1 - t) ** 2, -t * (1 - t))
        self._warp(self.first, self.flows.visible0, self._map0, self._warp0, self._weight0)
        self._warp(self.last, self.flows.visible1, self._map1, self._warp1, self._weight1)
        cv2.multiply(self._weight0, 1 - t, dst=self._weight0)
        cv2.multiply(self._weight1, t, dst=self._weight1)
        frame: np.ndarray = cv2.blendLinear(self._warp0, self._warp1, self._weight0,
                                            self._weight1)
        return frame

    def _map(self, out: np.ndarray, w01: float, w10: float) -> None:
        """out = grid + w01·F01 + w10·F10, in place (no temporaries)."""
        cv2.scaleAdd(self.flows.forward, w01, self.flows.grid, dst=self._scratch)
        cv2.scaleAdd(self.flows.backward, w10, self._scratch, dst=out)

    @staticmethod
    def _warp(image: np.ndarray, visible: np.ndarray, where: np.ndarray, out: np.ndarray,
              weight: np.ndarray) -> None:
        cv2.remap(image, where, None, cv2.INTER_LINEAR, dst=out, borderMode=cv2.BORDER_REPLICATE)
        cv2.remap(visible, where, None, cv2.INTER_LINEAR, dst=weight,
                  borderMode=cv2.BORDER_CONSTANT, borderValue=_MIN_VISIBILITY)
