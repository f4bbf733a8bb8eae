"""LTX2Engine: LTX-2.x through diffusers' ``LTX2ConditionPipeline`` — first and last frame, and
the model's own synchronised sound (speech included).

- The first image is conditioned at index 0 and the last at index −1, at 24 fps: no
  retiming. LTX-2 makes 8k+1 frames while ``duration × 24`` is 8k, so the engine generates
  ``duration × 24 + 1`` frames (97/145/193) and drops generated frame ``duration × 24 − 1``:
  exactly ``duration × 24`` frames, ending on the frame conditioned on the last image.
  diffusers reads a condition's index as a *latent* index and places a keyframe at pixel
  frame 8j+1 (so index −1 would land 7 frames before the end); LTX-2's reference places a
  keyframe at any pixel frame, and the engine's pipeline class does so for the last image:
  at the clip's last frame (``LastFrameLTX2Pipeline``).
- Size: the largest area within ``INBETWEEN_LTX2_MAX_AREA`` with sides multiples of 32,
  upscaled to the output; with ``INBETWEEN_LTX2_UPSAMPLER`` (a latent upsampler folder), sizes
  above that area are generated at half the output size and their latents upsampled ×2.
- Guidance above 1: the pipeline's full LTX-2 recipe (CFG, spatio-temporal and modality
  guidance); 1 or below (distilled checkpoints and LoRAs): one transformer pass per step.
- The engine decodes the latents itself: the video always, the audio (audio VAE + vocoder)
  only with ``generate_audio``, and nothing after a cancel. The sound is resampled to 48 kHz
  stereo, cut to ``duration`` and mastered (``media.audio.master_model_audio``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import cv2
import numpy as np

from inbetween.engines.base import Clip, EngineRequest, ProgressCallback
from inbetween.engines.diffusion import runtime
from inbetween.engines.diffusion.runtime import ModelConfig
from inbetween.engines.registry import LTX2
from inbetween.errors import EngineError, ModelUnavailable
from inbetween.media.audio import Soundtrack, in_background, master_model_audio
from inbetween.media.images import fit_to_canvas
from inbetween.settings import Settings, parse_loras

__all__ = ["FPS", "LTX2Engine", "ltx2_config", "plan", "prepare"]

FPS = 24
MULTIPLE = 32  # the video VAE's spatial compression
WORKING_GIB = 10.0
"""Estimated GPU memory beside the weights for 8 s at 1280×704 (~23 k video tokens, CFG
batched with spatio-temporal and modality guidance passes, the tiled decode); not measured."""


def ltx2_config(settings: Settings) -> ModelConfig:
    return ModelConfig(engine=LTX2, setting="INBETWEEN_LTX2_MODEL",
                       source=settings.ltx2_model or "", denoisers=("transformer",),
                       loras=parse_loras(settings.ltx2_loras),
                       lora_setting="INBETWEEN_LTX2_LORAS", working_gib=WORKING_GIB)


KEYFRAME_PARAMETERS = ("keyframe_latent_num_frames", "keyframe_latent_height",
                       "keyframe_latent_width", "pixel_frame_idx", "num_pixel_frames", "fps",
                       "device")
"""The arguments of diffusers' ``LTX2ConditionPipeline._prepare_keyframe_coords`` that
``LastFrameLTX2Pipeline`` relies on (checked when a worker starts)."""


@functools.cache
def pipeline_class() -> Any:
    """``LTX2ConditionPipeline`` with the keyframe at latent index −1 placed on the clip's last
    pixel frame (``last_frame``), as LTX-2's reference keyframe conditioning does.

    ``last_frame`` is (the pixel frame diffusers gives latent index −1, the clip's last pixel
    frame): only the keyframe diffusers places at the first is moved, and ``placed`` counts
    the moves, so a generation can check that it happened exactly once."""
    from diffusers import LTX2ConditionPipeline

    class LastFrameLTX2Pipeline(LTX2ConditionPipeline):  # type: ignore[misc]
        last_frame: tuple[int, int] | None = None
        placed = 0

        def _prepare_keyframe_coords(self, *args: Any, pixel_frame_idx: int,
                                     **kwargs: Any) -> Any:
            if self.last_frame is not None and pixel_frame_idx == self.last_frame[0]:
                pixel_frame_idx = self.last_frame[1]
                self.placed += 1
            return super()._prepare_keyframe_coords(*args, pixel_frame_idx=pixel_frame_idx,
                                                    **kwargs)

    return LastFrameLTX2Pipeline


def keyframe_hook_problem() -> str | None:
    """Why ``LastFrameLTX2Pipeline`` cannot work with the installed diffusers (its
    ``_prepare_keyframe_coords`` is missing or takes other arguments), or None."""
    import inspect

    from diffusers import LTX2ConditionPipeline

    method = getattr(LTX2ConditionPipeline, "_prepare_keyframe_coords", None)
    if method is None:
        return "LTX2ConditionPipeline has no _prepare_keyframe_coords"
    names = tuple(n for n in inspect.signature(method).parameters if n != "self")
    if names != KEYFRAME_PARAMETERS:
        return (f"LTX2ConditionPipeline._prepare_keyframe_coords takes {names}, not "
                f"{KEYFRAME_PARAMETERS}")
    return None


def plan(width: int, height: int, max_area: int, upsampler: bool) -> tuple[int, int, bool]:
    """(w, h, upsample): the size the model generates at, and whether its latents are then
    upsampled ×2 (only with an upsampler, and only for outputs larger than ``max_area``)."""
    if upsampler and width * height > max_area:
        w, h = runtime.fit_size(width // 2, height // 2, max_area, MULTIPLE)
        return w, h, True
    w, h = runtime.fit_size(width, height, max_area, MULTIPLE)
    return w, h, False


class LTX2Engine(runtime.DiffusionEngine):
    """LTX-2.x from ``INBETWEEN_LTX2_MODEL``, loaded once per process."""

    name = LTX2

    def config(self) -> ModelConfig:
        return ltx2_config(self.settings)

    def load(self) -> tuple[Any, Any]:
        """(pipeline, latent upsample pipeline or None)."""
        config = self.config()
        loaded: tuple[Any, Any] = runtime.load(config, self.settings,
                                               lambda: _load(config, self.settings))
        return loaded

    def render(self, request: EngineRequest, first: np.ndarray, last: np.ndarray,
               on_progress: ProgressCallback | None = None) -> Clip:
        report = on_progress or (lambda _f: None)
        settings = self.settings
        if request.fps != FPS:
            raise ValueError(f"{LTX2} makes {FPS} fps video, not {request.fps}")
        a = fit_to_canvas(first, request.width, request.height)
        b = fit_to_canvas(last, request.width, request.height)
        count = request.frame_count  # duration × 24 = 8k
        frames = count + 1  # 8k + 1, as LTX-2 needs
        steps, guidance = settings.ltx2_steps, settings.ltx2_guidance
        with runtime.RUN:
            pipe, upsampler = self.load()
            w, h, upsample = plan(request.width, request.height, settings.ltx2_max_area,
                                  upsampler is not None)
            report(0.02)
            with runtime.out_of_memory_is_a_job_error(
                    pipe.device, f"generating {frames} frames at {w}×{h}",
                    "lower INBETWEEN_LTX2_MAX_AREA, or set INBETWEEN_DIFFUSION_OFFLOAD=model "
                    "(and keep INBETWEEN_DIFFUSION_VAE_TILING=true)"):
                video, wave = _generate(pipe, upsampler if upsample else None, request, a, b,
                                        w, h, frames, steps, guidance, report)
            rate = int(pipe.vocoder.config.output_sampling_rate)
        report(1.0)
        # drop generated frame count − 1: the output ends on the last conditioned frame
        generated = [*video[: count - 1], video[frames - 1]]
        sound: Future[Soundtrack] | None = None
        if wave is not None:  # mastered while the frames are encoded
            sound = in_background(lambda: master_model_audio(wave, rate, count / FPS),
                                  "model-audio")
        meta: dict[str, object] = {
            "model": self.model_name(),
            "model_size": [w * 2, h * 2] if upsample else [w, h],
            "model_frames": frames,
            "model_fps": FPS,
            "dropped_frame": count - 1,
            "upsampled": upsample,
            "steps": steps,
            "guidance": guidance,
            "drift_first": runtime.drift(generated[0], a),
            "drift_last": runtime.drift(generated[-1], b),
        }
        return Clip(frames=_output(generated, a, b, request), frame_count=count, sound=sound,
                    meta=meta)


def _output(generated: list[np.ndarray], a: np.ndarray, b: np.ndarray,
            request: EngineRequest) -> Iterator[np.ndarray]:
    """The generated frames at the output size (RGB), ends pinned to the inputs."""
    size = (request.width, request.height)
    for i, frame in enumerate(generated):
        if frame.shape[1::-1] != size:
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_CUBIC)
        yield runtime.pin(frame, i, len(generated), a, b)


def _guidance(guidance: float) -> dict[str, float]:
    if guidance > 1.0:  # the pipeline's LTX-2 recipe around this CFG scale
        return {"guidance_scale": guidance}
    # distilled: no CFG, no spatio-temporal or modality guidance: one pass per step
    return {"guidance_scale": 1.0, "audio_guidance_scale": 1.0, "stg_scale": 0.0,
            "audio_stg_scale": 0.0, "modality_scale": 1.0, "audio_modality_scale": 1.0}


def _generate(pipe: Any, upsampler: Any, request: EngineRequest, a: np.ndarray, b: np.ndarray,
              w: int, h: int, frames: int, steps: int, guidance: float,
              report: ProgressCallback) -> tuple[list[np.ndarray], np.ndarray | None]:
    """(frames as uint8 RGB, the vocoder's wave (channels, samples) or None)."""
    import torch
    from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition
    from PIL import Image

    first = Image.fromarray(cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA))
    last = Image.fromarray(cv2.resize(b, (w, h), interpolation=cv2.INTER_AREA))
    generator = torch.Generator(device="cpu").manual_seed(request.seed)
    # diffusers puts latent index −1 at pixel frame r(k−1)+1 = frames − r (r: the VAE's
    # temporal compression, 8); move it to the last
    pipe.last_frame = (frames - pipe.vae_temporal_compression_ratio, frames - 1)
    pipe.placed = 0
    with runtime.reset_on_error(pipe):
        latents, audio_latents = pipe(
            conditions=[LTX2VideoCondition(frames=first, index=0, strength=1.0),
                        LTX2VideoCondition(frames=last, index=-1, strength=1.0)],
            prompt=request.prompt, negative_prompt=request.negative_prompt, height=h, width=w,
            num_frames=frames, frame_rate=float(FPS), num_inference_steps=steps,
            generator=generator, output_type="latent", return_dict=False,
            callback_on_step_end=runtime.step_callback(report, steps, end=0.85),
            **_guidance(guidance))
    if pipe.placed != 1:
        raise EngineError(f"the last image was placed on the last frame {pipe.placed} times, "
                          "not once: this diffusers' LTX2ConditionPipeline conditions "
                          "keyframes differently from the one inbetween was written for")
    with torch.inference_mode():
        if upsampler is not None:
            latents = upsampler(latents=latents, latents_normalized=False,
                                output_type="latent", return_dict=False)[0]
        report(0.9)
        video = _decode_video(pipe, latents)
        wave = _decode_audio(pipe, audio_latents) if request.generate_audio else None
    return video, wave


