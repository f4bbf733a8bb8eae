"""Loading a Wan pipeline (Wan2.1 FLF2V or Wan2.2 I2V): once per process, never downloading
unless allowed, with the family's placement and speed-ups (``engines.diffusion.runtime``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from inbetween.engines.diffusion import runtime
from inbetween.engines.diffusion.runtime import (
    INSTALL_HINT,
    ModelConfig,
    diffusion_installed,
    out_of_memory,
    unload,
)
from inbetween.engines.registry import WAN, WAN22
from inbetween.errors import ModelUnavailable
from inbetween.settings import Settings, parse_loras

__all__ = ["INSTALL_HINT", "diffusion_installed", "drops_last_frame", "load_pipeline",
           "out_of_memory", "prepare", "unload", "wan21_config", "wan22_config"]

WORKING_GIB = 8.0
"""Estimated GPU memory beside the weights for 81 frames at 1280×720 (~76 k tokens, the
conditional and unconditional passes run one after the other, the float32 VAE's tiled
decode); not measured."""



def wan21_config(settings: Settings) -> ModelConfig:
    return ModelConfig(
        engine=WAN, setting="INBETWEEN_WAN_MODEL", source=settings.wan_model,
        denoisers=("transformer",), loras=parse_loras(settings.wan_loras),
        lora_setting="INBETWEEN_WAN_LORAS",
        first_block_cache=settings.diffusion_first_block_cache, working_gib=WORKING_GIB)


def wan22_config(settings: Settings) -> ModelConfig:
    return ModelConfig(
        engine=WAN22, setting="INBETWEEN_WAN22_MODEL", source=settings.wan22_model or "",
        denoisers=("transformer", "transformer_2"),
        loras=parse_loras(settings.wan22_loras), lora_setting="INBETWEEN_WAN22_LORAS",
        first_block_cache=settings.diffusion_first_block_cache, working_gib=WORKING_GIB)


def drops_last_frame(folder: Path) -> str | None:
    """Why the Wan pipeline saved in ``folder`` would ignore ``last_image`` (Wan2.2-TI2V-5B:
    ``expand_timesteps``; a single-transformer folder is no A14B), or None when it takes it."""
    index_file = folder / "model_index.json"
    if not index_file.is_file():
        return None  # not there yet: the job reports the missing model
    index = json.loads(index_file.read_text())
    transformer_file = folder / "transformer" / "config.json"
    transformer = json.loads(transformer_file.read_text()) if transformer_file.is_file() else {}
    if index.get("expand_timesteps") or transformer.get("expand_timesteps"):
        return (f"{folder} is a Wan2.2-TI2V-style model (expand_timesteps), which silently "
                "drops the last frame: use Wan2.2-I2V-A14B (Wan-AI/Wan2.2-I2V-A14B-Diffusers)")
    if index.get("boundary_ratio") is None or not (index.get("transformer_2") or [None])[-1]:
        return (f"{folder} has no second transformer and boundary_ratio: it is not a "
                "Wan2.2-I2V-A14B pipeline (Wan-AI/Wan2.2-I2V-A14B-Diffusers)")
    return None


def load_pipeline(settings: Settings, config: ModelConfig | None = None) -> Any:
    """The process's Wan pipeline for ``config`` (default: Wan2.1), loaded on first use."""
    config = config or wan21_config(settings)
    return runtime.load(config, settings, lambda: _load(config, settings))


def _load(config: ModelConfig, settings: Settings) -> Any:
    try:
        import torch
        from diffusers import AutoencoderKLWan, WanImageToVideoPipeline
        from transformers import CLIPVisionModel
    except ImportError as e:
        raise ModelUnavailable(f"the diffusion engine is not installed here: {INSTALL_HINT}"
                               ) from e
    where, options = runtime.source_of(config, settings)
    if config.engine == WAN22 and (why := drops_last_frame(Path(where))) is not None:
        raise ModelUnavailable(f"{config.setting}: {why}")
    dtype = runtime.torch_dtype(settings.diffusion_dtype)
    try:
        index = WanImageToVideoPipeline.load_config(where, **options)
        parts: dict[str, Any] = {}
        # the image encoder (Wan2.1 only) and the VAE stay float32, as the model cards advise
        if (index.get("image_encoder") or [None])[-1]:
            parts["image_encoder"] = CLIPVisionModel.from_pretrained(
                where, subfolder="image_encoder", dtype=torch.float32, **options)
        parts["vae"] = AutoencoderKLWan.from_pretrained(where, subfolder="vae",
                                                        dtype=torch.float32, **options)
        pipe = WanImageToVideoPipeline.from_pretrained(where, **parts, dtype=dtype, **options)
    except (OSError, ValueError) as e:
        raise ModelUnavailable(f"the model at {config.source!r} ({config.setting}) could not "
                               f"be loaded: {e}") from e
    return prepare(pipe, config, settings)


def prepare(pipe: Any, config: ModelConfig, settings: Settings) -> Any:
    """What the engine does to a pipeline once it is loaded: placement (offload, VAE tiling)
    and the speed-ups (benchmarks/gpu_acceptance.py's full-depth rows hand it a pipeline
    built in memory)."""
    runtime.place(pipe, settings, config)
    runtime.apply_speedups(pipe, config, settings)
    return pipe
