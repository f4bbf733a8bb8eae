"""What every diffusion engine shares: loading, placement, speed-ups, progress, memory, ends.

- **Loading** once per process, from a local folder written by ``save_pretrained`` (a hub id
  only with ``INBETWEEN_ALLOW_MODEL_DOWNLOAD``); one model per process at a time, so a GPU
  holds one model whatever the engines a worker offers.
- **Placement**: ``INBETWEEN_DIFFUSION_DEVICE`` (cuda when available), offload (``auto``:
  chosen at load from the GPU's free memory, ``none``, ``model``, ``sequential``), VAE tiling
  (on by default).
- **Speed-ups**, applied in this order: distilled LoRAs loaded and fused (then their PEFT
  layers dropped) → quantization of the transformer(s) with torchao (``fp8``, ``int8``) →
  attention backend (``set_attention_backend``) → first-block cache (Wan only) → regional
  ``torch.compile`` of the transformer blocks (``compile_repeated_blocks``).
- **Progress and cancel** through the pipeline's step callback: raising there (a cancelled or
  lost job) stops within the step, before any VAE decode.
- **Out of memory** ends the job as ``OutOfMemory`` (with what to lower) and frees the cache,
  so the worker goes on.
- **Ends pinned** to the fitted inputs (exactly at the first and last frame, blended over
  ``PINNED_FRAMES``), and **retiming** to 24 fps by flow interpolation for models with another
  rate.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from inbetween.engines.base import Clip, EngineRequest, ProgressCallback
from inbetween.errors import ModelUnavailable, OutOfMemory
from inbetween.jobs.models import Stage
from inbetween.log import event
from inbetween.preflight import install_command
from inbetween.settings import Lora, Settings

__all__ = ["INSTALL_HINT", "PINNED_FRAMES", "RUN", "DiffusionEngine", "Footprint", "ModelConfig",
           "apply_speedups", "diffusion_installed", "drift", "fit_size", "footprint",
           "free_memory", "load", "offload_mode",
           "out_of_memory", "out_of_memory_is_a_job_error", "pin", "place", "retimed",
           "source_of", "step_callback", "torch_dtype", "unload", "warm"]

log = logging.getLogger("inbetween.diffusion")
INSTALL_HINT = install_command("diffusion")
PINNED_FRAMES = 6  # output frames over which each end is blended into its keyframe
RUN = threading.Lock()  # one diffusion job at a time per process, whatever the concurrency
QUANTIZERS = {"fp8": "Float8DynamicActivationFloat8WeightConfig",
              "int8": "Int8WeightOnlyConfig"}
"""torchao configurations by ``INBETWEEN_DIFFUSION_QUANTIZE`` value."""

_lock = threading.Lock()
_loaded: dict[tuple[object, ...], Any] = {}


def diffusion_installed() -> bool:
    """Whether torch and diffusers can be imported (without importing them)."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in ("torch", "diffusers", "transformers"))


@dataclass(frozen=True)
class ModelConfig:
    """One model of the family: where it lives and how it is sped up."""

    engine: str  # the model name clients ask for, e.g. inbetween/ltx2
    setting: str  # the setting naming its folder, e.g. INBETWEEN_LTX2_MODEL
    source: str
    denoisers: tuple[str, ...]  # the pipeline's transformer attributes
    loras: tuple[Lora, ...] = ()
    lora_setting: str = ""
    first_block_cache: float = 0.0  # threshold; 0: off
    working_gib: float = 10.0
    """GPU memory a default request needs beside the weights (activations of the guided
    denoising passes, the tiled VAE decode): an estimate, for ``INBETWEEN_DIFFUSION_OFFLOAD=auto``
    and docs/diffusion.md, until benchmarks/gpu_acceptance.py has measured it."""

    def key(self, settings: Settings) -> tuple[object, ...]:
        return (self, settings.diffusion_device, settings.diffusion_dtype,
                settings.diffusion_offload, settings.diffusion_vae_tiling,
                settings.allow_model_download, settings.diffusion_attention,
                settings.diffusion_quantize, settings.diffusion_compile)


