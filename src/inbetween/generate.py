"""`inbetween generate`: one video on this machine, without a server or a database."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inbetween.engines.base import EngineRequest
from inbetween.engines.keyframe import KeyframeEngine
from inbetween.errors import InvalidImage, InvalidRequest
from inbetween.jobs.models import (
    ASPECT_RATIOS,
    DURATIONS,
    FPS,
    MAX_SEED,
    RESOLUTIONS,
    GenerationRequest,
    ImageInput,
    JobWarning,
    Stage,
)
from inbetween.media.fetch import FetchPolicy
from inbetween.media.images import parse_image_field
from inbetween.parallel import both
from inbetween.pipeline import load_image, render_to_file
from inbetween.settings import Settings

__all__ = ["LocalJob", "LocalResult", "check_job", "run_local"]



@dataclass(frozen=True)
class LocalJob:
    first: str
    last: str
    prompt: str
    output: Path
    resolution: str = "1080p"
    aspect_ratio: str = "16:9"
    duration: int = 8
    seed: int | None = None
    audio: bool = True


@dataclass(frozen=True)
class LocalResult:
    frames: int
    width: int
    height: int
    seed: int
    warnings: tuple[JobWarning, ...]


def check_job(job: LocalJob) -> None:
    """Raise InvalidRequest when an option of ``job`` is not allowed (as the HTTP API would)."""
    _check_choice("--resolution", job.resolution, RESOLUTIONS)
    _check_choice("--aspect-ratio", job.aspect_ratio, ASPECT_RATIOS)
    _check_choice("--duration", job.duration, DURATIONS)
    if not job.prompt.strip():
        raise InvalidRequest("--prompt must contain text", field="prompt")
    if job.seed is not None and not 0 <= job.seed <= MAX_SEED:
        raise InvalidRequest(f"--seed must be between 0 and {MAX_SEED}", field="seed")
    if job.output.suffix.lower() != ".mp4":
        raise InvalidRequest(f"--output must end in .mp4, got {job.output}", field="output")


def run_local(job: LocalJob, settings: Settings,
              on_progress: Callable[[str, int], None] | None = None) -> LocalResult:
    """Validate ``job``, render it with the keyframe engine and write ``job.output``."""
    # 1. check inputs
    check_job(job)
    request = GenerationRequest(
        model="inbetween/keyframe", prompt=job.prompt, aspect_ratio=job.aspect_ratio,
        duration=job.duration, resolution=job.resolution, generate_audio=job.audio, seed=job.seed,
    )
    report = on_progress or (lambda _stage, _pct: None)
    # 2. load both images
    report(Stage.FETCHING.value, 1)
    first, last = both(lambda option: _load(*option, settings),  # decoded at once
                       (job.first, "--first"), (job.last, "--last"))
    # 3. render into a temporary file beside the output, then move it into place
    width, height = request.size
    seed = job.seed if job.seed is not None else random.SystemRandom().randint(0, MAX_SEED)
    engine = KeyframeEngine()
    engine_request = EngineRequest(prompt=job.prompt, width=width, height=height, fps=FPS,
                                   frame_count=request.frame_count, seed=seed,
                                   generate_audio=job.audio)
    job.output.parent.mkdir(parents=True, exist_ok=True)
    partial = job.output.with_name(f".{job.output.name}.{os.getpid()}.part")
    try:
        rendered = render_to_file(engine, engine_request, first, last, partial,
                              crf=settings.video_crf, preset=settings.video_preset,
                              x264_params=settings.video_x264_params,
                              report=lambda stage, pct: report(stage.value, pct))
        os.replace(partial, job.output)
    finally:
        partial.unlink(missing_ok=True)
    report("done", 100)
    return LocalResult(request.frame_count, width, height, seed, rendered.warnings)


def _check_choice(flag: str, value: object, allowed: tuple[object, ...]) -> None:
    if value not in allowed:
        raise InvalidRequest(
            f"{flag} {value} is not allowed; use one of: {', '.join(map(str, allowed))}",
            field=flag, allowed=allowed,
        )


def _load(value: str, flag: str, settings: Settings) -> np.ndarray:
    source: ImageInput
    if value.lower().startswith(("http://", "https://", "data:")):
        source = parse_image_field(value, flag, settings.max_pixels)
    else:
        path = Path(value).expanduser()
        if not path.is_file():
            raise InvalidImage(f"{flag}: no such file: {path}", field=flag)
        source = ImageInput(data=path.read_bytes())
    policy = FetchPolicy(max_bytes=int(settings.fetch_max_mb * 2**20), anywhere=True,
                         connect_timeout=settings.fetch_connect_seconds,
                         total_timeout=settings.fetch_timeout_seconds)
    return load_image(source, flag, max_pixels=settings.max_pixels, policy=policy)
