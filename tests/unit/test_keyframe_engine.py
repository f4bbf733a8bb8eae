from __future__ import annotations

import numpy as np
import pytest

from inbetween.engines.base import EngineRequest
from inbetween.engines.keyframe import KeyframeEngine
from inbetween.engines.keyframe.flow import estimate_motion, synthesise
from inbetween.media.images import fit_to_canvas
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
    assert clip.audio is not None and clip.audio.shape == (2, 48000)


def test_no_audio_when_not_asked(photos: dict[str, np.ndarray]) -> None:
    clip = KeyframeEngine().render(_request(generate_audio=False), photos["rocket"],
                                   photos["rocket"])
    assert clip.audio is None


def test_negative_prompt_is_reported_as_ignored(photos: dict[str, np.ndarray]) -> None:
    clip = KeyframeEngine().render(_request(negative_prompt="blur"), photos["rocket"],
                                   photos["rocket"])
    assert [w.code for w in clip.warnings] == ["negative_prompt_ignored"]


def test_motion_is_followed_not_dissolved(photos: dict[str, np.ndarray]) -> None:
    """A pure 24 px shift: the middle frame matches the 12 px shift, not a cross-fade."""
    base = fit_to_canvas(photos["astronaut"], 720, 360)
    first, last = base[:, 24:664], base[:, :640]  # content moves 24 px to the right
    truth = base[:, 12:652]
    mid = synthesise(first, last, estimate_motion(first, last), 0.5)
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