class DiffusionEngine:
    """What every adapter of the family shares: its settings, its share of the progress bar
    (it generates inside ``render``), warming at start, and its model's ``ModelConfig``."""

    name: str
    render_stage = Stage.RENDERING
    render_share = 0.7  # of the progress bar: denoising and decoding; then encoding

    def __init__(self, settings: Settings, credits_per_second: float = 0.0) -> None:
        self.settings = settings
        self.credits_per_second = credits_per_second

    def config(self) -> ModelConfig:
        raise NotImplementedError

    def model_name(self) -> str:
        """The model folder's (or hub id's) last part, for ``meta.details.model``."""
        return self.config().source.rstrip("/").rsplit("/", 1)[-1]

    def warm(self) -> None:
        warm(self)

    def render(self, request: EngineRequest, first: np.ndarray, last: np.ndarray,
               on_progress: ProgressCallback | None = None) -> Clip:
        raise NotImplementedError


def load(config: ModelConfig, settings: Settings, build: Callable[[], Any]) -> Any:
    """The process's pipeline for ``config``, built on first use; loading another model
    drops the one held (one model per process)."""
    key = config.key(settings)
    with _lock:
        if key not in _loaded:
            _loaded.clear()
            free_memory()
            _loaded[key] = build()
        return _loaded[key]


def unload() -> None:
    with _lock:
        _loaded.clear()


def source_of(config: ModelConfig, settings: Settings) -> tuple[str, dict[str, Any]]:
    """Where ``from_pretrained`` loads the model from, and the options that keep it offline
    unless downloading is allowed; ``ModelUnavailable`` when the folder is missing."""
    local = Path(config.source).expanduser()
    if not local.is_dir() and not settings.allow_model_download:
        raise ModelUnavailable(
            f"no model for {config.engine} at {config.source!r} on this worker, and "
            f"downloading is off: save the model there with save_pretrained (see "
            f"docs/diffusion.md), fix {config.setting}, or set "
            "INBETWEEN_ALLOW_MODEL_DOWNLOAD=true")
    where = str(local) if local.is_dir() else config.source
    return where, {"local_files_only": not settings.allow_model_download}


def torch_dtype(name: str) -> Any:
    import torch

    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16,
             "float32": torch.float32}.get(name)
    if dtype is None:
        raise ModelUnavailable(f"INBETWEEN_DIFFUSION_DTYPE={name!r}: use bfloat16, float16 or "
                               "float32")
    return dtype


def device_of(settings: Settings) -> str:
    import torch

    return settings.diffusion_device or ("cuda" if torch.cuda.is_available() else "cpu")


RESERVE = 0.1
"""The share of the available GPU memory ``auto`` offload leaves free beyond the estimates
(at least 3 GiB: allocator fragmentation, kernels' workspaces, an estimate that is short)."""


@dataclass(frozen=True)
class Footprint:
    """What ``INBETWEEN_DIFFUSION_OFFLOAD=auto`` decides from, in GiB."""

    weights: float  # every component of the pipeline
    largest: float  # the largest component (what model offload holds at once)
    working: float  # ModelConfig.working_gib
    available: float  # the device's free memory plus what the pipeline already holds there

    def offload(self) -> str:
        """``none`` when everything fits, ``model`` when the largest component does, else
        ``sequential``."""
        usable = self.available - max(3.0, RESERVE * self.available)
        if self.weights + self.working <= usable:
            return "none"
        if self.largest + self.working <= usable:
            return "model"
        return "sequential"


def footprint(pipe: Any, config: ModelConfig, device: str) -> Footprint:
    """The weights of ``pipe``'s components and the free memory of ``device`` (a CUDA
    device), counting what the pipeline already holds there as available."""
    import torch

    sizes, on_device = [], 0
    for component in pipe.components.values():
        if not isinstance(component, torch.nn.Module):
            continue
        size = 0
        for tensor in [*component.parameters(), *component.buffers()]:
            nbytes = tensor.numel() * tensor.element_size()
            size += nbytes
            if tensor.device.type == "cuda":
                on_device += nbytes
        sizes.append(size)
    free, _total = torch.cuda.mem_get_info(torch.device(device))
    return Footprint(weights=sum(sizes) / 2**30, largest=max(sizes, default=0) / 2**30,
                     working=config.working_gib, available=(free + on_device) / 2**30)


