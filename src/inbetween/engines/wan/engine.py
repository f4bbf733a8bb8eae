"""WanEngine: Wan2.1 FLF2V (first–last-frame-to-video) through diffusers, on the user's GPU.

The model makes a short clip at its native 16 fps and a size within
``INBETWEEN_DIFFUSION_MAX_AREA``; the engine then upscales it to the output size and retimes it
to exactly ``duration × 24`` frames with the keyframe engine's flow interpolation, and pins
the ends to the fitted inputs (blending over the first and last frames when the model drifted,
reporting how far), so its output obeys the same contract as every local engine.

torch and diffusers are imported only when the engine is used (``inbetween[diffusion]``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np

from inbetween.engines.base import Clip, EngineRequest, ProgressCallback
from inbetween.engines.keyframe.flow import Synthesiser, estimate_motion
from inbetween.errors import OutOfMemory
from inbetween.jobs.models import JobWarning, Stage
from inbetween.media.audio import start_soundtrack
from inbetween.media.images import fit_to_canvas
from inbetween.media.yuv import rgb_to_i420
from inbetween.settings import Settings

__all__ = ["MODEL_FPS", "WanEngine", "model_frames", "model_size"]

MODEL_FPS = 16
PINNED_FRAMES = 6  # output frames over which each end is blended into its keyframe
_RUN = threading.Lock()  # one diffusion job at a time per process, whatever the concurrency


def model_size(width: int, height: int, max_area: int) -> tuple[int, int]:
    """The largest (w, h) within ``max_area`` with the output's aspect, sides multiples of 16
    (and never larger than the output)."""
    scale = min(1.0, math.sqrt(max_area / (width * height)))
    w = max(16, int(width * scale) // 16 * 16)
    h = max(16, int(height * scale) // 16 * 16)
    return w, h


def model_frames(seconds: float, max_frames: int) -> int:
    """Frames to generate at 16 fps: the clip's length, at most ``max_frames``, as 4k+1."""
    wanted = min(max_frames, round(seconds * MODEL_FPS) + 1)
    return max(5, (wanted - 1) // 4 * 4 + 1)


class WanEngine:
    """Wan2.1 FLF2V 14B (or any pipeline saved in the same format), loaded once per process."""

    name = "inbetween/wan-flf2v"
    render_stage = Stage.RENDERING
    render_share = 0.7  # of the progress bar: denoising and decoding; then retime + encode

    def __init__(self, settings: Settings, credits_per_second: float = 0.0) -> None:
        self.settings = settings
        self.credits_per_second = credits_per_second

    def render(self, request: EngineRequest, first: np.ndarray, last: np.ndarray,
               on_progress: ProgressCallback | None = None) -> Clip:
        from inbetween.engines.wan.loader import load_pipeline, out_of_memory

        report = on_progress or (lambda _f: None)
        settings = self.settings
        a = fit_to_canvas(first, request.width, request.height)
        b = fit_to_canvas(last, request.width, request.height)
        w, h = model_size(request.width, request.height, settings.diffusion_max_area)
        frames = model_frames(request.frame_count / request.fps, settings.diffusion_max_frames)
        steps = settings.diffusion_steps
        with _RUN:
            pipe = load_pipeline(settings)
            report(0.02)
            try:
                video = _generate(pipe, request, a, b, w, h, frames, steps,
                                  settings.diffusion_guidance, report)
            except Exception as e:
                if out_of_memory(e):
                    _free_memory()
                    raise OutOfMemory(
                        f"the {pipe.device} ran out of memory generating {frames} frames at "
                        f"{w}×{h}: lower INBETWEEN_DIFFUSION_MAX_AREA or "
                        "INBETWEEN_DIFFUSION_MAX_FRAMES, or set INBETWEEN_DIFFUSION_OFFLOAD"
                    ) from e
                raise
        report(1.0)
        generated = [np.ascontiguousarray(f) for f in video]
        drift_first = _drift(generated[0], a)
        drift_last = _drift(generated[-1], b)
        sound = None
        if request.generate_audio:
            sound = start_soundtrack(request.prompt, request.frame_count / request.fps,
                                     request.seed)
        warnings: tuple[JobWarning, ...] = ()
        return Clip(
            frames=_retimed(generated, a, b, request),
            frame_count=request.frame_count,
            sound=sound,
            warnings=warnings,
            meta={
                "model": settings.wan_model.rstrip("/").rsplit("/", 1)[-1],
                "model_size": [w, h],
                "model_frames": frames,
                "model_fps": MODEL_FPS,
                "steps": steps,
                "guidance": settings.diffusion_guidance,
                # mean absolute difference (0–255) between the model's end frames and the
                # inputs: how far the model drifted before the ends were pinned
                "drift_first": round(drift_first, 2),
                "drift_last": round(drift_last, 2),
            },
        )


def _generate(pipe: Any, request: EngineRequest, a: np.ndarray, b: np.ndarray, w: int, h: int,
              frames: int, steps: int, guidance: float,
              report: ProgressCallback) -> np.ndarray:
    import torch
    from PIL import Image

    def on_step(_pipe: Any, index: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        # raising here (a cancelled or lost job) stops within this step: diffusers' own
        # interrupt flag would still run the whole VAE decode
        report(0.05 + 0.85 * (index + 1) / steps)
        return kwargs

    first = Image.fromarray(cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA))
    last = Image.fromarray(cv2.resize(b, (w, h), interpolation=cv2.INTER_AREA))
    generator = torch.Generator(device="cpu").manual_seed(request.seed)
    output = pipe(image=first, last_image=last, prompt=request.prompt,
                  negative_prompt=request.negative_prompt, height=h, width=w,
                  num_frames=frames, num_inference_steps=steps, guidance_scale=guidance,
                  generator=generator, output_type="np", callback_on_step_end=on_step)
    video = np.asarray(output.frames[0])  # (frames, h, w, 3) floats in [0, 1]
    return np.clip(video * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _free_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _drift(frame: np.ndarray, target: np.ndarray) -> float:
    big = cv2.resize(frame, (target.shape[1], target.shape[0]), interpolation=cv2.INTER_CUBIC)
    return float(np.abs(big.astype(np.float32) - target.astype(np.float32)).mean())


def _retimed(generated: list[np.ndarray], a: np.ndarray, b: np.ndarray,
             request: EngineRequest) -> Iterator[np.ndarray]:
    """``request.frame_count`` frames at the output size: each lies between two generated
    frames and is synthesised from them by flow interpolation; the ends are pinned to the
    fitted inputs (exactly at the first and last frame, blended over ``PINNED_FRAMES``)."""
    size = (request.width, request.height)
    count, last_index = request.frame_count, len(generated) - 1
    a, b = rgb_to_i420(a), rgb_to_i420(b)  # the synthesised frames are I420 too
    pair: tuple[int, Synthesiser] | None = None
    for i in range(count):
        position = i / (count - 1) * last_index
        k = min(int(position), last_index - 1)
        if pair is None or pair[0] != k:
            left = cv2.resize(generated[k], size, interpolation=cv2.INTER_CUBIC)
            right = cv2.resize(generated[k + 1], size, interpolation=cv2.INTER_CUBIC)
            pair = (k, Synthesiser(estimate_motion(left, right, use_camera=False)))
        frame = pair[1](position - k)
        yield _pin(frame, i, count, a, b)


def _pin(frame: np.ndarray, i: int, count: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Blend the first and last ``PINNED_FRAMES`` into the keyframes (weight 1 at the ends)."""
    for distance, key in ((i, a), (count - 1 - i, b)):
        if distance < PINNED_FRAMES:
            weight = 1.0 - distance / PINNED_FRAMES
            if weight >= 1.0:
                return key.copy()
            frame = cv2.addWeighted(key, weight, frame, 1.0 - weight, 0.0)
    return frame
