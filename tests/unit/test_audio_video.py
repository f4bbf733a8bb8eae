from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inbetween.media.audio import soundtrack
from inbetween.media.images import fit_to_canvas
from inbetween.media.video import encode_mp4, prefetch
from tests.conftest import psnr
from tests.helpers import decode_mp4, wait_for


@pytest.mark.parametrize("with_audio", [True, False])
def test_encode_roundtrip(tmp_path: Path, photos: dict[str, np.ndarray], with_audio: bool) -> None:
    a = fit_to_canvas(photos["astronaut"], 1280, 720)
    b = fit_to_canvas(photos["coffee"], 1280, 720)
    frames = [a] * 47 + [b]
    out = tmp_path / "x.mp4"
    seen: list[int] = []
    encode_mp4(out, iter(frames), width=1280, height=720, fps=24, frame_count=48,
               audio=soundtrack("", 2, seed=1).audio if with_audio else None, on_frame=seen.append)
    assert seen == list(range(48))
    got = decode_mp4(out)
    assert (got.frame_count, got.fps, got.width, got.height) == (48, 24.0, 1280, 720)
    assert (got.codec, got.pix_fmt) == ("h264", "yuv420p")
    assert psnr(got.first, a) >= 35 and psnr(got.last, b) >= 35
    if with_audio:
        assert got.audio is not None
        assert got.audio["sample_rate"] == 48000 and got.audio["channels"] == 2
        assert abs(got.audio["seconds"] - 2.0) < 0.03
    else:
        assert got.audio is None
    assert out.read_bytes()[4:8] == b"ftyp"
    head = out.read_bytes()[:4096]
    assert b"moov" in head  # +faststart: the index comes before the media data


def test_encode_refuses_the_wrong_number_of_frames(tmp_path: Path) -> None:
    frame = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match="produced 3 frames, 4 expected"):
        encode_mp4(tmp_path / "x.mp4", iter([frame] * 3), width=64, height=64, fps=24,
                   frame_count=4)
    with pytest.raises(ValueError, match=r"expected RGB \(64, 64, 3\) or I420 \(96, 64\)"):
        encode_mp4(tmp_path / "y.mp4", iter([frame[:32]]), width=64, height=64, fps=24,
                   frame_count=1)


def test_prefetch_keeps_order_bounds_memory_and_reraises() -> None:
    produced: list[int] = []

    def items():  # type: ignore[no-untyped-def]
        for i in range(10):
            produced.append(i)
            yield i

    it = prefetch(items(), depth=2)
    assert next(it) == 0
    # one consumed, two queued, and the producer blocked putting the fourth: no further
    wait_for(lambda: len(produced) >= 4, timeout=10, what="the producer to fill the queue")
    assert produced == [0, 1, 2, 3]
    assert list(it) == list(range(1, 10))

    def failing():  # type: ignore[no-untyped-def]
        yield 1
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        list(prefetch(failing()))


def test_audio_that_arrives_late_is_still_muxed_whole(tmp_path: Path) -> None:
    """The sound track is made while frames render: it may be ready only mid-clip."""
    from concurrent.futures import Future

    track = soundtrack("rain", 2, seed=1)
    pending: Future = Future()  # type: ignore[type-arg]

    def on_frame(index: int) -> None:
        if index == 10:  # frames 0–10 were encoded before the sound existed
            pending.set_result(track)

    frames = (np.full((64, 64, 3), i, np.uint8) for i in range(48))
    out = tmp_path / "late.mp4"
    encode_mp4(out, frames, width=64, height=64, fps=24, frame_count=48, audio=pending,
               on_frame=on_frame)
    got = decode_mp4(out)
    assert got.frame_count == 48 and got.audio is not None
    assert abs(got.audio["seconds"] - 2.0) < 0.03


def test_audio_that_fails_fails_the_encode(tmp_path: Path) -> None:
    from concurrent.futures import Future

    pending: Future = Future()  # type: ignore[type-arg]
    pending.set_exception(RuntimeError("no voice"))
    frames = (np.zeros((64, 64, 3), np.uint8) for _ in range(4))
    with pytest.raises(RuntimeError, match="no voice"):
        encode_mp4(tmp_path / "x.mp4", frames, width=64, height=64, fps=24, frame_count=4,
                   audio=pending)
