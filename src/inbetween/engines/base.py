"""The Engine protocol: plain dataclasses and NumPy arrays in, a streaming clip out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from inbetween.jobs.models import JobWarning

if TYPE_CHECKING:  # the sound stack loads only where sound is made
    from inbetween.media.audio import Soundtrack

__all__ = ["Clip", "Engine", "EngineRequest", "ProgressCallback"]

ProgressCallback = Callable[[float], None]
"""Called with the fraction (0–1) of the engine's analysis done; may raise to interrupt."""


@dataclass(frozen=True)
class EngineRequest:
    """What an engine needs to know, independent of HTTP and storage."""

    prompt: str
    width: int
    height: int
    fps: int
    frame_count: int
    seed: int
    generate_audio: bool = True
    negative_prompt: str | None = None


@dataclass(frozen=True)
class Clip:
    """A video to be encoded: frames are produced lazily, one at a time.

    ``frames`` yields exactly ``frame_count`` uint8 frames, each RGB (height, width, 3) or
    I420 (height·3/2, width) — the encoder's own layout, see ``media.yuv``;
    ``sound`` is the sound track being made (48 kHz planar float32 stereo covering the clip,
    with its warnings and details), or None for no track.
    """

    frames: Iterator[np.ndarray]
    frame_count: int
    sound: Future[Soundtrack] | None
    warnings: tuple[JobWarning, ...] = ()
    meta: dict[str, object] = field(default_factory=dict)


class Engine(Protocol):
    """Turns two keyframes and a prompt into a clip."""

    name: str
    credits_per_second: float

    def render(
        self,
        request: EngineRequest,
        first: np.ndarray,
        last: np.ndarray,
        on_progress: ProgressCallback | None = None,
    ) -> Clip:
        """Analyse the inputs (reporting progress) and return a clip whose frames stream."""
        ...
