"""Things that move on their own: found where the camera and the dense flow do not explain
the pair, matched across any distance, and carried along their own path as layers.

1. **Changed regions.** In the first keyframe's view (the last one stabilised by the camera),
   pixels that differ between the keyframes *and* that the dense residual flow does not
   explain (warping by it leaves them different) — what a travelling object leaves behind
   and arrives at. Connected regions of a plausible size are the candidates; a pair that
   differs almost everywhere (another scene, a lighting change) has none.
2. **Matching.** ORB features inside the regions of both keyframes are matched, grouped by
   (region in the first, region in the last), and each group gives a similarity (rotation,
   scale, translation) by RANSAC; a region without enough features is matched by normalised
   cross-correlation of its patch (translation). A candidate is kept when the object's pixels
   agree under its motion: the object's own mask in each keyframe is the part of its region
   that matches the other keyframe moved by that motion (this also splits an object from the
   background it uncovers when its two positions overlap). Small moves are left to the flow.
3. **Appearing and vanishing.** A region left unmatched holds an object in the keyframe where
   it differs from its surroundings: it vanished (in the first only) or appeared (in the last
   only). (How it goes — through the frame's edge, or fading — is ``flow.Sprite``'s.)

Coordinates are the working scale of ``flow.estimate_motion``, in the first keyframe's view.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from inbetween.engines.keyframe.camera import Camera
from inbetween.parallel import both

__all__ = ["Layer", "find_layers", "grown", "objects_near"]

_DIFF = 28  # grey levels (after a small blur) that count as "changed"
_AGREE = 22  # grey levels within which an object matches itself under its motion
_MIN_AREA = 0.0015  # of the frame: smaller regions are noise
_MAX_AREA = 0.25  # of the frame: one region larger than this is no object
_MAX_CHANGED = 0.4  # of the frame: more changed than this, it is another scene or light
_MIN_MOVE = 0.03  # of the frame width: smaller moves are the dense flow's
_MIN_COVER = 0.35  # of its regions an object's matching pixels must cover
_MIN_FEATURES = 6
_NEAR_SIDE = 0.2  # of the frame: an unmatched object this close to a side goes through it


@dataclass(frozen=True)
class Layer:
    """One object: ``state`` matched, appeared or vanished; ``motion`` its similarity from
    its place in the first keyframe to its place in the (stabilised) last one; ``mask0`` /
    ``mask1`` where it is in each (bool, working scale, first view; None where it is
    absent); ``edge`` the side of the frame an object in one keyframe only is at (left,
    right, top, bottom; None for none) — the frame's own edge, or the edge of what the other
    keyframe covers, where changes cannot be seen."""

    state: str
    motion: Camera
    mask0: np.ndarray | None
    mask1: np.ndarray | None
    edge: str | None = None


def find_layers(colour0: np.ndarray, colour1: np.ndarray, forward: np.ndarray,
                backward: np.ndarray, covered: np.ndarray | None) -> list[Layer]:
    """The independently moving objects of a pair (see the module's docstring): the
    keyframes at working scale in colour, the last one stabilised into the first's view."""
    h, w = colour0.shape[:2]
    b0 = cv2.GaussianBlur(colour0, (5, 5), 0)
    b1 = cv2.GaussianBlur(colour1, (5, 5), 0)
    regions, count = _changed_regions(b0, b1, forward, backward, covered)
    if count == 0:
        return []
    grey0, stabilised = (cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) for c in (colour0, colour1))
    masks = [(regions == k) for k in range(1, count + 1)]
    candidates = _feature_candidates(grey0, stabilised, regions, count)
    # every region also gets its best translation: a flat object (a logo, a plain ball) has
    # few features, and a similarity from a handful of them can turn it on its side; the
    # candidate whose motion the object's pixels agree with best wins
    candidates += _template_candidates(b0, b1, masks, set())
    scored = []
    for i, j, motion in candidates:
        shift = abs(motion.b + (motion.a - 1) * _centre(masks[i]))
        if shift < _MIN_MOVE * w:
            continue
        mask0 = masks[i] & _agrees(b0, b1, motion.matrix(), (w, h))
        mask1 = masks[j] & _agrees(b1, b0, _inverse(motion.matrix()), (w, h))
        cover = (mask0.sum() + mask1.sum()) / (masks[i].sum() + masks[j].sum())
        # the object is what stands out from its surroundings: on plain ground the reverse
        # pairing (background patch to background patch) agrees as well, but shows nothing
        if i != j and (_stands_out(b0, masks[i]) + _stands_out(b1, masks[j])
                       <= _stands_out(b1, masks[i]) + _stands_out(b0, masks[j])):
            continue
        if cover >= _MIN_COVER and mask0.sum() > 0 and mask1.sum() > 0:
            scored.append((float(cover), i, j, motion, mask0, mask1))
    layers: list[Layer] = []
    used0: set[int] = set()
    used1: set[int] = set()
    for _cover, i, j, motion, mask0, mask1 in sorted(scored, key=lambda s: -s[0]):
        if {i, j} & (used0 | used1):
            continue
        used0.add(i)
        used1.add(j)
        if i != j:  # apart, each region is the object's silhouette there
            mask0, mask1 = masks[i], masks[j]
        else:  # overlapping: keep what lands on the object's other place under its motion
            mask0, mask1 = (mask0 & _moved(mask1, _inverse(motion.matrix()), (w, h)),
                            mask1 & _moved(mask0, motion.matrix(), (w, h)))
            if not (mask0.any() and mask1.any()):
                continue  # nothing consistent is left: the flow keeps it
        layers.append(Layer("matched", motion, _filled(mask0), _filled(mask1)))
    for k, mask in enumerate(masks):
        if k in used0 or k in used1:
            continue
        edge = _edge(mask, covered, max(4, round(0.01 * w))) or _nearest_side(mask)
        if _stands_out(b0, mask) > _stands_out(b1, mask):
            layers.append(Layer("vanished", Camera(), mask, None, edge))
        else:
            layers.append(Layer("appeared", Camera(), None, mask, edge))
    return layers


