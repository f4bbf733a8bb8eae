"""Prompt cues: each word is recognised and has a measurable effect on the frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inbetween.engines.base import EngineRequest
from inbetween.engines.keyframe import KeyframeEngine
from inbetween.engines.keyframe.camera import Camera, estimate_camera
from inbetween.engines.keyframe.cues import CAMERA_CUES, PACE_CUES, parse_cues
from inbetween.media.yuv import rgb_to_i420, to_rgb

W, H, N = 640, 360, 25  # 25 frames: frame 6 is t = 0.25, frame 12 is t = 0.5
PAN = 48.0  # px: the scene slides left by this much from the first to the last keyframe


@pytest.fixture(scope="module")
def pair(photos: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    wide = cv2.resize(photos["astronaut"], (W + 200, H + 200), interpolation=cv2.INTER_AREA)
    first = np.ascontiguousarray(wide[100 : 100 + H, 100 : 100 + W])
    last = np.ascontiguousarray(wide[100 : 100 + H, 100 + int(PAN) : 100 + int(PAN) + W])
    return first, last


def _frames(pair: tuple[np.ndarray, np.ndarray], prompt: str) -> list[np.ndarray]:
    request = EngineRequest(prompt=prompt, width=W, height=H, fps=24, frame_count=N, seed=1,
                            generate_audio=False)
    return list(KeyframeEngine().render(request, *pair).frames)  # I420: the encoder's layout


def _motion(a: np.ndarray, b: np.ndarray) -> Camera:
    grey = [cv2.cvtColor(to_rgb(x), cv2.COLOR_RGB2GRAY) for x in (a, b)]
    camera = estimate_camera(*grey)
    assert camera.found, "the test frames should match"
    return camera


@pytest.mark.parametrize(
    ("phrase", "cue"),
    [("zoom in", "zoom_in"), ("slowly pushing in", "zoom_in"), ("dolly in", "zoom_in"),
     ("zoom out", "zoom_out"), ("pull back", "zoom_out"), ("pans left", "pan_left"),
     ("pan to the right", "pan_right"), ("tilt up", "tilt_up"), ("tilting down", "tilt_down"),
     ("orbit", "orbit"), ("arc shot", "orbit"), ("linear", "linear"),
     ("constant speed", "linear"), ("slow motion", "slow_motion"), ("slow-mo", "slow_motion"),
     ("timelapse", "timelapse"), ("time-lapse", "timelapse"), ("fast", "fast"),
     ("quickly", "fast"), ("accelerates", "accelerate"), ("slows down", "decelerate")],
)
def test_vocabulary(phrase: str, cue: str) -> None:
    assert cue in parse_cues(f"The camera {phrase} over the scene").cues


def test_negated_cues_and_unrelated_words_are_ignored() -> None:
    assert parse_cues("no zoom in, and don't pan left; without slow motion").cues == ()
    assert parse_cues("a zoomorphic panther, leftovers, breakfast").cues == ()
    assert parse_cues("quickly, then linear").pace == "fast"  # the first pace cue wins


# expected sign of the bump's effect on the middle frame, against the same prompt without it
CAMERA_EFFECTS = {
    "zoom in": lambda c: c.scale > 1.06,
    "zoom out": lambda c: c.scale < 0.96,
    "pan left": lambda c: c.b.real > 20,  # the scene slides right
    "pan right": lambda c: c.b.real < -20,
    "tilt up": lambda c: c.b.imag > 12,  # the scene slides down
    "tilt down": lambda c: c.b.imag < -12,
    "orbit": lambda c: c.rotation_degrees > 2.5,
}


@pytest.mark.parametrize("phrase", list(CAMERA_EFFECTS))
def test_each_camera_cue_moves_the_middle_frame(
    pair: tuple[np.ndarray, np.ndarray], phrase: str
) -> None:
    plain = _frames(pair, "a person in a spacesuit")
    cued = _frames(pair, f"a person in a spacesuit, the camera {phrase}")
    assert CAMERA_EFFECTS[phrase](_motion(plain[12], cued[12]))
    # the keyframes themselves do not move
    assert np.array_equal(cued[0], rgb_to_i420(pair[0]))
    assert np.array_equal(cued[-1], rgb_to_i420(pair[1]))


# expected share of the motion done at t = 0.25 (default: eased, 0.156)
PACE_PROGRESS = {"": 0.156, "linear": 0.25, "slow motion": 0.222, "timelapse": 0.083,
                 "fast": 0.0, "accelerating": 0.0625, "decelerating": 0.4375}


@pytest.mark.parametrize("phrase", list(PACE_PROGRESS))
def test_each_pace_cue_changes_the_timing(pair: tuple[np.ndarray, np.ndarray],
                                          phrase: str) -> None:
    frames = _frames(pair, f"a person in a spacesuit {phrase}")
    if PACE_PROGRESS[phrase] == 0:
        assert np.array_equal(frames[6], rgb_to_i420(pair[0]))  # still on the first keyframe
        return
    slid = -_motion(pair[0], frames[6]).b.real  # px the scene has slid left at t = 0.25
    progress = slid / PAN
    assert abs(progress - PACE_PROGRESS[phrase]) < 0.03, progress
    if phrase:
        assert abs(PACE_PROGRESS[phrase] - PACE_PROGRESS[""]) > 0.05  # differs from default


def test_every_cue_is_tested() -> None:
    tested = {parse_cues(p).cues[0] for p in list(CAMERA_EFFECTS) + list(PACE_PROGRESS) if p}
    assert tested == set(CAMERA_CUES) | set(PACE_CUES)


def test_meta_reports_the_shot(pair: tuple[np.ndarray, np.ndarray]) -> None:
    request = EngineRequest(prompt="zoom in, linear", width=W, height=H, fps=24, frame_count=N,
                            seed=1, generate_audio=False)
    meta = KeyframeEngine().render(request, *pair).meta
    assert meta["cues"] == ["zoom_in", "linear"] and meta["timing"] == "linear"
    assert meta["transition"] == "morph"

