"""Independent motion in the keyframe engine, on synthetic pairs with known answers: objects
found, matched across large displacements (with rotation and scale), carried along their
path and composited over the camera-only background; objects that appear or vanish; and
camera-only pairs left alone."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage import data

from inbetween.engines.base import EngineRequest
from inbetween.engines.keyframe import KeyframeEngine
from inbetween.engines.keyframe.flow import estimate_motion, synthesise
from inbetween.media.yuv import planes

W, H = 640, 360


def _background(t: float, pan: float = -30.0, zoom: float = 1.04) -> np.ndarray:
    """A camera move (pan and zoom, linear in t) over a photograph."""
    photo = data.astronaut()
    cover = 1.6 * max(W / photo.shape[1], H / photo.shape[0])
    source = cv2.resize(photo, None, fx=cover, fy=cover, interpolation=cv2.INTER_CUBIC)
    sh, sw = source.shape[:2]
    matrix = cv2.getRotationMatrix2D((sw / 2, sh / 2), 0.0, 1 + (zoom - 1) * t)
    matrix[0, 2] += W / 2 - sw / 2 + pan * t
    matrix[1, 2] += H / 2 - sh / 2
    return cv2.warpAffine(source, matrix, (W, H), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)


def _sprite(size: int = 80, which: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A textured, non-symmetric object: an L-shaped cut of another photograph."""
    photo = (data.coffee()[100:300, 200:400], data.chelsea()[60:260, 120:320])[which]
    patch = cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA)
    mask = np.zeros((size, size), np.uint8)
    mask[4:-4, 4:size // 2] = 255
    mask[size // 2:-4, 4:-4] = 255
    return patch, mask


def _place(frame: np.ndarray, sprite: tuple[np.ndarray, np.ndarray], centre: tuple[float, float],
           angle: float = 0.0, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """``frame`` with the sprite drawn at ``centre`` (rotated, scaled), and its mask there."""
    patch, mask = sprite
    side = patch.shape[0]
    matrix = cv2.getRotationMatrix2D((side / 2, side / 2), angle, scale)
    matrix[:, 2] += np.array(centre) - side / 2
    layer = cv2.warpAffine(patch, matrix, (W, H), flags=cv2.INTER_LINEAR)
    alpha = cv2.warpAffine(mask, matrix, (W, H), flags=cv2.INTER_LINEAR)
    a = (alpha.astype(np.float32) / 255)[..., None]
    return (frame * (1 - a) + layer * a + 0.5).astype(np.uint8), alpha > 127


def _rgb(i420: np.ndarray) -> np.ndarray:
    rgb: np.ndarray = cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)
    return rgb


def _psnr(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    mse = float(np.mean((a[where].astype(np.float32) - b[where].astype(np.float32)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _centroid(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()])


def _path(start: tuple[float, float], end: tuple[float, float], t: float) -> tuple[float, float]:
    return (start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t)


def _found_at(frame: np.ndarray, background: np.ndarray) -> np.ndarray:
    """Where ``frame`` differs from the true background: the object, as the engine drew it."""
    difference = np.abs(frame.astype(np.int16) - background.astype(np.int16)).max(axis=2)
    found = cv2.morphologyEx((difference > 40).astype(np.uint8), cv2.MORPH_OPEN,
                             np.ones((3, 3), np.uint8))
    result: np.ndarray = found > 0
    return result


@pytest.mark.parametrize(("angle", "scale"), [(0.0, 1.0), (25.0, 1.3)])
def test_a_far_travelling_object_is_matched_and_carried_along_its_path(
    angle: float, scale: float,
) -> None:
    sprite = _sprite()
    start, end = (110.0, 220.0), (520.0, 150.0)  # 410 px: most of the frame's width
    first, mask0 = _place(_background(0), sprite, start)
    last, mask1 = _place(_background(1), sprite, end, angle, scale)
    motion = estimate_motion(first, last)
    [obj] = motion.objects()
    assert obj["state"] == "matched"
    for box, mask in ((obj["first_box"], mask0), (obj["last_box"], mask1)):
        x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
        assert isinstance(box, list) and np.allclose(box, [x, y, w, h], atol=6), (box, x, y)
    [layer] = motion.layers  # its similarity (with the camera's): rotation and scale
    apparent = layer.motion.a * motion.camera.a
    assert abs(abs(apparent) - scale) < 0.05
    assert abs(np.degrees(np.angle(apparent)) + angle) < 3  # image y points down
    # the middle frame: the object once, whole, at its path's midpoint
    middle = _rgb(synthesise(motion, 0.5))
    background = _background(0.5)
    truth, truth_mask = _place(background, sprite, _path(start, end, 0.5),
                               angle / 2, (1 + scale) / 2)
    found = _found_at(middle, background)
    assert np.linalg.norm(_centroid(found) - _path(start, end, 0.5)) < 0.03 * W
    assert found.sum() == pytest.approx(truth_mask.sum(), rel=0.25)
    # nothing of it is left at either end (what is there is the background, as the camera
    # shows it), and the object itself is sharp where it should be
    ends = (mask0 | mask1) & ~cv2.dilate(truth_mask.astype(np.uint8), np.ones((9, 9))).astype(
        bool)
    assert not found[ends].mean() > 0.01
    assert _psnr(middle, truth, ends) > 24
    assert _psnr(middle, truth, truth_mask) > 20


def test_the_background_away_from_objects_is_the_camera_only_rendering() -> None:
    sprite = _sprite()
    start, end = (110.0, 220.0), (520.0, 150.0)
    plain = _rgb(synthesise(estimate_motion(_background(0), _background(1)), 0.5))
    first, mask0 = _place(_background(0), sprite, start)
    last, mask1 = _place(_background(1), sprite, end)
    middle = _rgb(synthesise(estimate_motion(first, last), 0.5))
    _, mid_mask = _place(_background(0.5), sprite, _path(start, end, 0.5))
    near = cv2.dilate((mask0 | mask1 | mid_mask).astype(np.uint8), np.ones((41, 41))) > 0
    difference = np.abs(middle.astype(np.int16) - plain.astype(np.int16))[~near]
    assert difference.mean() < 1.5 and np.percentile(difference, 99) < 12


def test_two_objects_in_different_directions() -> None:
    a, b = _sprite(70, 0), _sprite(70, 1)
    paths = [((90.0, 90.0), (540.0, 120.0)), ((560.0, 280.0), (120.0, 250.0))]
    first, last = _background(0), _background(1)
    for sprite, (start, end) in zip((a, b), paths, strict=True):
        first, _ = _place(first, sprite, start)
        last, _ = _place(last, sprite, end)
    motion = estimate_motion(first, last)
    assert [o["state"] for o in motion.objects()] == ["matched", "matched"]
    middle = _rgb(synthesise(motion, 0.5))
    found = _found_at(middle, _background(0.5))
    count, labels = cv2.connectedComponents(found.astype(np.uint8))
    centres = [_centroid(labels == k) for k in range(1, count)
               if (labels == k).sum() > 0.3 * 70 * 70]
    for start, end in paths:
        assert min(np.linalg.norm(c - _path(start, end, 0.5)) for c in centres) < 0.03 * W


def test_an_object_in_one_keyframe_only_fades_or_slides_through_the_edge() -> None:
    sprite = _sprite()
    # vanishes in the middle of the frame: it fades in place
    first, mask0 = _place(_background(0), sprite, (320.0, 180.0))
    motion = estimate_motion(first, _background(1))
    assert [(o["state"], o["last_box"]) for o in motion.objects()] == [("vanished", None)]
    early, late = (_rgb(synthesise(motion, t)) for t in (0.2, 0.8))
    assert _found_at(early, _background(0.2)).sum() > 0.7 * mask0.sum()  # still there
    assert _found_at(late, _background(0.8)).sum() < 0.05 * mask0.sum()  # gone, and the
    assert _psnr(late, _background(0.8), mask0) > 24  # background behind it is shown
    # appears cut by the left edge: it slides in through that edge
    last, mask1 = _place(_background(1), sprite, (20.0, 200.0))
    motion = estimate_motion(_background(0), last)
    [obj] = motion.objects()
    assert obj["state"] == "appeared" and obj["first_box"] is None
    middle = _found_at(_rgb(synthesise(motion, 0.5)), _background(0.5))
    assert 0 < middle.sum() < 0.8 * mask1.sum()  # partly in
    right_end = np.nonzero(mask1.any(axis=0))[0].max()
    assert np.nonzero(middle.any(axis=0))[0].max() < right_end - 15  # further out than at
    # the end


def test_camera_only_pairs_have_no_objects() -> None:
    for pan, zoom in ((-30.0, 1.04), (60.0, 0.95), (0.0, 1.1)):
        motion = estimate_motion(_background(0, pan, zoom), _background(1, pan, zoom))
        assert motion.objects() == []


def test_the_engine_reports_what_it_understood() -> None:
    sprite = _sprite()
    first, _ = _place(_background(0), sprite, (110.0, 220.0))
    last, _ = _place(_background(1), sprite, (520.0, 150.0))
    request = EngineRequest(prompt="a ball flies past", width=W, height=H, fps=24,
                            frame_count=24, seed=1, generate_audio=False)
    clip = KeyframeEngine().render(request, first, last)
    [obj] = clip.meta["objects"]  # type: ignore[misc]
    assert obj["state"] == "matched" and len(obj["first_box"]) == 4
    frames = list(clip.frames)
    assert len(frames) == 24 and planes(frames[0])[0].shape == (H, W)
    plain = KeyframeEngine().render(request, _background(0), _background(1))
    assert plain.meta["objects"] == []
