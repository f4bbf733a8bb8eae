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
from inbetween.engines.keyframe.pair import KeyframePair

__all__ = ["Motion", "Synthesiser", "estimate_motion", "synthesise"]

_FLOW_MAX_SIDE = 960  # motion is estimated at most at this size, then scaled up
_OCCLUSION_PX = 1.5  # forward–backward mismatch (working-scale px) at which visibility halves
_GRID_DIVISOR = 2  # the synthesis grid is this much coarser than the working scale
_MIN_VISIBILITY = 0.05  # an occluded pixel still counts a little: never a hole
_OUTSIDE_ALPHA = 1  # (of 255) beyond a keyframe's edge: it has no data there at all


class Motion:
    """Everything about the pair that all frames share, computed once.

    ``camera`` is in working-scale coordinates (the residual flows ``forward``/``backward``
    are too, in the first camera's view); ``rgba0``/``rgba1`` are the keyframes at full size
    whose alpha is their visibility (each in its own coordinates); ``consistency`` is the
    mean visibility, the pair's match confidence.

    For synthesis, the residual motion is kept on a grid of the first camera's view at half
    the working scale, padded by a quarter on every side (so views that reveal more than the
    first keyframe still map), with values already in full-size pixel coordinates of each
    keyframe: ``base0``/``base1`` are where a grid point sits in the first/last keyframe, and
    ``flow0``/``flow1`` the residual flows as seen from each keyframe.
    """

    def __init__(self, first: np.ndarray, last: np.ndarray, camera: Camera, forward: np.ndarray,
                 backward: np.ndarray, visible0: np.ndarray, visible1: np.ndarray) -> None:
        height, width = first.shape[:2]
        small_h, small_w = forward.shape[:2]
        self.size, self.camera = (width, height), camera
        self.consistency = float((visible0.mean() + visible1.mean()) / 2)
        # visibility of the last keyframe's own pixels: undo the stabilisation
        visible1_own = cv2.warpAffine(visible1, camera.matrix(), (small_w, small_h),
                                      flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        self.rgba0 = _with_alpha(first, visible0)
        self.rgba1 = _with_alpha(last, visible1_own)
        # working scale → full size, pixel centres aligned: x_full = (x_small + 0.5)·s − 0.5
        sx, sy = width / small_w, height / small_h
        self.to_full = _centres(sx, sy)
        # the synthesis grid: half the working scale (its maps are scaled up to full size
        # anyway), padded by a quarter on every side
        grid_w, grid_h = -(-small_w // _GRID_DIVISOR), -(-small_h // _GRID_DIVISOR)
        self.to_grid = np.linalg.inv(_centres(small_w / grid_w, small_h / grid_h))
        self.pad = (round(grid_w / 4), round(grid_h / 4))
        px, py = self.pad
        xs, ys = np.meshgrid(np.arange(-px, grid_w + px, dtype=np.float32),
                             np.arange(-py, grid_h + py, dtype=np.float32))
        grid = np.dstack([xs, ys])
        camera3 = np.vstack([camera.matrix(), [0, 0, 1]])
        from_grid = np.linalg.inv(self.to_grid)
        linear = np.diag([sx, sy, 1.0]) @ camera3
        linear[:2, 2] = 0
        pad_flow = [
            cv2.copyMakeBorder(cv2.resize(f, (grid_w, grid_h), interpolation=cv2.INTER_AREA),
                               py, py, px, px, cv2.BORDER_CONSTANT, value=(0, 0))
            for f in (forward, backward)
        ]
        self.base0 = cv2.transform(grid, (self.to_full @ from_grid)[:2])
        self.base1 = cv2.transform(grid, (self.to_full @ camera3 @ from_grid)[:2])
        self.flow0 = [cv2.transform(f, np.diag([sx, sy, 1.0])[:2]) for f in pad_flow]
        self.flow1 = [cv2.transform(f, linear[:2]) for f in pad_flow]

    def map_grid(self, step: int) -> np.ndarray:
        """Full-size coordinates of every ``step``-th output pixel centre, as resize samples."""
        width, height = self.size
        cols, rows = -(-width // step), -(-height // step)
        kx, ky = width / cols, height / rows
        xs, ys = np.meshgrid((np.arange(cols, dtype=np.float32) + 0.5) * kx - 0.5,
                             (np.arange(rows, dtype=np.float32) + 0.5) * ky - 0.5)
        grid: np.ndarray = np.dstack([xs, ys])
        return grid

    def view_to_grid(self, t: float, bump: np.ndarray | None = None) -> np.ndarray:
        """2×3 map: a full-size pixel of the frame at ``t`` → its padded-grid position.

        ``bump`` (3×3, full-size pixels) is an extra camera move applied to the output frame.
        """
        px, py = self.pad
        at = np.vstack([self.camera.at(t), [0, 0, 1]])
        shift = np.array([[1, 0, px], [0, 1, py], [0, 0, 1]])
        matrix = shift @ self.to_grid @ np.linalg.inv(at) @ np.linalg.inv(self.to_full)
        if bump is not None:
            matrix = matrix @ np.linalg.inv(bump)
        result: np.ndarray = matrix[:2]
        return result


def _centres(sx: float, sy: float) -> np.ndarray:
    """3×3 map between pixel grids of scale ratio (sx, sy) with pixel centres aligned."""
    return np.array([[sx, 0, 0.5 * sx - 0.5], [0, sy, 0.5 * sy - 0.5], [0, 0, 1]])


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
    """The frame at motion progress ``t`` in [0, 1]; 0 and 1 are the keyframes, exactly."""
    return Synthesiser(first, last, motion)(t)


class Synthesiser(KeyframePair):
    """Frames of one pair at any ``t``, reusing work buffers between frames.

    Per frame, on a grid of every ``MAP_STEP``-th output pixel: where each output pixel
    sits in the padded working grid (the camera path), the residual motion there (two sums of
    flows and a remap); then at full size: the two maps scaled up, two remaps of the RGBA
    keyframes (colour and visibility at once), one visibility-weighted blend.
    Not thread-safe: one instance per producing thread. Each call returns a new array.
    """

    MAP_STEP = 2

    def __init__(self, first: np.ndarray, last: np.ndarray, motion: Motion) -> None:
        super().__init__(first, last)
        self.motion = motion
        width, height = motion.size
        self._out_grid = motion.map_grid(self.MAP_STEP)
        grid_shape, out_shape = motion.base0.shape, self._out_grid.shape
        self._small0 = np.empty(grid_shape, np.float32)
        self._small1 = np.empty(grid_shape, np.float32)
        self._where = np.empty(out_shape, np.float32)
        self._coarse0 = np.empty(out_shape, np.float32)
        self._coarse1 = np.empty(out_shape, np.float32)
        self._map0 = np.empty((height, width, 2), np.float32)
        self._map1 = np.empty((height, width, 2), np.float32)
        self._warp0 = np.empty((height, width, 4), np.uint8)
        self._warp1 = np.empty((height, width, 4), np.uint8)
        self._rgb0 = np.empty((height, width, 3), np.uint8)
        self._rgb1 = np.empty((height, width, 3), np.uint8)
        self._weight0 = np.empty((height, width), np.float32)
        self._weight1 = np.empty((height, width), np.float32)

    def between(self, t: float, bump: np.ndarray | None) -> np.ndarray:
        m = self.motion
        # Super SloMo: F(t→0) = −(1−t)t·F01 + t²·F10, F(t→1) = (1−t)²·F01 − t(1−t)·F10
        self._combine(self._small0, m.base0, m.flow0, -(1 - t) * t, t * t)
        self._combine(self._small1, m.base1, m.flow1, (1 - t) ** 2, -t * (1 - t))
        cv2.transform(self._out_grid, m.view_to_grid(t, bump), dst=self._where)
        self._warp(m.rgba0, self._small0, self._coarse0, self._map0, self._warp0,
                   self._weight0, 1 - t)
        self._warp(m.rgba1, self._small1, self._coarse1, self._map1, self._warp1,
                   self._weight1, t)
        # blending three channels costs a third less than four; the alphas are weights now
        cv2.cvtColor(self._warp0, cv2.COLOR_RGBA2RGB, dst=self._rgb0)
        cv2.cvtColor(self._warp1, cv2.COLOR_RGBA2RGB, dst=self._rgb1)
        frame: np.ndarray = cv2.blendLinear(self._rgb0, self._rgb1, self._weight0,
                                            self._weight1)
        return frame

    @staticmethod
    def _combine(out: np.ndarray, base: np.ndarray, flows: list[np.ndarray], w01: float,
                 w10: float) -> None:
        """out = base + w01·F01 + w10·F10, with no temporaries."""
        cv2.scaleAdd(flows[0], w01, base, dst=out)
        cv2.scaleAdd(flows[1], w10, out, dst=out)

    def _warp(self, rgba: np.ndarray, small_map: np.ndarray, coarse: np.ndarray,
              full_map: np.ndarray, out: np.ndarray, weight: np.ndarray,
              time_weight: float) -> None:
        cv2.remap(small_map, self._where, None, cv2.INTER_LINEAR, dst=coarse,
                  borderMode=cv2.BORDER_REPLICATE)
        cv2.resize(coarse, self.motion.size, dst=full_map, interpolation=cv2.INTER_LINEAR)
        cv2.remap(rgba, full_map, None, cv2.INTER_LINEAR, dst=out,
                  borderMode=cv2.BORDER_REPLICATE)
        cv2.multiply(cv2.extractChannel(out, 3), time_weight / 255.0, dst=weight,
                     dtype=cv2.CV_32F)
