"""The steps one generation goes through, shared by the worker and `inbetween generate`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from inbetween.engines.base import Engine, EngineRequest
from inbetween.jobs.models import ImageInput, JobWarning, Stage
from inbetween.media.images import decode_image
from inbetween.media.preview import PreviewTap
from inbetween.media.video import encode_mp4, prefetch

if TYPE_CHECKING:
    from inbetween.media.fetch import FetchPolicy

__all__ = ["Rendered", "Report", "load_image", "render_to_file"]

Report = Callable[[Stage, int], None]
"""Called with the current stage and percent done; may raise to interrupt the run."""


def load_image(
    source: ImageInput, field: str, *, max_pixels: int, policy: FetchPolicy
) -> np.ndarray:
    """The RGB pixels of an input: its bytes, or the image fetched from its URL."""
    data = source.data
    if data is None:  # the fetcher (httpx) loads only when a URL is to be fetched
        from inbetween.media.fetch import fetch_bytes

        assert source.url is not None
        data = fetch_bytes(source.url, field, policy)
    return decode_image(data, field, max_pixels)


@dataclass(frozen=True)
class Rendered:
    """What the client is told about a rendered clip: warnings, and the engine's details."""

    warnings: tuple[JobWarning, ...]
    details: dict[str, object]


def render_to_file(
    engine: Engine,
    request: EngineRequest,
    first: np.ndarray,
    last: np.ndarray,
    path: Path,
    *,
    crf: int,
    preset: str,
    x264_params: str,
    report: Report,
    tap: PreviewTap | None = None,
) -> Rendered:
    """Analyse (5–15 %), then render and encode frame by frame into ``path`` (15–95 %);
    engines that generate in ``render`` take a larger share (``render_share``).

    ``tap``, when given, sees every frame (on the renderer's thread) to make previews.
    """
    # the keyframe engine analyses in 5–15 %; an engine that generates inside render() (the
    # diffusion engine) declares its stage and where its share of the bar ends
    stage: Stage = getattr(engine, "render_stage", Stage.ANALYSING)
    end = 5 + round(90 * float(getattr(engine, "render_share", 10 / 90)))
    report(stage, 5)
    clip = engine.render(
        request, first, last, on_progress=lambda f: report(stage, 5 + int((end - 5) * f))
    )
    frames = clip.frames if tap is None else tap.wrap(clip.frames)
    encode_mp4(
        path, prefetch(frames), width=request.width, height=request.height,
        fps=request.fps, frame_count=clip.frame_count, audio=clip.sound, crf=crf, preset=preset,
        x264_params=x264_params,
        on_frame=lambda i: report(Stage.RENDERING,
                                  end + ((95 - end) * (i + 1)) // clip.frame_count),
        on_flush=lambda: report(Stage.ENCODING, 95),
    )
    if clip.sound is None:
        return Rendered(clip.warnings, dict(clip.meta))
    sound = clip.sound.result()
    return Rendered(clip.warnings + sound.warnings, {**clip.meta, "audio": sound.details})
