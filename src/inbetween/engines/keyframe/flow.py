"""Motion between two keyframes — a global camera move plus dense residual flow — and
occlusion-aware synthesis of the frames between them.

1. The camera: a similarity (rotation, scale, translation) from ORB matches + RANSAC.
2. The last keyframe is warped into the first one's view ("stabilised"), and DIS optical
   flow is estimated both ways between the first and the stabilised last keyframe, at most
   960 px on the long side: what the camera does not explain.
3. Forward–backward consistency of that flow gives each pixel a visibility: how surely it is
   seen by the other keyframe. Its mean is the pair's match confidence.
4. Frame t: the camera moves along its screw path (``Camera.at``), the residual motion
   follows the quadratic flow approximation of Jiang et al. (Super SloMo), both keyframes are
   warped to t and blended with weights (1−t)·visibility and t·visibility.
"""

from __future__ import annotations

import cv2
import numpy as np

from inbetween.engines.keyframe.camera import Camera, estimate_camera

__all__ = ["Motion", "Synthesiser", "estimate_motion", "synthesise"]

_FLOW_MAX_SIDE = 960  # motion is estimated at most at this size, then scaled up
_OCCLUSION_PX = 1.5  # forward–backward mismatch (working-scale px) at which visibility halves
_MIN_VISIBILITY = 0.05  # an occluded pixel still counts a little: never a hole
_OUTSIDE_ALPHA = 1  # (of 255) beyond a keyframe's edge: it has no data there at all


