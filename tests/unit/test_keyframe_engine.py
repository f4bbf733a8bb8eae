from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import numpy as np
import pytest

from inbetween.engines.base import EngineRequest
from inbetween.engines.keyframe import KeyframeEngine
from inbetween.engines.keyframe.flow import estimate_motion, synthesise
from inbetween.media.images import fit_to_canvas
from inbetween.media.yuv import to_rgb
from tests.conftest import psnr


def _request(**overrides: object) -> EngineRequest:
    values: dict[str, object] = {"prompt": "a slow pan", "width": 640, "height": 360, "fps": 24,
                                 "frame_count": 24, "seed": 1}
    values.update(overrides)
    return EngineRequest(**values)  # type: ignore[arg-type]


def test_clip_has_exact_frames_and_keyframes(photos: dict[str, np.ndarray]) -> None:
    progress: list[float] = []
    clip = KeyframeEngine().render(_request(), photos["astronaut"], photos["coffee"],
                                   on_progress=progress.append)
    frames = list(clip.frames)
    assert len(frames) == clip.frame_count == 24
    assert all(f.shape == (360, 640, 3) and f.dtype == np.uint8 for f in frames)
    assert np.array_equal(frames[0], fit_to_canvas(photos["astronaut"], 640, 360))
    assert np.array_equal(frames[-1], fit_to_canvas(photos["coffee"], 640, 360))
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert clip.sound is not None and clip.sound.result().audio.shape == (2, 48000)


def test_no_audio_when_not_asked(photos: dict[str, np.ndarray]) -> None:
    clip = KeyframeEngine().render(_request(generate_audio=False), photos["rocket"],
                                   photos["rocket"])
    assert clip.sound is None


def test_negative_prompt_is_reported_as_ignored(photos: dict[str, np.ndarray]) -> None:
    clip = KeyframeEngine().render(_request(negative_prompt="blur"), photos["rocket"],
                                   photos["rocket"])
    assert [w.code for w in clip.warnings] == ["negative_prompt_ignored"]