def objects_near(layers: list[Layer], shape: tuple[int, int], margin: float) -> np.ndarray:
    """1 where any layer's object is (in either keyframe) or within ``margin`` px of it, fading
    to 0 over another ``margin``: where the background must follow the camera alone."""
    union = np.zeros(shape, np.float32)
    for layer in layers:
        for mask in (layer.mask0, layer.mask1):
            if mask is not None:
                union[mask] = 1.0
    return grown(union, margin)


def grown(mask: np.ndarray, margin: float) -> np.ndarray:
    """``mask`` (float 0–1) grown by ``margin`` px, then fading to 0 over another ``margin``.

    Only the box around the mask's pixels is filtered, with room for both filters' reach:
    the result is the same as over the whole image, where everything else stays 0."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return mask
    cols = np.flatnonzero(mask.any(axis=0))
    size = max(3, int(margin) * 2 + 1)
    height, width = mask.shape
    y0, y1 = max(0, rows[0] - size), min(height, rows[-1] + 1 + size)
    x0, x1 = max(0, cols[0] - size), min(width, cols[-1] + 1 + size)
    near = np.zeros_like(mask)
    wide = cv2.dilate(mask[y0:y1, x0:x1],
                      cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    near[y0:y1, x0:x1] = np.minimum(cv2.blur(wide, (size, size)) * 2.0, 1.0)
    return near


def _difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per pixel, the largest difference of any colour channel (hue changes count)."""
    red, green, blue = cv2.split(cv2.absdiff(a, b))
    difference: np.ndarray = cv2.max(cv2.max(red, green), blue)
    return difference