def offload_mode(pipe: Any, config: ModelConfig, settings: Settings) -> str:
    """``INBETWEEN_DIFFUSION_OFFLOAD``, with ``auto`` decided (and logged, once per load) from
    the GPU's free memory: ``none`` off CUDA."""
    if settings.diffusion_offload != "auto":
        return settings.diffusion_offload
    device = device_of(settings)
    if not device.startswith("cuda"):
        return "none"
    fp = footprint(pipe, config, device)
    mode = fp.offload()
    event(log, "diffusion.offload", engine=config.engine, offload=mode,
          weights_gib=round(fp.weights, 1), largest_gib=round(fp.largest, 1),
          working_gib=fp.working, available_gib=round(fp.available, 1))
    return mode


def place(pipe: Any, settings: Settings, config: ModelConfig) -> Any:
    """Move ``pipe`` to its device (or set up offloading), tile the VAE, silence the bar."""
    device = device_of(settings)
    offload = offload_mode(pipe, config, settings)
    if offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
    if settings.diffusion_vae_tiling:
        pipe.vae.enable_tiling()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def apply_speedups(pipe: Any, config: ModelConfig, settings: Settings) -> None:
    """LoRAs fused → quantization → attention backend → first-block cache → compile."""
    denoisers = [getattr(pipe, name) for name in config.denoisers
                 if getattr(pipe, name, None) is not None]
    if config.loras:
        _fuse_loras(pipe, config)
    if settings.diffusion_quantize != "none":
        import torchao.quantization as quantization

        make = getattr(quantization, QUANTIZERS[settings.diffusion_quantize])
        for denoiser in denoisers:
            quantization.quantize_(denoiser, make())
    if settings.diffusion_attention != "native":
        for denoiser in denoisers:
            denoiser.set_attention_backend(settings.diffusion_attention)
    if config.first_block_cache > 0:
        from diffusers.hooks import FirstBlockCacheConfig

        for denoiser in denoisers:
            denoiser.enable_cache(FirstBlockCacheConfig(threshold=config.first_block_cache))
    if settings.diffusion_compile:
        for denoiser in denoisers:
            denoiser.compile_repeated_blocks(fullgraph=True)


def _fuse_loras(pipe: Any, config: ModelConfig) -> None:
    names = [f"lora{i}" for i in range(len(config.loras))]
    try:
        for name, lora in zip(names, config.loras, strict=True):
            pipe.load_lora_weights(lora.path, adapter_name=name)
            if "transformer_2" in config.denoisers and pipe.transformer_2 is not None:
                pipe.load_lora_weights(lora.path, adapter_name=name,
                                       load_into_transformer_2=True)
    except (OSError, ValueError, KeyError, RuntimeError) as e:
        raise ModelUnavailable(f"{config.lora_setting}: a LoRA could not be loaded into "
                               f"{config.engine}: {e}") from e
    pipe.set_adapters(names, adapter_weights=[lora.scale for lora in config.loras])
    components = [name for name in config.denoisers if getattr(pipe, name, None) is not None]
    pipe.fuse_lora(components=components, lora_scale=1.0, adapter_names=names)
    pipe.unload_lora_weights()  # the fused weights stay; the PEFT layers go