def _decode_video(pipe: Any, latents: Any) -> list[np.ndarray]:
    """What the pipeline's own decode does at decode timestep 0 (its default)."""
    import torch

    # the execution device, not pipe.vae.device: under model offload the pipeline has moved
    # every component back to the CPU when it returns (sequential: to "meta"), and the VAE's
    # own hook moves only the VAE to the accelerator when decode is called
    latents = latents.to(pipe._execution_device, pipe.vae.dtype)
    timestep = None
    if pipe.vae.config.timestep_conditioning:
        timestep = torch.zeros(latents.shape[0], device=latents.device, dtype=latents.dtype)
    decoded = pipe.vae.decode(latents, timestep, return_dict=False)[0]
    video = np.asarray(pipe.video_processor.postprocess_video(decoded.float(),
                                                               output_type="np")[0])
    pixels = np.clip(video * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return [np.ascontiguousarray(f) for f in pixels]


def _decode_audio(pipe: Any, audio_latents: Any) -> np.ndarray:
    latents = audio_latents.to(pipe._execution_device, pipe.audio_vae.dtype)  # as the video
    mel = pipe.audio_vae.decode(latents, return_dict=False)[0]
    wave = pipe.vocoder(mel.to(pipe.vocoder.dtype))
    return np.asarray(wave[0].float().cpu().numpy(), dtype=np.float32)


def _load(config: ModelConfig, settings: Settings) -> tuple[Any, Any]:
    try:
        pipeline = pipeline_class()
    except ImportError as e:
        raise ModelUnavailable(f"the diffusion engine is not installed here: "
                               f"{runtime.INSTALL_HINT}") from e
    where, options = runtime.source_of(config, settings)
    dtype = runtime.torch_dtype(settings.diffusion_dtype)
    try:
        pipe = pipeline.from_pretrained(where, dtype=dtype, **options)
    except (OSError, ValueError) as e:
        raise ModelUnavailable(f"the model at {config.source!r} ({config.setting}) could not "
                               f"be loaded: {e}") from e
    return prepare(pipe, config, settings)


def prepare(pipe: Any, config: ModelConfig, settings: Settings) -> tuple[Any, Any]:
    """What the engine does to a pipeline once it is loaded: placement (offload, VAE tiling),
    the speed-ups, and the latent upsampler. (benchmarks/gpu_acceptance.py's full-depth rows
    hand it a pipeline built in memory: 62 GB of random weights are not written to disk.)"""
    runtime.place(pipe, settings, config)
    runtime.apply_speedups(pipe, config, settings)
    upsampler = None
    if settings.ltx2_upsampler:
        upsampler = _load_upsampler(pipe, settings, runtime.torch_dtype(settings.diffusion_dtype))
    return pipe, upsampler


def _load_upsampler(pipe: Any, settings: Settings, dtype: Any) -> Any:
    from diffusers.pipelines.ltx2 import LTX2LatentUpsamplePipeline
    from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

    upsampler = ModelConfig(engine=LTX2, setting="INBETWEEN_LTX2_UPSAMPLER",
                            source=settings.ltx2_upsampler or "", denoisers=())
    where, options = runtime.source_of(upsampler, settings)
    try:
        model = LTX2LatentUpsamplerModel.from_pretrained(where, dtype=dtype, **options)
    except (OSError, ValueError) as e:
        raise ModelUnavailable(f"the latent upsampler at {upsampler.source!r} "
                               f"(INBETWEEN_LTX2_UPSAMPLER) could not be loaded: {e}") from e
    # a small model: on the device whatever the offload; the VAE is the pipeline's own
    model.to(runtime.device_of(settings))
    upsample = LTX2LatentUpsamplePipeline(vae=pipe.vae, latent_upsampler=model)
    upsample.set_progress_bar_config(disable=True)
    return upsample