def _changed_regions(b0: np.ndarray, b1: np.ndarray, forward: np.ndarray,
                     backward: np.ndarray, covered: np.ndarray | None
                     ) -> tuple[np.ndarray, int]:
    h, w = b0.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    # what neither way of the flow explains: the first keyframe's pixels from the last one's,
    # or the last one's from the first's (a flow can go round an object on plain ground)
    followed1 = cv2.remap(b1, xs + forward[..., 0], ys + forward[..., 1], cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    followed0 = cv2.remap(b0, xs + backward[..., 0], ys + backward[..., 1], cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    unexplained = (_difference(b0, followed1) > _DIFF) | (_difference(b1, followed0) > _DIFF)
    changed = (_difference(b0, b1) > _DIFF) & unexplained
    if covered is not None:
        changed &= cv2.erode(covered, np.ones((7, 7), np.uint8)) > 0.5
    if changed.mean() > _MAX_CHANGED:
        return np.zeros((h, w), np.int32), 0
    mask = changed.astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    close = max(5, round(w / 80)) | 1
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE,
                            cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close, close)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    regions = np.zeros((h, w), np.int32)
    kept = 0
    for k in range(1, count):
        area = stats[k, cv2.CC_STAT_AREA]
        if _MIN_AREA * h * w <= area <= _MAX_AREA * h * w:
            kept += 1
            regions[_filled(labels == k) & (regions == 0)] = kept
    return regions, kept


def _feature_candidates(grey0: np.ndarray, grey1: np.ndarray, regions: np.ndarray,
                        count: int) -> list[tuple[int, int, Camera]]:
    """(region in the first, region in the last, similarity) from ORB matches + RANSAC."""
    inside = cv2.dilate((regions > 0).astype(np.uint8), np.ones((5, 5), np.uint8))
    (kp0, des0), (kp1, des1) = both(  # one detector each: they run at once
        lambda grey: cv2.ORB_create(nfeatures=600, fastThreshold=7, edgeThreshold=15,
                                    patchSize=15).detectAndCompute(grey, inside),
        grey0, grey1)
    if des0 is None or des1 is None or len(kp0) < _MIN_FEATURES or len(kp1) < _MIN_FEATURES:
        return []
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(des0, des1, k=2)
    groups: dict[tuple[int, int], list[tuple[tuple[float, float], tuple[float, float]]]] = {}
    grown = cv2.dilate(regions.astype(np.float32), np.ones((5, 5), np.uint8)).astype(np.int32)
    for pair in pairs:
        if len(pair) < 2 or pair[0].distance >= 0.8 * pair[1].distance:
            continue
        p0, p1 = kp0[pair[0].queryIdx].pt, kp1[pair[0].trainIdx].pt
        r0 = grown[int(p0[1]), int(p0[0])]
        r1 = grown[int(p1[1]), int(p1[0])]
        if r0 and r1:
            groups.setdefault((r0 - 1, r1 - 1), []).append((p0, p1))
    candidates = []
    for (i, j), matches in groups.items():
        if len(matches) < _MIN_FEATURES or i >= count or j >= count:
            continue
        src = np.array([m[0] for m in matches], np.float32)
        dst = np.array([m[1] for m in matches], np.float32)
        matrix, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                                      ransacReprojThreshold=3.0)
        if matrix is not None and inliers is not None and inliers.sum() >= _MIN_FEATURES:
            candidates.append((i, j, Camera(complex(matrix[0, 0], matrix[1, 0]),
                                            complex(matrix[0, 2], matrix[1, 2]))))
    return candidates