def test_motion_is_followed_not_dissolved(photos: dict[str, np.ndarray]) -> None:
    """A pure 24 px shift: the middle frame matches the 12 px shift, not a cross-fade."""
    base = fit_to_canvas(photos["astronaut"], 720, 360)
    first, last = base[:, 24:664], base[:, :640]  # content moves 24 px to the right
    truth = base[:, 12:652]
    mid = to_rgb(synthesise(estimate_motion(first, last), 0.5))
    dissolve = ((first.astype(np.uint16) + last) // 2).astype(np.uint8)
    inner = (slice(20, -20), slice(40, -40))  # away from borders that are revealed
    assert psnr(mid[inner], truth[inner]) > psnr(dissolve[inner], truth[inner]) + 6
    assert psnr(mid[inner], truth[inner]) > 28


def test_check_inputs_explains_what_is_wrong(photos: dict[str, np.ndarray]) -> None:
    engine = KeyframeEngine()
    with pytest.raises(ValueError, match="first image must be an RGB uint8 array"):
        engine.render(_request(), photos["rocket"][..., 0], photos["rocket"])
    with pytest.raises(ValueError, match="frame_count must be at least 2"):
        engine.render(_request(frame_count=1), photos["rocket"], photos["rocket"])
    with pytest.raises(ValueError, match="must be even"):
        engine.render(_request(width=641), photos["rocket"], photos["rocket"])


def _render(first: np.ndarray, last: np.ndarray, **overrides: object) -> tuple[
        list[np.ndarray], dict[str, object]]:
    clip = KeyframeEngine().render(_request(**overrides), first, last)
    return [to_rgb(f) for f in clip.frames], clip.meta


def _camera_pair(
    photos: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray, Callable[[float], np.ndarray]]:
    """Keyframes of a known camera move (pan, zoom and roll, linear in t) and its views."""
    import cv2

    src = cv2.resize(photos["astronaut"], (1024, 1024), interpolation=cv2.INTER_CUBIC)

    def view(t: float) -> np.ndarray:
        matrix = cv2.getRotationMatrix2D((512, 512), 3.0 * t, 1.0 + 0.2 * t)
        matrix[0, 2] += 320 - 512 - 40 * t
        matrix[1, 2] += 180 - 512 + 20 * t
        return cv2.warpAffine(src, matrix, (640, 360), flags=cv2.INTER_LINEAR)

    return view(0.0), view(1.0), view


def test_camera_motion_middle_frame_is_close_to_the_truth(
    photos: dict[str, np.ndarray]
) -> None:
    first, last, view = _camera_pair(photos)
    frames, meta = _render(first, last, frame_count=25)
    assert meta["transition"] == "morph" and meta["camera"]["found"]  # type: ignore[index]
    # the engine's camera follows a screw path, the truth a linear one: score the middle frame
    # against the truth at its best-fitting time
    score = max(psnr(frames[12], view(t)) for t in np.arange(0.4, 0.6, 0.005))
    dissolve = ((first.astype(np.uint16) + last) // 2).astype(np.uint8)
    assert score >= 35
    assert score > psnr(dissolve, view(0.5)) + 10


def test_same_seed_same_frames(photos: dict[str, np.ndarray]) -> None:
    first, last, _ = _camera_pair(photos)
    a, _ = _render(first, last, seed=7)
    b, _ = _render(first, last, seed=7)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    clip = KeyframeEngine().render(_request(seed=7), first, last)
    again = KeyframeEngine().render(_request(seed=7), first, last)
    assert clip.sound is not None and again.sound is not None
    assert np.array_equal(clip.sound.result().audio, again.sound.result().audio)


def test_motion_is_smooth(photos: dict[str, np.ndarray]) -> None:
    first, last, _ = _camera_pair(photos)
    frames, _ = _render(first, last, frame_count=48, prompt="linear")
    steps = [float(np.abs(a.astype(np.int16) - b).mean()) for a, b in pairwise(frames)]
    assert max(steps) < 2.0 * float(np.median(steps))  # no jump much larger than a step


def test_mismatched_scenes_take_the_fallback_and_matching_ones_do_not(
    photos: dict[str, np.ndarray]
) -> None:
    first, last, _ = _camera_pair(photos)
    _, meta = _render(first, last)
    assert meta["transition"] == "morph" and meta["match_confidence"] > 0.6  # type: ignore
    frames, meta = _render(photos["astronaut"], photos["coffee"], frame_count=48)
    assert meta["transition"] == "push_dissolve" and meta["match_confidence"] < 0.3  # type: ignore
    a = fit_to_canvas(photos["astronaut"], 640, 360)
    b = fit_to_canvas(photos["coffee"], 640, 360)
    assert np.array_equal(frames[0], a) and np.array_equal(frames[-1], b)
    # before the dissolve only the first image is on screen (pushed in), after it only the last
    assert psnr(frames[12], a) > psnr(frames[12], b) + 3
    assert psnr(frames[36], b) > psnr(frames[36], a) + 3


def test_unusual_inputs_make_correct_frames(photos: dict[str, np.ndarray]) -> None:
    """16-bit greyscale PNG → CMYK JPEG (and RGBA, EXIF-rotated) through load + engine."""
    from io import BytesIO

    from PIL import Image
    from skimage import data

    from inbetween.jobs.models import ImageInput
    from inbetween.media.fetch import FetchPolicy
    from inbetween.pipeline import load_image

    def saved(image: Image.Image, fmt: str, **options: object) -> bytes:
        buffer = BytesIO()
        image.save(buffer, format=fmt, **options)
        return buffer.getvalue()

    grey16 = saved(Image.fromarray(data.camera().astype(np.uint16) * 257), "PNG")
    cmyk = saved(Image.fromarray(photos["rocket"]).convert("CMYK"), "JPEG", quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = saved(Image.fromarray(np.ascontiguousarray(np.rot90(photos["chelsea"], k=1))),
                    "JPEG", quality=95, exif=exif)
    rgba = saved(Image.fromarray(np.dstack([photos["coffee"],
                                            np.full(photos["coffee"].shape[:2], 255,
                                                    np.uint8)]), "RGBA"), "PNG")
    loaded = [load_image(ImageInput(data=raw), "image_url", max_pixels=10**8,
                         policy=FetchPolicy()) for raw in (grey16, cmyk, rotated, rgba)]
    expected = [np.repeat(data.camera()[..., None], 3, axis=2), photos["rocket"],
                photos["chelsea"], photos["coffee"]]
    for image, truth in zip(loaded, expected, strict=True):
        assert image.shape == truth.shape
        assert psnr(image, truth) > 30
    frames, _ = _render(loaded[0], loaded[1], frame_count=8)
    assert psnr(frames[0], fit_to_canvas(expected[0], 640, 360)) > 40
    assert psnr(frames[-1], fit_to_canvas(expected[1], 640, 360)) > 35
    frames, _ = _render(loaded[2], loaded[3], frame_count=8, width=360, height=640)
    assert frames[0].shape == (640, 360, 3)
