"""Independent motion in the keyframe engine, on synthetic pairs with known answers: objects
found, matched across large displacements (with rotation and scale), carried along their
path and composited over the camera-only background; objects that appear or vanish; and
camera-only pairs left alone."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inbetween.engines.base import EngineRequest
from inbetween.engines.keyframe import KeyframeEngine
from inbetween.engines.keyframe.flow import estimate_motion, synthesise
from inbetween.media.yuv import planes
from tests.moving import H, W, background, centroid, found_at, path, place, sprite
from tests.moving import psnr_where as _psnr


def _rgb(i420: np.ndarray) -> np.ndarray:
    rgb: np.ndarray = cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)
    return rgb

@pytest.mark.parametrize(("angle", "scale"), [(0.0, 1.0), (25.0, 1.3)])
def test_a_far_travelling_object_is_matched_and_carried_along_itspath(
    angle: float, scale: float,
) -> None:
    thing = sprite()
    start, end = (110.0, 220.0), (520.0, 150.0)  # 410 px: most of the frame's width
    first, mask0 = place(background(0), thing, start)
    last, mask1 = place(background(1), thing, end, angle, scale)
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
    back = background(0.5)
    truth, truth_mask = place(back, thing, path(start, end, 0.5),
                               angle / 2, (1 + scale) / 2)
    found = found_at(middle, back)
    assert np.linalg.norm(centroid(found) - path(start, end, 0.5)) < 0.03 * W
    assert found.sum() == pytest.approx(truth_mask.sum(), rel=0.25)
    # nothing of it is left at either end (what is there is the background, as the camera
    # shows it), and the object itself is sharp where it should be
    ends = (mask0 | mask1) & ~cv2.dilate(truth_mask.astype(np.uint8), np.ones((9, 9))).astype(
        bool)
    assert not found[ends].mean() > 0.01
    assert _psnr(middle, truth, ends) > 24
    assert _psnr(middle, truth, truth_mask) > 20


def test_the_background_away_from_objects_is_the_camera_only_rendering() -> None:
    thing = sprite()
    start, end = (110.0, 220.0), (520.0, 150.0)
    plain = _rgb(synthesise(estimate_motion(background(0), background(1)), 0.5))
    first, mask0 = place(background(0), thing, start)
    last, mask1 = place(background(1), thing, end)
    middle = _rgb(synthesise(estimate_motion(first, last), 0.5))
    _, mid_mask = place(background(0.5), thing, path(start, end, 0.5))
    near = cv2.dilate((mask0 | mask1 | mid_mask).astype(np.uint8), np.ones((41, 41))) > 0
    difference = np.abs(middle.astype(np.int16) - plain.astype(np.int16))[~near]
    assert difference.mean() < 1.5 and np.percentile(difference, 99) < 12


def test_two_objects_in_different_directions() -> None:
    a, b = sprite(70, 0), sprite(70, 1)
    paths = [((90.0, 90.0), (540.0, 120.0)), ((560.0, 280.0), (120.0, 250.0))]
    first, last = background(0), background(1)
    for thing, (start, end) in zip((a, b), paths, strict=True):
        first, _ = place(first, thing, start)
        last, _ = place(last, thing, end)
    motion = estimate_motion(first, last)
    assert [o["state"] for o in motion.objects()] == ["matched", "matched"]
    middle = _rgb(synthesise(motion, 0.5))
    found = found_at(middle, background(0.5))
    count, labels = cv2.connectedComponents(found.astype(np.uint8))
    centres = [centroid(labels == k) for k in range(1, count)
               if (labels == k).sum() > 0.3 * 70 * 70]
    for start, end in paths:
        assert min(np.linalg.norm(c - path(start, end, 0.5)) for c in centres) < 0.03 * W


def test_an_object_in_one_keyframe_only_fades_or_slides_through_the_edge() -> None:
    thing = sprite()
    # vanishes in the middle of the frame: it fades in place
    first, mask0 = place(background(0), thing, (320.0, 180.0))
    motion = estimate_motion(first, background(1))
    assert [(o["state"], o["last_box"]) for o in motion.objects()] == [("vanished", None)]
    early, late = (_rgb(synthesise(motion, t)) for t in (0.2, 0.8))
    assert found_at(early, background(0.2)).sum() > 0.7 * mask0.sum()  # still there
    assert found_at(late, background(0.8)).sum() < 0.05 * mask0.sum()  # gone, and the
    assert _psnr(late, background(0.8), mask0) > 24  # background behind it is shown
    # appears cut by the left edge: it slides in through that edge
    last, mask1 = place(background(1), thing, (20.0, 200.0))
    motion = estimate_motion(background(0), last)
    [obj] = motion.objects()
    assert obj["state"] == "appeared" and obj["first_box"] is None
    middle = found_at(_rgb(synthesise(motion, 0.5)), background(0.5))
    assert 0 < middle.sum() < 0.8 * mask1.sum()  # partly in
    right_end = np.nonzero(mask1.any(axis=0))[0].max()
    assert np.nonzero(middle.any(axis=0))[0].max() < right_end - 15  # further out than at
    # the end


def test_camera_only_pairs_have_no_objects() -> None:
    for pan, zoom in ((-30.0, 1.04), (60.0, 0.95), (0.0, 1.1)):
        motion = estimate_motion(background(0, pan, zoom), background(1, pan, zoom))
        assert motion.objects() == []


def test_the_engine_reports_what_it_understood() -> None:
    thing = sprite()
    first, _ = place(background(0), thing, (110.0, 220.0))
    last, _ = place(background(1), thing, (520.0, 150.0))
    request = EngineRequest(prompt="a ball flies past", width=W, height=H, fps=24,
                            frame_count=24, seed=1, generate_audio=False)
    clip = KeyframeEngine().render(request, first, last)
    [obj] = clip.meta["objects"]  # type: ignore[misc]
    assert obj["state"] == "matched" and len(obj["first_box"]) == 4
    frames = list(clip.frames)
    assert len(frames) == 24 and planes(frames[0])[0].shape == (H, W)
    plain = KeyframeEngine().render(request, background(0), background(1))
    assert plain.meta["objects"] == []
