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

Frames are made in I420 (``media.yuv``), the encoder's layout: luma at full size, chroma and
visibility at half size, sampled with the map that is computed at half size anyway. That
blends half the samples of RGB and leaves the encoder no colour conversion to do.
"""

from __future__ import annotations

import cv2
import numpy as np

from inbetween.engines.keyframe.camera import Camera, estimate_camera
from inbetween.engines.keyframe.pair import KeyframePair
from inbetween.media.yuv import planes, rgb_to_i420

__all__ = ["Motion", "Synthesiser", "estimate_motion", "synthesise"]

_FLOW_MAX_SIDE = 960  # motion is estimated at most at this size, then scaled up
_OCCLUSION_PX = 1.5  # forward–backward mismatch (working-scale px) at which visibility halves
_GRID_DIVISOR = 2  # the synthesis grid is this much coarser than the working scale
_MIN_VISIBILITY = 0.05  # an occluded pixel still counts a little: never a hole
_OUTSIDE_ALPHA = 1  # (of 255) beyond a keyframe's edge: it has no data there at all


class Motion:
    """Everything about the pair that all frames share, computed once.

    ``camera`` is in working-scale coordinates (the residual flows ``forward``/``backward``
    are too, in the first camera's view); ``keyframes`` are the two keyframes in I420,
    ``luma`` their Y planes, ``chroma`` their half-size (Cb, Cr, visibility, 0) images (each
    in its own coordinates); ``consistency`` is the mean visibility, the pair's match
    confidence.

    For synthesis, the residual motion is kept on a grid of the first camera's view at half
    the working scale, padded by a quarter on every side (so views that reveal more than the
    first keyframe still map), with values already in full-size pixel coordinates of each
    keyframe. By Super SloMo's approximation (F(t→0) = −(1−t)t·F01 + t²·F10 and
    F(t→1) = (1−t)²·F01 − t(1−t)·F10, with each keyframe's base position B₀ or B₁ added),
    where a grid point sits in either keyframe at time t is a quadratic in t, kept as its
    coefficients ``path`` = (C₀, C₁, C₂): position(t) = C₀ + t·C₁ + t²·C₂, each four channels —
    (x, y) in the first keyframe, then in the last (four float channels warp fastest, and
    one multiply-add per power of t serves both keyframes).
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
        self.keyframes = (rgb_to_i420(first), rgb_to_i420(last))
        self.luma = tuple(planes(k)[0] for k in self.keyframes)
        self.chroma = tuple(_with_alpha(k, v)
                            for k, v in zip(self.keyframes, (visible0, visible1_own), strict=True))
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
        base0 = cv2.transform(grid, (self.to_full @ from_grid)[:2])
        base1 = cv2.transform(grid, (self.to_full @ camera3 @ from_grid)[:2])
        f01, f10 = (cv2.transform(f, np.diag([sx, sy, 1.0])[:2]) for f in pad_flow)
        g01, g10 = (cv2.transform(f, linear[:2]) for f in pad_flow)  # seen from the last
        # B₀ − (t − t²)·F01 + t²·F10 and B₁ + (1 − 2t + t²)·F01 − (t − t²)·F10, by powers of t
        self.path = (cv2.merge([base0, base1 + g01]),
                     cv2.merge([-f01, -2 * g01 - g10]),
                     cv2.merge([f01 + f10, g01 + g10]))

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


def _with_alpha(i420: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(Cb, Cr, visibility, 0) at chroma size: four channels remap fastest."""
    _, u, v = planes(i420)
    height, width = u.shape
    alpha = cv2.resize(visible, (width, height), interpolation=cv2.INTER_LINEAR)
    alpha8 = np.clip(alpha * 255.0 + 0.5, 1, 255).astype(np.uint8)
    # The outermost pixels get the lowest weight of all: remapping with BORDER_REPLICATE then
    # extends the colour beyond the frame but marks it as no data, so the other view wins.
    alpha8[0, :] = alpha8[-1, :] = alpha8[:, 0] = alpha8[:, -1] = _OUTSIDE_ALPHA
    chroma: np.ndarray = cv2.merge([u, v, alpha8, np.zeros_like(alpha8)])
    return chroma


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


def synthesise(motion: Motion, t: float) -> np.ndarray:
    """The I420 frame at motion progress ``t`` in [0, 1]; 0 and 1 are the keyframes, exactly."""
    return Synthesiser(motion)(t)


# chroma sample (j, i) sits at full-size (2j + 0.5, 2i + 0.5): chroma sited at 2×2 block
# centres; and back, full-size pixel coordinates → chroma-plane coordinates
_CHROMA_SITES = np.array([[2, 0, 0.5], [0, 2, 0.5], [0, 0, 1]])
_TO_CHROMA = np.linalg.inv(_CHROMA_SITES)[:2].astype(np.float32)


class Synthesiser(KeyframePair):
    """I420 frames of one pair at any ``t``, reusing work buffers between frames.

    Per frame, on a grid of every second output pixel — which is exactly the grid of chroma
    samples: where each point of the padded working grid sits in both keyframes at t (two
    multiply-adds of the quadratic ``Motion.path``), sampled along the camera path (one
    four-channel affine warp: OpenCV warps four float channels far faster than two) — the
    full-size source coordinates of each chroma sample in each keyframe. For each keyframe,
    that half-size map samples its chroma and visibility (one four-channel remap); scaled up
    to full size it samples its luma. The weights (1−t)·visibility and t·visibility blend
    chroma at half size and, scaled up, luma at full size.
    Not thread-safe: one instance per producing thread. Each call returns a new array.
    """

    def __init__(self, motion: Motion) -> None:
        super().__init__(*motion.keyframes)
        self.motion = motion
        width, height = motion.size
        if width % 2 or height % 2:
            raise ValueError(f"width and height must be even, got {width}×{height}")
        half = (height // 2, width // 2)
        self._positions = np.empty(motion.path[0].shape, np.float32)
        self._both = np.empty((*half, 4), np.float32)
        self._coarse = [np.empty((*half, 2), np.float32) for _ in range(2)]
        self._chroma_map = [np.empty((*half, 2), np.float32) for _ in range(2)]
        self._full_map = [np.empty((height, width, 2), np.float32) for _ in range(2)]
        self._luma = [np.empty((height, width), np.uint8) for _ in range(2)]
        self._chroma = [np.empty((*half, 4), np.uint8) for _ in range(2)]
        self._weight = [np.empty(half, np.float32) for _ in range(2)]
        self._full_weight = [np.empty((height, width), np.float32) for _ in range(2)]
        self._blended = np.empty((*half, 4), np.uint8)

    def between(self, t: float, bump: np.ndarray | None) -> np.ndarray:
        m = self.motion
        width, height = m.size
        # where each grid point sits in both keyframes at t (see ``Motion``)
        constant, linear, square = m.path
        cv2.scaleAdd(linear, t, constant, dst=self._positions)
        cv2.scaleAdd(square, t * t, self._positions, dst=self._positions)
        # where each chroma site of the frame sits in both keyframes, in full-size pixels
        sites = np.vstack([m.view_to_grid(t, bump), [0, 0, 1]]) @ _CHROMA_SITES
        cv2.warpAffine(self._positions, sites[:2], (width // 2, height // 2), dst=self._both,
                       flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                       borderMode=cv2.BORDER_REPLICATE)
        cv2.mixChannels([self._both], self._coarse, [0, 0, 1, 1, 2, 2, 3, 3])
        for k, time_weight in ((0, 1 - t), (1, t)):
            self._warp(k, time_weight)
        frame = np.empty((height * 3 // 2, width), np.uint8)
        y, u, v = planes(frame)
        cv2.blendLinear(self._luma[0], self._luma[1], self._full_weight[0],
                        self._full_weight[1], dst=y)
        cv2.blendLinear(self._chroma[0], self._chroma[1], self._weight[0], self._weight[1],
                        dst=self._blended)
        cv2.mixChannels([self._blended], [u, v], [0, 0, 1, 1])
        return frame

    def _warp(self, k: int, time_weight: float) -> None:
        """Keyframe ``k`` warped to the frame: luma, chroma, and their blending weights."""
        m, size = self.motion, self.motion.size
        coarse, full_map = self._coarse[k], self._full_map[k]
        cv2.transform(coarse, _TO_CHROMA, dst=self._chroma_map[k])
        cv2.remap(m.chroma[k], self._chroma_map[k], None, cv2.INTER_LINEAR, dst=self._chroma[k],
                  borderMode=cv2.BORDER_REPLICATE)
        cv2.resize(coarse, size, dst=full_map, interpolation=cv2.INTER_LINEAR)
        cv2.remap(m.luma[k], full_map, None, cv2.INTER_LINEAR, dst=self._luma[k],
                  borderMode=cv2.BORDER_REPLICATE)
        cv2.multiply(cv2.extractChannel(self._chroma[k], 2), time_weight / 255.0,
                     dst=self._weight[k], dtype=cv2.CV_32F)
        cv2.resize(self._weight[k], size, dst=self._full_weight[k],
                   interpolation=cv2.INTER_LINEAR)
