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

5. Things that move on their own (``layers``): regions neither the camera nor the flow
   explain are matched across any distance; near them the residual flow is switched off (the
   background follows the camera, never dragged toward an object), each keyframe's object
   pixels get no weight (the hole is filled with the background the other keyframe shows),
   and the object is drawn over the frame as a feathered sprite travelling along its own
   similarity path (``Sprite``), or sliding out/in through the frame edge, or fading.

Frames are made in I420 (``media.yuv``), the encoder's layout: luma at full size, chroma and
visibility at half size, sampled with the map that is computed at half size anyway. That
blends half the samples of RGB and leaves the encoder no colour conversion to do.
"""

from __future__ import annotations

import cv2
import numpy as np

from inbetween.engines.keyframe.camera import Camera, estimate_camera
from inbetween.engines.keyframe.layers import Layer, find_layers, grown, objects_near
from inbetween.engines.keyframe.pair import KeyframePair
from inbetween.media.yuv import planes, rgb_to_i420
from inbetween.parallel import both

__all__ = ["Fallback", "Motion", "Sprite", "Synthesiser", "estimate_motion", "judge",
           "synthesise"]

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
                 backward: np.ndarray, visible0: np.ndarray, visible1: np.ndarray,
                 layers: list[Layer] | None = None) -> None:
        height, width = first.shape[:2]
        small_h, small_w = forward.shape[:2]
        self.size, self.camera = (width, height), camera
        self.working, self.rgb = (small_w, small_h), (first, last)
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
        self.layers = layers or []
        self.sprites = [Sprite(self, layer) for layer in self.layers]

    def objects(self) -> list[dict[str, object]]:
        """What the engine understood: each object's state and its box in each keyframe
        ([x, y, w, h] in output pixels; None where it is absent)."""
        return [{"state": sprite.layer.state, "first_box": sprite.box(0),
                 "last_box": sprite.box(1)} for sprite in self.sprites]

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


def estimate_motion(first: np.ndarray, last: np.ndarray, *, use_camera: bool = True,
                    find_objects: bool = True) -> Motion:
    """Camera, residual flows, visibilities and independently moving objects (unless
    ``find_objects`` is off) of a pair of same-sized RGB keyframes."""
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
    layers: list[Layer] = []
    if find_objects:  # in colour: an object can have the grey of the ground it crosses
        colour0, colour1 = (cv2.resize(img, small, interpolation=cv2.INTER_AREA)
                            for img in (first, last))
        if camera.found:
            colour1 = cv2.warpAffine(colour1, camera.matrix(), small,
                                     flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_REPLICATE)
        layers = find_layers(colour0, colour1, forward, backward, covered)
    if layers:  # near the objects the background follows the camera alone
        keep = 1.0 - objects_near(layers, grey0.shape, margin=0.015 * small[0])
        forward *= keep[..., None]
        backward *= keep[..., None]
    visible0, visible1 = both(lambda ways: _visibility(*ways), (forward, backward, covered),
                              (backward, forward, None))
    for layer in layers:  # an object's own pixels (and its soft edge): the other keyframe
        for mask, visible in ((layer.mask0, visible0), (layer.mask1, visible1)):  # shows
            if mask is not None:  # what is behind
                np.minimum(visible, 1.0 - grown(mask.astype(np.float32), 0.004 * small[0]),
                           out=visible)
    return Motion(first, last, camera, forward, backward, visible0, visible1, layers)


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
# centres; and back, a full-size pixel coordinate p is chroma-plane coordinate p/2 − 1/4
_CHROMA_SITES = np.array([[2, 0, 0.5], [0, 2, 0.5], [0, 0, 1]])


class Synthesiser(KeyframePair):
    """I420 frames of one pair at any ``t``, reusing work buffers between frames.

    Per frame, on a grid of every second output pixel — which is exactly the grid of chroma
    samples: where each point of the padded working grid sits in both keyframes at t (two
    multiply-adds of the quadratic ``Motion.path``), sampled along the camera path (one
    four-channel affine warp: OpenCV warps four float channels far faster than two) — the
    full-size source coordinates of each chroma sample in each keyframe. For each keyframe,
    that half-size map, as x and y planes in chroma-plane coordinates, samples its chroma
    and visibility (one four-channel remap: OpenCV remaps a half-size image fastest with
    separate x and y maps); scaled up to full size, as one two-channel map (faster for the
    full-size luma, most of all at 1080p), it samples its luma. The weights (1−t)·visibility
    and t·visibility blend chroma at half size and, scaled up, luma at full size.
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
        # each keyframe's map: at half size in full-size pixels (x, y interleaved), as x and
        # y planes in chroma-plane coordinates, and at full size (interleaved)
        self._coarse = [np.empty((*half, 2), np.float32) for _ in range(2)]
        self._chroma_map = [np.empty(half, np.float32) for _ in range(4)]
        self._full_map = [np.empty((height, width, 2), np.float32) for _ in range(2)]
        self._luma = [np.empty((height, width), np.uint8) for _ in range(2)]
        self._chroma = [np.empty((*half, 4), np.uint8) for _ in range(2)]
        self._weight = [np.empty(half, np.float32) for _ in range(2)]
        self._full_weight = [np.empty((height, width), np.float32) for _ in range(2)]
        self._blended = np.empty((*half, 4), np.uint8)
        # the corners of the chroma grid, homogeneous: where they land bounds the grid
        # points a frame samples
        self._corners = np.array([[0, 0, 1], [width // 2 - 1, 0, 1], [0, height // 2 - 1, 1],
                                  [width // 2 - 1, height // 2 - 1, 1]], np.float64).T
        self.fallback: Fallback | None = None

    def between(self, t: float, bump: np.ndarray | None) -> np.ndarray:
        m = self.motion
        width, height = m.size
        # the grid points the frame's chroma sites fall between (their bounding box, with
        # the neighbour bilinear sampling reads): only there is the path evaluated
        sites = np.vstack([m.view_to_grid(t, bump), [0, 0, 1]]) @ _CHROMA_SITES
        x0, y0, x1, y1 = _bounds(sites[:2] @ self._corners, self._positions.shape)
        # where each of those grid points sits in both keyframes at t (see ``Motion``)
        constant, linear, square = (c[y0:y1, x0:x1] for c in m.path)
        positions = self._positions[y0:y1, x0:x1]
        cv2.scaleAdd(linear, t, constant, dst=positions)
        cv2.scaleAdd(square, t * t, positions, dst=positions)
        # where each chroma site of the frame sits in both keyframes, in full-size pixels
        sites[:2, 2] -= (x0, y0)
        cv2.warpAffine(positions, sites[:2], (width // 2, height // 2), dst=self._both,
                       flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                       borderMode=cv2.BORDER_REPLICATE)
        cv2.mixChannels([self._both], [*self._coarse, *self._chroma_map],
                        [0, 0, 1, 1, 2, 2, 3, 3, 0, 4, 1, 5, 2, 6, 3, 7])
        for k, time_weight in ((0, 1 - t), (1, t)):
            self._warp(k, time_weight)
        frame = np.empty((height * 3 // 2, width), np.uint8)
        y, u, v = planes(frame)
        cv2.blendLinear(self._luma[0], self._luma[1], self._full_weight[0],
                        self._full_weight[1], dst=y)
        cv2.blendLinear(self._chroma[0], self._chroma[1], self._weight[0], self._weight[1],
                        dst=self._blended)
        cv2.mixChannels([self._blended], [u, v], [0, 0, 1, 1])
        if self.fallback is not None:  # the safer rendering where the motion is not trusted
            self.fallback.blend(frame, t, bump)
        for sprite in m.sprites:
            sprite.draw(frame, t, bump)
        return frame

    def agreement(self) -> tuple[np.ndarray, np.ndarray]:
        """How far apart the two keyframes' warps land at mid-clip: per pixel (at a quarter
        of the output size) the luma difference of keyframe 0 and keyframe 1 warped to
        t = 0.5, and the weight each difference deserves (where both are visible). A motion
        that explains the pair brings both to the same picture."""
        self.between(0.5, None)
        width, height = self.motion.size
        small = (max(1, width // 4), max(1, height // 4))
        lumas = [cv2.resize(y, small, interpolation=cv2.INTER_AREA).astype(np.float32)
                 for y in self._luma]
        # at t = 0.5 each weight is half the visibility
        weights = [cv2.resize(w, small, interpolation=cv2.INTER_AREA) * 2.0
                   for w in self._full_weight]
        return cv2.absdiff(lumas[0], lumas[1]), cv2.min(weights[0], weights[1])

    def _warp(self, k: int, time_weight: float) -> None:
        """Keyframe ``k`` warped to the frame: luma, chroma, and their blending weights."""
        m, size = self.motion, self.motion.size
        xy = self._chroma_map[2 * k:2 * k + 2]
        for plane in xy:  # full-size pixel p → chroma-plane coordinate p/2 − 1/4
            cv2.addWeighted(plane, 0.5, plane, 0.0, -0.25, dst=plane)
        cv2.remap(m.chroma[k], *xy, cv2.INTER_LINEAR, dst=self._chroma[k],
                  borderMode=cv2.BORDER_REPLICATE)
        cv2.resize(self._coarse[k], size, dst=self._full_map[k], interpolation=cv2.INTER_LINEAR)
        cv2.remap(m.luma[k], self._full_map[k], None, cv2.INTER_LINEAR, dst=self._luma[k],
                  borderMode=cv2.BORDER_REPLICATE)
        cv2.multiply(cv2.extractChannel(self._chroma[k], 2), time_weight / 255.0,
                     dst=self._weight[k], dtype=cv2.CV_32F)
        # scaled up smoothly for luma: where visibility steps (a keyframe's edge coming into
        # view, an occlusion) the seam stays a ramp, not a staircase of 2×2 blocks
        cv2.resize(self._weight[k], size, dst=self._full_weight[k],
                   interpolation=cv2.INTER_LINEAR)


def _bounds(points: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1): the rows and columns of a grid of ``shape`` that bilinear sampling
    at ``points`` (2×N) reads, clamped to the grid (replicating its border, as the warp does,
    needs nothing beyond it)."""
    rows, cols = shape[:2]
    x0 = min(max(int(np.floor(points[0].min())) - 1, 0), cols - 1)
    y0 = min(max(int(np.floor(points[1].min())) - 1, 0), rows - 1)
    x1 = max(min(int(np.ceil(points[0].max())) + 2, cols), x0 + 1)
    y1 = max(min(int(np.ceil(points[1].max())) + 2, rows), y0 + 1)
    return x0, y0, x1, y1


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)


_BLOCKS = 16  # the frame is judged in 16 × 9 blocks (of a 16:9 frame)
_WORSE, _WORSE_BY = 2.0, 3.0  # a block falls back when the motion's mid-clip disagreement
_MIN_DISAGREEMENT = 6.0  # (grey levels) passes 2 × the safer rendering's + 3, and 6
_WHOLE_FRAME = 0.5  # when more than this share of the frame falls back, all of it does
_SEEN = 0.2  # a block whose mean mutual visibility is below this, the motion cannot follow
_UNFOLLOWED = 0.1  # the share of such blocks (where the keyframes differ) that falls back


class Fallback:
    """Where the motion does not explain the keyframes, a safer rendering: the camera move
    alone with a dissolve (no residual flow, no objects) — or a plain dissolve when there is
    no camera move. ``mask`` (output size, 0–1, soft) is where it replaces the motion;
    ``regions`` its boxes in output pixels; ``share`` how much of the frame it covers."""

    def __init__(self, safer: Synthesiser, mask: np.ndarray, reason: str) -> None:
        width, height = safer.motion.size
        self.safer = safer
        self.mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_LINEAR)
        self.chroma_mask = cv2.resize(mask, (width // 2, height // 2),
                                      interpolation=cv2.INTER_LINEAR)
        self.share = float(self.mask.mean())
        self.reason = reason
        count, _, stats, _ = cv2.connectedComponentsWithStats(
            (self.mask > 0.5).astype(np.uint8), connectivity=8)
        self.regions = [[int(v) for v in stats[k, :4]] for k in range(1, count)]

    def blend(self, frame: np.ndarray, t: float, bump: np.ndarray | None) -> None:
        """Replace ``frame`` (I420, in place) by the safer rendering where ``mask`` says."""
        safer = self.safer.between(t, bump)
        for mine, theirs, mask in zip(planes(frame), planes(safer),
                                      (self.mask, self.chroma_mask, self.chroma_mask),
                                      strict=True):
            cv2.blendLinear(theirs, mine, mask, 1.0 - mask, dst=mine)

    def details(self) -> dict[str, object]:
        """For ``meta.details.fallback``."""
        return {"share": round(self.share, 3), "whole_frame": self.share >= 0.999,
                "regions": self.regions, "reason": self.reason}


def camera_only(motion: Motion) -> Synthesiser:
    """The safer rendering of ``motion``'s pair: its camera move and a dissolve."""
    small_w, small_h = motion.working
    still = np.zeros((small_h, small_w, 2), np.float32)
    ones = np.ones((small_h, small_w), np.float32)
    return Synthesiser(Motion(*motion.rgb, motion.camera, still, still, ones, ones))


def judge(synthesiser: Synthesiser) -> Fallback | None:
    """Block by block, whether the motion explains the keyframes at least as well as the
    safer rendering (the camera alone and a dissolve) does: compared at mid-clip, where the
    two keyframes' warps should land on the same picture. Blocks where the motion's
    disagreement is worse fall back (softly); more than half the frame, all of it. None when
    nothing falls back."""
    motion = synthesiser.motion
    if not motion.layers and not np.any(motion.path[1]):
        return None  # nothing beyond the camera: it is the safer rendering already
    width, height = motion.size
    safer = camera_only(motion)
    mine, weight = synthesiser.agreement()
    theirs, covered = safer.agreement()  # covered: where both keyframes have pixels
    blocks = (_BLOCKS, max(1, round(_BLOCKS * height / width)))
    weighted = cv2.resize(mine * weight, blocks, interpolation=cv2.INTER_AREA)
    total = cv2.resize(weight, blocks, interpolation=cv2.INTER_AREA)
    judged = total > _SEEN  # blocks both keyframes see enough of
    disagreement = np.where(judged, weighted / np.maximum(total, 1e-6), 0.0)
    # the same pixels, the same weights: what each rendering does where the motion is seen
    safer_disagreement = np.where(judged, cv2.resize(theirs * weight, blocks,
                                                     interpolation=cv2.INTER_AREA)
                                  / np.maximum(total, 1e-6), 0.0)
    worse = judged & (disagreement > np.maximum(_WORSE * safer_disagreement + _WORSE_BY,
                                                _MIN_DISAGREEMENT))
    # blocks the motion itself says it cannot follow (neither keyframe sees the other there)
    # — unless an object was there, whose own pixels are hidden on purpose
    near = objects_near(motion.layers, motion.working[::-1], 0.02 * motion.working[0])
    near_objects = cv2.resize(near, blocks, interpolation=cv2.INTER_AREA) > 0.05
    # ... where the keyframes differ (on smooth ground an unfollowed flow costs nothing)
    # and both have pixels (not a margin only one of them shows)
    differs = cv2.resize(theirs, blocks, interpolation=cv2.INTER_AREA) > 2 * _MIN_DISAGREEMENT
    both_there = cv2.resize(covered, blocks, interpolation=cv2.INTER_AREA) > 0.5
    # and over a large part of the frame (a scene partly replaced), not one subject the flow
    # drags along imperfectly (a dissolve would show it twice)
    unfollowed = ~judged & ~near_objects & differs & both_there
    if unfollowed.mean() >= _UNFOLLOWED:
        worse |= unfollowed
    if not worse.any():
        return None
    if worse.mean() > _WHOLE_FRAME:
        mask = np.ones(blocks[::-1], np.float32)
        reason = ("the motion does not explain the keyframes over most of the frame: the "
                  "camera move alone, with a dissolve")
    else:
        # soft: a block's neighbours take a part, so no straight seam follows the grid
        mask = cv2.resize(worse.astype(np.float32), (blocks[0] * 8, blocks[1] * 8),
                          interpolation=cv2.INTER_NEAREST)
        mask = cv2.GaussianBlur(mask, (0, 0), 6)
        mask = np.clip(mask * 1.6, 0.0, 1.0)
        reason = ("in these regions the keyframes' warps disagree at mid-clip more than a "
                  "dissolve's: the camera move alone, with a dissolve, there")
    return Fallback(safer, mask.astype(np.float32), reason)


_FADE = (0.35, 0.65)  # the span of t over which an object appears or vanishes in place


class Sprite:
    """One object drawn over the frames: its pixels and matte cut from the keyframe(s) that
    show it (full size, I420), placed at t by its own path composed with the camera's.

    A matched object's two cut-outs are both carried along its path, the first one's weight
    going from 1 to 0 as the last one's goes from 0 to 1; one that vanishes (appears) is cut
    from the first (last) keyframe only and slides out (in) through the edge it touches, or
    fades over ``_FADE``.
    """

    def __init__(self, motion: Motion, layer: Layer) -> None:
        self.layer, self.motion = layer, motion
        width, height = motion.size
        small = layer.mask0 if layer.mask0 is not None else layer.mask1
        assert small is not None
        small_h, small_w = small.shape
        camera = np.vstack([motion.camera.matrix(), [0, 0, 1]])
        self.cuts: list[tuple[int, tuple[int, int], tuple[np.ndarray, ...]] | None] = []
        for k, mask in ((0, layer.mask0), (1, layer.mask1)):
            if mask is None:
                self.cuts.append(None)
                continue
            matte = mask.astype(np.float32)
            if k == 1 and motion.camera.found:  # into the last keyframe's own view
                matte = cv2.warpAffine(matte, camera[:2], (small_w, small_h),
                                       flags=cv2.INTER_LINEAR)
            matte = cv2.resize(matte, (width, height), interpolation=cv2.INTER_LINEAR)
            feather = max(3, round(width / 400)) | 1  # a soft edge of a few pixels
            self.cuts.append(self._cut(k, cv2.GaussianBlur(matte, (feather, feather), 0)))
        ys, xs = np.nonzero(small)
        self.centre = complex(xs.mean(), ys.mean())  # working scale, first view
        self.exit = (0.0, 0.0)
        if layer.state != "matched":
            self.exit = self._exit(width, height)
        # keyframe pixel (full size) → its place in the first view, working scale
        to_small = np.linalg.inv(motion.to_full)
        self.own = (to_small, np.linalg.inv(camera) @ to_small)

    def _exit(self, width: int, height: int) -> tuple[float, float]:
        """The move (output pixels) that takes an object at the frame's edge — where the
        keyframe that shows it has it — out through that edge, or (0, 0) when it is not at
        one."""
        box = self.box(0) or self.box(1)
        if box is None or self.layer.edge is None:
            return (0.0, 0.0)
        x, y, w, h = box
        return {"left": (-(x + w), 0.0), "right": (width - x, 0.0),
                "top": (0.0, -(y + h)), "bottom": (0.0, height - y)}[self.layer.edge]

    def _cut(self, k: int, matte: np.ndarray) -> tuple[int, tuple[int, int],
                                                       tuple[np.ndarray, ...]] | None:
        ys, xs = np.nonzero(matte > 0.02)
        if xs.size == 0:
            return None
        height, width = matte.shape
        x0, y0 = max(0, xs.min() - 2) // 2 * 2, max(0, ys.min() - 2) // 2 * 2
        x1 = min(width, -(-(xs.max() + 3) // 2) * 2)
        y1 = min(height, -(-(ys.max() + 3) // 2) * 2)
        y, u, v = planes(self.motion.keyframes[k])
        alpha = np.ascontiguousarray(matte[y0:y1, x0:x1], dtype=np.float32)
        chroma = cv2.merge([u[y0 // 2:y1 // 2, x0 // 2:x1 // 2],
                            v[y0 // 2:y1 // 2, x0 // 2:x1 // 2]]).astype(np.float32)
        alpha_c = cv2.resize(alpha, (chroma.shape[1], chroma.shape[0]),
                             interpolation=cv2.INTER_AREA)
        return k, (x0, y0), (y[y0:y1, x0:x1].astype(np.float32), alpha, chroma, alpha_c)

    def path(self, t: float) -> np.ndarray:
        """3×3, working scale: the object's place in the first view → its place in the frame
        at ``t`` (for an object only the last keyframe shows: from its place there).

        A matched object's centre goes in a straight line across the screen, from where the
        first keyframe shows it to where the last one does, turning and growing about itself
        by its whole apparent change (its own motion and the camera's) raised to ``t``; one
        in a single keyframe fades where the background (the camera) takes it, or, at the
        frame's edge, slides across the screen out or in through that edge."""
        layer, camera = self.layer, self.motion.camera
        if layer.state == "matched":
            c0 = self.centre
            a = camera.a * layer.motion.a  # apparent rotation and scale, first → last
            end = camera.a * (layer.motion.a * c0 + layer.motion.b) + camera.b
            a_t = Camera(a, 0j).at(t)
            centre = c0 + t * (end - c0)
            a_t[:, 2] = [centre.real - (a_t[0, 0] * c0.real + a_t[0, 1] * c0.imag),
                         centre.imag - (a_t[1, 0] * c0.real + a_t[1, 1] * c0.imag)]
            return np.vstack([a_t, [0, 0, 1]])
        if self.exit != (0.0, 0.0):  # on its own way across the screen, from (to) the place
            return np.vstack([camera.at(1.0 if layer.state == "appeared" else 0.0),  # where
                              [0, 0, 1]])  # the keyframe shows it: see ``slide``
        return np.vstack([camera.at(t), [0, 0, 1]])

    def slide(self, t: float) -> np.ndarray:
        """3×3, output pixels: where an object at the frame's edge has got to at ``t`` on its
        way out (vanishing) or in (appearing) through that edge."""
        dx, dy = self.exit
        share = t if self.layer.state == "vanished" else 1 - t
        return np.array([[1, 0, dx * share], [0, 1, dy * share], [0, 0, 1]], np.float64)

    def weight(self, k: int, t: float) -> float:
        """How much cut ``k``'s colour counts at ``t`` (a matched object's two cuts
        cross-fade; the opacity is their mattes' union)."""
        layer = self.layer
        if layer.state == "matched":
            return 1 - t if k == 0 else t
        return 1.0

    def opacity(self, t: float) -> float:
        layer = self.layer
        if layer.state == "matched" or self.exit != (0.0, 0.0):
            return 1.0
        fade = _smoothstep((t - _FADE[0]) / (_FADE[1] - _FADE[0]))
        return 1 - fade if layer.state == "vanished" else fade

    def box(self, k: int) -> list[int] | None:
        cut = self.cuts[k]
        if cut is None:
            return None
        _, (x0, y0), (_, alpha, _, _) = cut
        ys, xs = np.nonzero(alpha > 0.5)
        if xs.size == 0:
            return None
        return [int(x0 + xs.min()), int(y0 + ys.min()), int(xs.max() - xs.min() + 1),
                int(ys.max() - ys.min() + 1)]

    def draw(self, frame: np.ndarray, t: float, bump: np.ndarray | None) -> None:
        """Composite the object at ``t`` over the I420 ``frame`` (in place)."""
        m = self.motion
        width, height = m.size
        view = m.to_full if self.layer.state == "matched" else self.slide(t) @ m.to_full
        if bump is not None:
            view = bump @ view
        path = self.path(t)
        if self.layer.state == "matched":  # the last keyframe's object, brought back by T⁻¹
            back = np.linalg.inv(np.vstack([self.layer.motion.matrix(), [0, 0, 1]]))
        else:
            back = np.eye(3)
        placed = []
        opacity = self.opacity(t)
        if opacity <= 0:
            return
        for k, cut in enumerate(self.cuts):
            weight = self.weight(k, t)
            if cut is None or weight <= 0:
                continue
            _, (x0, y0), pieces = cut
            local = view @ path @ (back if k == 1 else np.eye(3)) @ self.own[k] @ np.array(
                [[1, 0, x0], [0, 1, y0], [0, 0, 1]], np.float64)
            placed.append((local, weight, pieces))
        if not placed:
            return
        corners = np.array([[0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1]], np.float64)
        boxes = []
        for local, _, (luma, *_rest) in placed:
            h, w = luma.shape
            boxes.append((local @ (corners * [w, h, 1]).T)[:2])
        points = np.hstack(boxes)
        left = max(0, int(np.floor(points[0].min())) // 2 * 2)
        top = max(0, int(np.floor(points[1].min())) // 2 * 2)
        right = min(width, -(-int(np.ceil(points[0].max() + 1)) // 2) * 2)
        bottom = min(height, -(-int(np.ceil(points[1].max() + 1)) // 2) * 2)
        if right <= left or bottom <= top:
            return
        size, half = (right - left, bottom - top), ((right - left) // 2, (bottom - top) // 2)
        shift = np.array([[1, 0, -left], [0, 1, -top], [0, 0, 1]], np.float64)
        # colour: the cuts weighted by weight × matte; opacity: the union of the mattes
        luma_sum = np.zeros(size[::-1], np.float32)
        weight_sum = np.full(size[::-1], 1e-6, np.float32)
        alpha = np.zeros(size[::-1], np.float32)
        chroma_sum = np.zeros((*half[::-1], 2), np.float32)
        weight_c_sum = np.full(half[::-1], 1e-6, np.float32)
        alpha_c = np.zeros(half[::-1], np.float32)
        for local, weight, (luma, matte, chroma, matte_c) in placed:
            full = (shift @ local)[:2]
            sites = (np.linalg.inv(_CHROMA_SITES) @ shift @ local @ _CHROMA_SITES)[:2]
            a = cv2.warpAffine(matte, full, size, flags=cv2.INTER_LINEAR)
            luma_sum += cv2.warpAffine(luma, full, size, flags=cv2.INTER_LINEAR) * (a * weight)
            weight_sum += a * weight
            np.maximum(alpha, a, out=alpha)
            a_c = cv2.warpAffine(matte_c, sites, half, flags=cv2.INTER_LINEAR)
            chroma_sum += cv2.warpAffine(chroma, sites, half, flags=cv2.INTER_LINEAR) * (
                a_c * weight)[..., None]
            weight_c_sum += a_c * weight
            np.maximum(alpha_c, a_c, out=alpha_c)
        alpha *= opacity
        alpha_c *= opacity
        y, u, v = planes(frame)
        roi = y[top:bottom, left:right]
        roi[...] = np.clip(roi * (1 - alpha) + luma_sum / weight_sum * alpha + 0.5, 0, 255
                           ).astype(np.uint8)
        for c, plane in enumerate((u, v)):
            croi = plane[top // 2:bottom // 2, left // 2:right // 2]
            croi[...] = np.clip(croi * (1 - alpha_c) + chroma_sum[..., c] / weight_c_sum
                                * alpha_c + 0.5, 0, 255).astype(np.uint8)
