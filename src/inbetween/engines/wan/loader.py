"""Loading the Wan FLF2V pipeline: once per process, never downloading unless allowed."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from inbetween.errors import ModelUnavailable
from inbetween.settings import Settings

__all__ = ["diffusion_installed", "load_pipeline", "out_of_memory", "unload"]

_lock = threading.Lock()
_loaded: dict[tuple[object, ...], Any] = {}
INSTALL_HINT = "pip install 'inbetween[diffusion]'"


def diffusion_installed() -> bool:
    """Whether torch and diffusers can be imported (without importing them)."""
    from importlib.util import find_spec

    return all(find_spec(name) is not None for name in ("torch", "diffusers", "transformers"))


def _key(settings: Settings) -> tuple[object, ...]:
    return (settings.wan_model, settings.diffusion_device, settings.diffusion_dtype,
            settings.diffusion_offload, settings.diffusion_vae_tiling,
            settings.allow_model_download)


def load_pipeline(settings: Settings) -> Any:
    """The process's pipeline for these settings, loaded on first use."""
    key = _key(settings)
    with _lock:
        if key not in _loaded:
            _loaded.clear()  # one model per process
            _loaded[key] = _load(settings)
        return _loaded[key]


def unload() -> None:
    with _lock:
        _loaded.clear()


def _load(settings: Settings) -> Any:
    try:
        import torch
        from diffusers import AutoencoderKLWan, WanImageToVideoPipeline
        from transformers import CLIPVisionModel
    except ImportError as e:
        raise ModelUnavailable(f"the diffusion engine is not installed here: {INSTALL_HINT}"
                               ) from e
    source = settings.wan_model
    local = Path(source).expanduser()
    if not local.is_dir() and not settings.allow_model_download:
        raise ModelUnavailable(
            f"no Wan model at {source!r} on this worker, and downloading is off: save the "
            "model there with save_pretrained, or set INBETWEEN_ALLOW_MODEL_DOWNLOAD=true")
    where = str(local) if local.is_dir() else source
    dtype = {"bfloat16": torch.bfloat16, "float16": torch.float16,
             "float32": torch.float32}.get(settings.diffusion_dtype)
    if dtype is None:
        raise ModelUnavailable(f"INBETWEEN_DIFFUSION_DTYPE={settings.diffusion_dtype!r}: use "
                               "bfloat16, float16 or float32")
    options = {"local_files_only": not settings.allow_model_download}
    try:
        # the image encoder and the VAE stay float32, as the model card advises
        image_encoder = CLIPVisionModel.from_pretrained(
            where, subfolder="image_encoder", dtype=torch.float32, **options)
        vae = AutoencoderKLWan.from_pretrained(where, subfolder="vae",
                                               dtype=torch.float32, **options)
        pipe = WanImageToVideoPipeline.from_pretrained(
            where, vae=vae, image_encoder=image_encoder, dtype=dtype, **options)
    except (OSError, ValueError) as e:
        raise ModelUnavailable(f"the Wan model at {source!r} could not be loaded: {e}") from e
    device = settings.diffusion_device or ("cuda" if torch.cuda.is_available() else "cpu")
    if settings.diffusion_offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif settings.diffusion_offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
    if settings.diffusion_vae_tiling:
        pipe.vae.enable_tiling()
    pipe.set_progress_bar_config(disable=True)
    return pipe


def out_of_memory(error: BaseException) -> bool:
    """Whether ``error`` is the accelerator (or host) running out of memory."""
    try:
        import torch

        if isinstance(error, torch.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):
        pass
    return isinstance(error, MemoryError) or "out of memory" in str(error).lower()
