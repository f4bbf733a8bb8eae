"""I420 frames: the conversion matches swscale's BT.709, the planes are where PyAV puts them,
and the encoder takes I420 and RGB frames alike."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from inbetween.media.preview import PreviewTap
from inbetween.media.video import encode_mp4
from inbetween.media.yuv import i420_to_rgb, is_i420, planes, rgb_to_i420, to_rgb
from tests.conftest import psnr


def _swscale(rgb: np.ndarray) -> np.ndarray:
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
        format="yuv420p", dst_colorspace="itu709", dst_color_range="MPEG", interpolation="AREA")
    converted: np.ndarray = frame.to_ndarray()
    return converted


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (720, 1280), (64, 36), (854, 480)])
def test_rgb_to_i420_matches_swscale_bt709(photos: dict[str, np.ndarray], width: int,
                                           height: int) -> None:
    rgb = np.ascontiguousarray(cv2.resize(photos["astronaut"], (width, height)))
    ours = rgb_to_i420(rgb)
    assert ours.shape == (height * 3 // 2, width) and is_i420(ours, width, height)
    reference = _swscale(rgb)
    for mine, theirs in zip(planes(ours), planes(reference), strict=True):
        assert np.abs(mine.astype(np.int16) - theirs).max() <= 1
    # pure colours land on their BT.709 limited-range values
    red = rgb_to_i420(np.full((4, 4, 3), (255, 0, 0), np.uint8))
    assert [int(p[0, 0]) for p in planes(red)] == [63, 102, 240]


def test_planes_are_views_in_pyav_order() -> None:
    frame = np.zeros((54, 64), np.uint8)  # 64×36
    y, u, v = planes(frame)
    assert y.shape == (36, 64) and u.shape == v.shape == (18, 32)
    y[:], u[:], v[:] = 1, 2, 3
    flat = frame.reshape(-1)
    assert (flat[: 64 * 36] == 1).all() and (flat[64 * 36 : 64 * 36 + 18 * 32] == 2).all()
    assert (flat[-18 * 32 :] == 3).all()


def test_i420_to_rgb_round_trip_and_shrink(photos: dict[str, np.ndarray]) -> None:
    rgb = np.ascontiguousarray(cv2.resize(photos["coffee"], (640, 360)))
    frame = rgb_to_i420(rgb)
    assert psnr(i420_to_rgb(frame), rgb) > 35  # chroma is at half size: not lossless
    assert np.array_equal(to_rgb(frame), i420_to_rgb(frame)) and to_rgb(rgb) is rgb
    small = i420_to_rgb(frame, (160, 90))
    assert small.shape == (90, 160, 3)
    assert psnr(small, cv2.resize(rgb, (160, 90), interpolation=cv2.INTER_AREA)) > 35


@pytest.mark.parametrize(("width", "height"), [(320, 180), (200, 120)])
def test_encoder_takes_i420_and_rgb_frames_alike(tmp_path: Path, photos: dict[str, np.ndarray],
                                                 width: int, height: int) -> None:
    """200 px wide: PyAV pads the chroma rows (100 samples) of its frames, 320 it does not."""
    rgb = np.ascontiguousarray(cv2.resize(photos["chelsea"], (width, height)))
    frames = [rgb if i % 2 else rgb_to_i420(rgb) for i in range(8)]
    tap = PreviewTap(8, 24)
    encode_mp4(tmp_path / "x.mp4", tap.wrap(frames), width=width, height=height, fps=24,
               frame_count=8, crf=12)
    with av.open(str(tmp_path / "x.mp4")) as container:
        decoded = [f.to_ndarray() for f in container.decode(video=0)]
    assert len(decoded) == 8
    expected = rgb_to_i420(rgb)
    for frame in decoded:  # the same picture either way, in the same colours
        assert psnr(frame, expected) > 40
    # previews are RGB whichever layout the frames had
    assert all(p.shape == (height, width, 3) for p in tap.frames)
    assert psnr(tap.frames[0], rgb) > 35
