"""WanEngine (Wan2.1 FLF2V) and Wan22Engine (Wan2.2 I2V A14B): first–last-frame video through
diffusers' ``WanImageToVideoPipeline`` (``image=`` and ``last_image=``), on the user's GPU.

The model makes a short clip at its native 16 fps and a size within
``INBETWEEN_DIFFUSION_MAX_AREA``; the engine then upscales it to the output size and retimes it
to exactly ``duration × 24`` frames with the keyframe engine's flow interpolation, and pins
the ends to the fitted inputs (blending over the first and last frames when the model drifted,
reporting how far), so its output obeys the same contract as every local engine. Wan2.2's two
experts (``transformer`` for high noise, ``transformer_2`` below ``boundary_ratio``) each have
their guidance scale. The sound track is synthesised (``meta.details.audio.source``).

torch and diffusers are imported only when the engine is used (``inbetween[diffusion]``).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from inbetween.engines.base import Clip, EngineRequest, ProgressCallback
from inbetween.engines.diffusion import runtime
from inbetween.engines.diffusion.runtime import ModelConfig
from inbetween.engines.registry import WAN, WAN22
from inbetween.media.audio import start_soundtrack
from inbetween.media.images import fit_to_canvas

__all__ = ["MODEL_FPS", "Wan22Engine", "WanEngine", "model_frames", "model_size"]

MODEL_FPS = 16


def model_size(width: int, height: int, max_area: int) -> tuple[int, int]:
    """The largest (w, h) within ``max_area`` with the output's aspect, sides multiples of 16
    (and never larger than the output)."""
    return runtime.fit_size(width, height, max_area, 16)


def model_frames(seconds: float, max_frames: int) -> int:
    """Frames to generate at 16 fps: the clip's length, at most ``max_frames``, as 4k+1."""
    wanted = min(max_frames, round(seconds * MODEL_FPS) + 1)
    return max(5, (wanted - 1) // 4 * 4 + 1)


class WanEngine(runtime.DiffusionEngine):
    """Wan2.1 FLF2V 14B (or any pipeline saved in the same format), loaded once per process."""

    name = WAN

    def config(self) -> ModelConfig:
        from inbetween.engines.wan.loader import wan21_config

        return wan21_config(self.settings)

    @property
    def steps(self) -> int:
        return self.settings.diffusion_steps

    @property
    def guidance(self) -> tuple[float, float | None]:
        """Guidance of the (high-noise) transformer and of ``transformer_2`` (None: none)."""
        return self.settings.diffusion_guidance, None

    def load(self) -> Any:
        from inbetween.engines.wan.loader import load_pipeline

        return load_pipeline(self.settings, self.config())

    def render(self, request: EngineRequest, first: np.ndarray, last: np.ndarray,
               on_progress: ProgressCallback | None = None) -> Clip:
        report = on_progress or (lambda _f: None)
        settings = self.settings
        a = fit_to_canvas(first, request.width, request.height)
        b = fit_to_canvas(last, request.width, request.height)
        w, h = model_size(request.width, request.height, settings.diffusion_max_area)
        frames = model_frames(request.frame_count / request.fps, settings.diffusion_max_frames)
        with runtime.RUN:
            pipe = self.load()
            report(0.02)
            with runtime.out_of_memory_is_a_job_error(
                    pipe.device, f"generating {frames} frames at {w}×{h}",
                    "lower INBETWEEN_DIFFUSION_MAX_AREA or INBETWEEN_DIFFUSION_MAX_FRAMES, or "
                    "set INBETWEEN_DIFFUSION_OFFLOAD"):
                video = _generate(pipe, request, a, b, w, h, frames, self.steps, self.guidance,
                                  report)
        report(1.0)
        generated = [np.ascontiguousarray(f) for f in video]
        sound = None
        if request.generate_audio:
            sound = start_soundtrack(request.prompt, request.frame_count / request.fps,
                                     request.seed)
        guidance, guidance_2 = self.guidance
        meta: dict[str, object] = {
            "model": self.model_name(),
            "model_size": [w, h],
            "model_frames": frames,
            "model_fps": MODEL_FPS,
            "steps": self.steps,
            "guidance": guidance,
            # mean absolute difference (0–255) between the model's end frames and the
            # inputs: how far the model drifted before the ends were pinned
            "drift_first": runtime.drift(generated[0], a),
            "drift_last": runtime.drift(generated[-1], b),
        }
        if guidance_2 is not None:
            meta["guidance_2"] = guidance_2
        return Clip(frames=runtime.retimed(generated, a, b, request),
                    frame_count=request.frame_count, sound=sound, meta=meta)


class Wan22Engine(WanEngine):
    """Wan2.2 I2V A14B: two experts switched at the pipeline's ``boundary_ratio``."""

    name = WAN22

    def config(self) -> ModelConfig:
        from inbetween.engines.wan.loader import wan22_config

        return wan22_config(self.settings)

    @property
    def steps(self) -> int:
        return self.settings.wan22_steps

    @property
    def guidance(self) -> tuple[float, float | None]:
        return self.settings.wan22_guidance, self.settings.wan22_guidance_2


def _generate(pipe: Any, request: EngineRequest, a: np.ndarray, b: np.ndarray, w: int, h: int,
              frames: int, steps: int, guidance: tuple[float, float | None],
              report: ProgressCallback) -> np.ndarray:
    import torch
    from PIL import Image

    first = Image.fromarray(cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA))
    last = Image.fromarray(cv2.resize(b, (w, h), interpolation=cv2.INTER_AREA))
    generator = torch.Generator(device="cpu").manual_seed(request.seed)
    scale, scale_2 = guidance
    extra = {} if scale_2 is None else {"guidance_scale_2": scale_2}
    with runtime.reset_on_error(pipe):
        output = pipe(image=first, last_image=last, prompt=request.prompt,
                      negative_prompt=request.negative_prompt, height=h, width=w,
                      num_frames=frames, num_inference_steps=steps, guidance_scale=scale,
                      generator=generator, output_type="np",
                      callback_on_step_end=runtime.step_callback(report, steps), **extra)
    video = np.asarray(output.frames[0])  # (frames, h, w, 3) floats in [0, 1]
    return np.clip(video * 255.0 + 0.5, 0, 255).astype(np.uint8)