def _template_candidates(b0: np.ndarray, b1: np.ndarray, masks: list[np.ndarray],
                         done: set[int]) -> list[tuple[int, int, Camera]]:
    """For regions without feature matches: the best normalised cross-correlation of the
    region's patch in the first keyframe over each other region of the last (a translation)."""
    candidates = []
    boxes = [cv2.boundingRect(m.astype(np.uint8)) for m in masks]
    h, w = b0.shape[:2]
    for i, (x, y, bw, bh) in enumerate(boxes):
        if i in done or bw < 8 or bh < 8:
            continue
        template = b0[y:y + bh, x:x + bw]
        best: tuple[float, int, complex] | None = None
        for j, (x1, y1, w1, h1) in enumerate(boxes):
            if j == i:
                continue
            left, top = max(0, x1 - bw // 2), max(0, y1 - bh // 2)
            right, bottom = min(w, x1 + w1 + bw // 2), min(h, y1 + h1 + bh // 2)
            if right - left < bw or bottom - top < bh:
                continue
            search = b1[top:bottom, left:right]
            scores = cv2.matchTemplate(search, template, cv2.TM_CCOEFF_NORMED)
            _, score, _, (mx, my) = cv2.minMaxLoc(scores)
            if score > 0.7 and (best is None or score > best[0]):
                best = (score, j, complex(left + mx - x, top + my - y))
        if best is not None:
            candidates.append((i, best[1], Camera(1 + 0j, best[2])))
    return candidates


def _agrees(a: np.ndarray, b: np.ndarray, matrix: np.ndarray, size: tuple[int, int]
            ) -> np.ndarray:
    """Pixels of ``a`` that ``b`` shows too, at the place ``matrix`` moves them to."""
    inside = cv2.merge([b, np.full(b.shape[:2], 255, np.uint8)])  # 0 beyond b's edges
    moved = cv2.warpAffine(inside, matrix, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    agree = ((_difference(a, moved[..., :3]) < _AGREE) & (moved[..., 3] == 255)).astype(
        np.uint8)
    agree = cv2.morphologyEx(agree, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    agree = cv2.morphologyEx(agree, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    found: np.ndarray = agree > 0
    return found


def _moved(mask: np.ndarray, matrix: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``mask`` moved by ``matrix`` (a pixel p of the result is set when matrix⁻¹·p was)."""
    moved: np.ndarray = cv2.warpAffine(mask.astype(np.uint8), matrix, size,
                                       flags=cv2.INTER_NEAREST) > 0
    return moved


def _inverse(matrix: np.ndarray) -> np.ndarray:
    inverse: np.ndarray = cv2.invertAffineTransform(matrix)
    return inverse


def _centre(mask: np.ndarray) -> complex:
    ys, xs = np.nonzero(mask)
    return complex(xs.mean(), ys.mean()) if xs.size else 0j


def _filled(mask: np.ndarray) -> np.ndarray:
    """``mask`` with its holes filled."""
    filled = mask.astype(np.uint8)
    contours, _ = cv2.findContours(filled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    result: np.ndarray = filled > 0
    return result


def _stands_out(image: np.ndarray, mask: np.ndarray) -> float:
    """How unlike its surroundings the region is in ``image`` (mean grey difference with the
    ring around it, plus the difference of their spreads)."""
    size = max(5, int(np.sqrt(mask.sum()) / 3) | 1)
    ring = cv2.dilate(mask.astype(np.uint8), np.ones((size, size), np.uint8)).astype(bool) & ~mask
    if not ring.any():
        return 0.0
    inner_mean, inner_std = cv2.meanStdDev(image, mask=mask.astype(np.uint8))
    outer_mean, outer_std = cv2.meanStdDev(image, mask=ring.astype(np.uint8))
    return float(np.abs(inner_mean - outer_mean).max() + np.abs(inner_std - outer_std).max())


def _nearest_side(mask: np.ndarray) -> str | None:
    """The side of the frame ``mask``'s box is nearest, when it lies in that side's outer
    quarter: an object that appears (vanishes) there most likely came in (goes out) through
    it, rather than out of thin air; None in the middle of the frame (it fades in place)."""
    h, w = mask.shape
    x, y, bw, bh = cv2.boundingRect(mask.astype(np.uint8))
    gaps = {"left": x / w, "right": (w - x - bw) / w, "top": y / h, "bottom": (h - y - bh) / h}
    side, gap = min(gaps.items(), key=lambda item: item[1])
    return side if gap < _NEAR_SIDE else None


def _edge(mask: np.ndarray, covered: np.ndarray | None, near: int) -> str | None:
    """The side on which ``mask`` comes within ``near`` px of the frame's edge or of where
    the other keyframe shows nothing (the side it runs along most), or None."""
    h, w = mask.shape
    outside = np.ones((h + 2 * near, w + 2 * near), bool)  # beyond the frame: outside
    outside[near:-near, near:-near] = False if covered is None else covered < 0.5
    x, y, bw, bh = cv2.boundingRect(mask.astype(np.uint8))
    x, y = x + near, y + near  # in the padded frame
    strips = {"left": outside[y:y + bh, x - near:x].any(axis=1),
              "right": outside[y:y + bh, x + bw:x + bw + near].any(axis=1),
              "top": outside[y - near:y, x:x + bw].any(axis=0),
              "bottom": outside[y + bh:y + bh + near, x:x + bw].any(axis=0)}
    side, strip = max(strips.items(), key=lambda item: item[1].mean())
    return side if strip.mean() >= 0.3 else None
