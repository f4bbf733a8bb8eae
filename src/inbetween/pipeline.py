"""The steps one generation goes through, shared by the worker and `inbetween generate`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from inbetween.engines.base import Clip, Engine, EngineRequest
from inbetween.jobs.models import ImageInput, Stage
from inbetween.media.fetch import Network, fetch_bytes
from inbetween.media.images import decode_image
from inbetween.media.video import encode_mp4, prefetch

__all__ = ["Report", "load_image", "render_to_file"]

Report = Callable[[Stage, int], None]
"""Called with the current stage and percent done; may raise to interrupt the run."""


def load_image(
    source: ImageInput, field: str, *, max_pixels: int, max_bytes: int,
    allow: Sequence[Network] = (),
) -> np.ndarray:
    """The RGB pixels of an input: its bytes, or the image fetched from its URL."""
    data = source.data
    if data is None:
        assert source.url is not None
        data = fetch_bytes(source.url, field, max_bytes=max_bytes, allow=allow)
    return decode_image(data, field, max_pixels)


def render_to_file(
    engine: Engine,
    request: EngineRequest,
    first: np.ndarray,
    last: np.ndarray,
    path: Path,
    *,
    crf: int,
    preset: str,
    report: Report,
) -> Clip:
    """Analyse (5–15 %), then render and encode frame by frame into ``path`` (15–95 %)."""
    report(Stage.ANALYSING, 5)
    clip = engine.render(
        request, first, last, on_progress=lambda f: report(Stage.ANALYSING, 5 + int(10 * f))
    )
    encode_mp4(
        path, prefetch(clip.frames), width=request.width, height=request.height,
        fps=request.fps, frame_count=clip.frame_count, audio=clip.audio, crf=crf, preset=preset,
        on_frame=lambda i: report(Stage.RENDERING, 15 + (80 * (i + 1)) // clip.frame_count),
    )
    return clip