class Motion:
    """Everything about the pair that all frames share, computed once.

    ``camera`` is in working-scale coordinates; ``forward``/``backward`` are the residual
    flows (working scale, stabilised coordinates); ``alpha0``/``alpha1`` are the keyframes as
    RGBA at full size whose alpha is their visibility (each in its own coordinates).
    """

    def __init__(self, first: np.ndarray, last: np.ndarray, camera: Camera, forward: np.ndarray,
                 backward: np.ndarray, visible0: np.ndarray, visible1: np.ndarray) -> None:
        height, width = first.shape[:2]
        small_h, small_w = forward.shape[:2]
        self.size, self.small_size = (width, height), (small_w, small_h)
        self.camera, self.forward, self.backward = camera, forward, backward
        self.consistency = float((visible0.mean() + visible1.mean()) / 2)
        xs, ys = np.meshgrid(np.arange(small_w, dtype=np.float32),
                             np.arange(small_h, dtype=np.float32))
        self.grid = np.dstack([xs, ys])
        # visibility of the last keyframe's own pixels: undo the stabilisation
        visible1_own = cv2.warpAffine(visible1, camera.matrix(), (small_w, small_h),
                                      flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        self.rgba0 = _with_alpha(first, visible0)
        self.rgba1 = _with_alpha(last, visible1_own)


def _with_alpha(rgb: np.ndarray, visible: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    alpha = cv2.resize(visible, (width, height), interpolation=cv2.INTER_LINEAR)
    alpha8 = np.clip(alpha * 255.0 + 0.5, 1, 255).astype(np.uint8)
    # The outermost pixels get the lowest weight of all: remapping with BORDER_REPLICATE then
    # extends the colour beyond the frame but marks it as no data, so the other view wins.
    alpha8[0, :] = alpha8[-1, :] = alpha8[:, 0] = alpha8[:, -1] = _OUTSIDE_ALPHA
    rgba: np.ndarray = np.dstack([rgb, alpha8])
    return rgba


def estimate_motion(first: np.ndarray, last: np.ndarray, *, use_camera: bool = True) -> Motion:
    """Camera, residual flows and visibilities of a pair of same-sized RGB keyframes."""
    h, w = first.shape[:2]
    scale = min(1.0, _FLOW_MAX_SIDE / max(h, w))
    small = (max(8, round(w * scale)), max(8, round(h * scale)))
    grey0, grey1 = (
        cv2.cvtColor(cv2.resize(img, small, interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        for img in (first, last)
    )
    camera = estimate_camera(grey0, grey1) if use_camera else Camera()
    stabilised = grey1
    if camera.found:  # the last keyframe seen from the first one's camera
        stabilised = cv2.warpAffine(grey1, camera.matrix(), small,
                                    flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                    borderMode=cv2.BORDER_REPLICATE)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    forward = dis.calc(grey0, stabilised, None)
    backward = dis.calc(stabilised, grey0, None)
    covered = None
    if camera.found:
        # Stabilised pixels outside the last keyframe have meaningless flow: fade it out there
        # so those pixels simply follow the camera, and count them as outside the frame.
        covered = cv2.warpAffine(np.ones(grey0.shape, np.float32), camera.matrix(), small,
                                 flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        trust = cv2.blur(cv2.erode(covered, np.ones((9, 9), np.uint8)), (17, 17))[..., None]
        forward *= trust
        backward *= trust
    visible0 = _visibility(forward, backward, covered)
    visible1 = _visibility(backward, forward)
    return Motion(first, last, camera, forward, backward, visible0, visible1)


def _visibility(there: np.ndarray, back: np.ndarray,
                covered: np.ndarray | None = None) -> np.ndarray:
    """Soft visibility of each pixel: 1 where going there and back returns home, → 0 if not.

    A pixel whose flow leaves the frame (or lands outside ``covered``) cannot be checked, and
    the other view has nothing to offer there: it keeps full weight.
    """
    h, w = there.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    target = np.dstack([xs, ys]) + there
    back_at_target = cv2.remap(back, target, None, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
    error = np.linalg.norm(there + back_at_target, axis=2)
    outside = ((target[..., 0] < 0) | (target[..., 0] > w - 1) | (target[..., 1] < 0)
               | (target[..., 1] > h - 1))
    if covered is not None:  # the target lies where the other keyframe has no pixels
        outside |= cv2.remap(covered, target, None, cv2.INTER_NEAREST,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0) < 0.5
    visible = 1.0 / (1.0 + (error / _OCCLUSION_PX) ** 2)
    visible[outside] = 1.0
    result: np.ndarray = np.maximum(visible, _MIN_VISIBILITY).astype(np.float32)
    return result


def synthesise(first: np.ndarray, last: np.ndarray, motion: Motion, t: float) -> np.ndarray:
    """The frame at time ``t`` in [0, 1]; t = 0 and t = 1 are the keyframes, exactly."""
    return Synthesiser(first, last, motion)(t)


class Synthesiser:
    """Frames of one pair at any ``t``, reusing work buffers between frames.

    Not thread-safe: one instance per producing thread. Each call returns a new array.
    """

    def __init__(self, first: np.ndarray, last: np.ndarray, motion: Motion) -> None:
        self.first, self.last, self.motion = first, last, motion
        width, height = motion.size
        small_w, small_h = motion.small_size
        self._upscale = (width / small_w, height / small_h)
        small2 = (small_h, small_w, 2)
        self._where = np.empty(small2, np.float32)
        self._r01 = np.empty(small2, np.float32)
        self._r10 = np.empty(small2, np.float32)
        self._scratch = np.empty(small2, np.float32)
        self._map0 = np.empty(small2, np.float32)
        self._map1 = np.empty(small2, np.float32)
        self._warp0 = np.empty((height, width, 4), np.uint8)
        self._warp1 = np.empty((height, width, 4), np.uint8)
        self._weight0 = np.empty((height, width), np.float32)
        self._weight1 = np.empty((height, width), np.float32)

    def __call__(self, t: float) -> np.ndarray:
        if t <= 0.0:
            return self.first.copy()
        if t >= 1.0:
            return self.last.copy()
        m = self.motion
        # where each output pixel is in the stabilised (first camera) view, and the residual
        # flow there
        to_stabilised = cv2.invertAffineTransform(m.camera.at(t))
        cv2.transform(m.grid, to_stabilised, dst=self._where)
        cv2.remap(m.forward, self._where, None, cv2.INTER_LINEAR, dst=self._r01,
                  borderMode=cv2.BORDER_REPLICATE)
        cv2.remap(m.backward, self._where, None, cv2.INTER_LINEAR, dst=self._r10,
                  borderMode=cv2.BORDER_REPLICATE)
        self._combine(self._map0, -(1 - t) * t, t * t)
        self._combine(self._scratch, (1 - t) ** 2, -t * (1 - t))
        cv2.transform(self._scratch, m.camera.matrix(), dst=self._map1)  # into the last view
        self._warp(m.rgba0, self._map0, self._warp0, self._weight0, 1 - t)
        self._warp(m.rgba1, self._map1, self._warp1, self._weight1, t)
        blended = cv2.blendLinear(self._warp0, self._warp1, self._weight0, self._weight1)
        frame: np.ndarray = cv2.cvtColor(blended, cv2.COLOR_RGBA2RGB)
        return frame

    def _combine(self, out: np.ndarray, w01: float, w10: float) -> None:
        """out = where + w01·R01(where) + w10·R10(where), with no temporaries."""
        cv2.scaleAdd(self._r01, w01, self._where, dst=out)
        cv2.scaleAdd(self._r10, w10, out, dst=out)

    def _warp(self, rgba: np.ndarray, small_map: np.ndarray, out: np.ndarray,
              weight: np.ndarray, time_weight: float) -> None:
        full_map = self._full_size(small_map)
        cv2.remap(rgba, full_map, None, cv2.INTER_LINEAR, dst=out,
                  borderMode=cv2.BORDER_REPLICATE)
        cv2.multiply(cv2.extractChannel(out, 3), time_weight / 255.0, dst=weight,
                     dtype=cv2.CV_32F)

    def _full_size(self, small_map: np.ndarray) -> np.ndarray:
        """A working-scale map of working-scale coordinates → full size and coordinates."""
        sx, sy = self._upscale
        if sx == 1.0 and sy == 1.0:
            return small_map
        width, height = self.motion.size
        big: np.ndarray = cv2.resize(small_map, (width, height), interpolation=cv2.INTER_LINEAR)
        # pixel centres: x_full = (x_small + 0.5)·s − 0.5
        cv2.transform(big, np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5]]),
                      dst=big)
        return big