def fit_size(width: int, height: int, max_area: int, multiple: int) -> tuple[int, int]:
    """The largest (w, h) within ``max_area`` with the output's aspect, sides multiples of
    ``multiple`` (and never larger than the output)."""
    scale = min(1.0, math.sqrt(max_area / (width * height)))
    w = max(multiple, int(width * scale) // multiple * multiple)
    h = max(multiple, int(height * scale) // multiple * multiple)
    return w, h


@contextlib.contextmanager
def reset_on_error(pipe: Any) -> Iterator[None]:
    """Around a pipeline's call: when it ends by an exception (a cancel raised from the step
    callback, an out-of-memory error), do what the call's own end would have done —
    ``maybe_free_model_hooks``: reset the first-block cache's state, offload the components
    and re-apply the offload hooks — so that the next job starts as in a fresh process."""
    try:
        yield
    except BaseException:
        try:
            pipe.maybe_free_model_hooks()
        except Exception:  # the original error is the one to report
            log.warning("pipeline.reset_failed", exc_info=True)
        raise


def step_callback(report: ProgressCallback, steps: int, start: float = 0.05,
                  end: float = 0.9) -> Callable[..., dict[str, Any]]:
    """A ``callback_on_step_end`` reporting ``start``–``end`` over ``steps`` steps. Raising
    in ``report`` (a cancelled or lost job) stops within the step: diffusers' own interrupt
    flag would still run the whole VAE decode."""

    def on_step(_pipe: Any, index: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        report(start + (end - start) * min(1.0, (index + 1) / steps))
        return kwargs

    return on_step


class _WarmedUp(Exception):
    pass


def warm(engine: Any) -> None:
    """Load ``engine``'s model and run the first denoising step of a default request (8 s,
    720p, 16:9) — no decode — so that ``torch.compile`` has compiled before the first job."""
    request = EngineRequest(prompt="warm-up", width=1280, height=720, fps=24,
                            frame_count=192, seed=0, generate_audio=False)
    image = np.zeros((720, 1280, 3), np.uint8)

    def first_step_only(fraction: float) -> None:
        if fraction > 0.05:
            raise _WarmedUp

    with contextlib.suppress(_WarmedUp):
        engine.render(request, image, image, first_step_only)


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is the accelerator (or host) running out of memory."""
    try:
        import torch

        if isinstance(error, torch.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):
        pass
    return isinstance(error, MemoryError) or "out of memory" in str(error).lower()


def free_memory() -> None:
    import gc

    gc.collect()
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@contextlib.contextmanager
def out_of_memory_is_a_job_error(device: object, what: str, advice: str) -> Iterator[None]:
    """Running out of memory inside becomes ``OutOfMemory`` (after freeing the cache): the
    job ends with ``advice``, the worker goes on."""
    try:
        yield
    except Exception as e:
        if out_of_memory(e):
            free_memory()
            raise OutOfMemory(f"the {device} ran out of memory {what}: {advice}") from e
        raise


def drift(frame: np.ndarray, target: np.ndarray) -> float:
    """Mean absolute difference (0–255) between a generated frame and its input."""
    big = cv2.resize(frame, (target.shape[1], target.shape[0]), interpolation=cv2.INTER_CUBIC)
    return round(float(np.abs(big.astype(np.float32) - target.astype(np.float32)).mean()), 2)


def pin(frame: np.ndarray, i: int, count: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Blend the first and last ``PINNED_FRAMES`` into the keyframes (weight 1 at the ends);
    ``frame``, ``a`` and ``b`` share one layout (RGB or I420)."""
    for distance, key in ((i, a), (count - 1 - i, b)):
        if distance < PINNED_FRAMES:
            weight = 1.0 - distance / PINNED_FRAMES
            if weight >= 1.0:
                return key.copy()
            frame = cv2.addWeighted(key, weight, frame, 1.0 - weight, 0.0)
    return frame


def retimed(generated: list[np.ndarray], a: np.ndarray, b: np.ndarray,
            request: EngineRequest) -> Iterator[np.ndarray]:
    """``request.frame_count`` I420 frames at the output size: each lies between two generated
    frames and is synthesised from them by flow interpolation; the ends are pinned."""
    from inbetween.engines.keyframe.flow import Synthesiser, estimate_motion
    from inbetween.media.yuv import rgb_to_i420

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
            pair = (k, Synthesiser(estimate_motion(left, right, use_camera=False,
                                                       find_objects=False)))
        frame = pair[1](position - k)
        yield pin(frame, i, count, a, b)
