"""Settings of the diffusion engines checked when a worker starts (``inbetween worker``, and
``inbetween serve`` with in-process workers), not at the first job: a bad value or a missing
optional package stops the process with one line naming the setting and the fix.

Only the engines this process offers are checked; a missing model folder is not refused here
(the job ends as ``ModelUnavailable`` and the worker goes on, so a folder can be filled later).
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.util import find_spec
from pathlib import Path

from inbetween.settings import Settings

__all__ = ["StartupRefused", "check_worker", "mask_free_backends", "warm_engines"]


class StartupRefused(Exception):
    """A setting this worker cannot run with; the message is the one line to print."""


def check_worker(settings: Settings) -> None:
    """Raise ``StartupRefused`` for the first setting this process's workers cannot use."""
    from inbetween.engines.registry import DIFFUSION, LOCAL_ENGINES, not_offered, offered_engines

    try:
        offered = offered_engines(settings)
    except ValueError as e:
        raise StartupRefused(str(e)) from None
    if settings.worker_engines is not None:  # named explicitly: it must be able to run
        for name in (n.strip() for n in settings.worker_engines.split(",") if n.strip()):
            why = not_offered(LOCAL_ENGINES[name], settings)
            if why is not None:
                raise StartupRefused(f"INBETWEEN_WORKER_ENGINES names {name}, but {why}")
    diffusion = [engine for engine in offered if engine in DIFFUSION]
    if not diffusion:
        return
    _check_combinations(settings, diffusion)
    _check_shared(settings, diffusion)
    for engine in diffusion:
        _check_engine(engine, settings)


def mask_free_backends() -> set[str]:
    """diffusers' attention backends that cannot take an attention mask: those whose function
    has no ``attn_mask`` argument or refuses one ("`attn_mask` is not supported" — flash 2/3/4,
    sage, native flash, aiter, XLA in diffusers 0.42). Read from diffusers itself, so that an
    upgrade that adds or fixes one is seen."""
    import inspect

    from diffusers.models.attention_dispatch import _AttentionBackendRegistry

    refused = set()
    for backend, function in _AttentionBackendRegistry._backends.items():
        try:
            source = inspect.getsource(function)
        except (OSError, TypeError):
            source = ""
        if ("attn_mask" not in _AttentionBackendRegistry._supported_arg_names.get(backend, ())
                or "attn_mask` is not supported" in source):
            refused.add(str(backend.value))
    return refused


def _check_combinations(settings: Settings, engines: list[str]) -> None:
    """Settings that crash together on a GPU (found by reading diffusers 0.42), refused before
    any model is loaded."""
    from inbetween.engines.registry import LTX2, WAN, WAN22

    offload, compile_ = settings.diffusion_offload, settings.diffusion_compile
    if offload == "sequential" and (compile_ or settings.diffusion_quantize != "none"):
        what = ("INBETWEEN_DIFFUSION_COMPILE" if compile_ else
                f"INBETWEEN_DIFFUSION_QUANTIZE={settings.diffusion_quantize}")
        raise StartupRefused(
            f"{what} does not work with INBETWEEN_DIFFUSION_OFFLOAD=sequential (its hooks move "
            "each weight to the GPU at every call, under the compiled or quantized modules); "
            "use INBETWEEN_DIFFUSION_OFFLOAD=model instead")
    if (compile_ and settings.diffusion_first_block_cache > 0
            and any(e in (WAN, WAN22) for e in engines)):
        raise StartupRefused(
            "INBETWEEN_DIFFUSION_FIRST_BLOCK_CACHE with INBETWEEN_DIFFUSION_COMPILE: the cache "
            "decides each step with a tensor's .item(), which compile's full graph forbids; "
            "set one of them off (INBETWEEN_DIFFUSION_FIRST_BLOCK_CACHE=0 or "
            "INBETWEEN_DIFFUSION_COMPILE=false)")
    if LTX2 in engines and compile_ and settings.ltx2_guidance > 1.0 and (
            _perturbed_attention(settings)):
        raise StartupRefused(
            "INBETWEEN_DIFFUSION_COMPILE with this LTX-2.3-style checkpoint (perturbed_attn) "
            "and INBETWEEN_LTX2_GUIDANCE > 1: its spatio-temporal guidance branches on a tensor, "
            "which compile's full graph forbids; turn compile off, or use a distilled "
            "checkpoint with INBETWEEN_LTX2_GUIDANCE=1")


def _perturbed_attention(settings: Settings) -> bool:
    """Whether the LTX-2 transformer in INBETWEEN_LTX2_MODEL is LTX-2.3-style (its config's
    ``perturbed_attn``); False when the folder cannot be read (a hub id: known at load)."""
    import json

    config = Path(settings.ltx2_model or "").expanduser() / "transformer" / "config.json"
    try:
        return bool(json.loads(config.read_text()).get("perturbed_attn", False))
    except (OSError, ValueError):
        return False


def _check_shared(settings: Settings, engines: list[str]) -> None:
    from inbetween.engines.registry import LTX2

    quantize = settings.diffusion_quantize
    if quantize != "none" and find_spec("torchao") is None:
        raise StartupRefused(f"INBETWEEN_DIFFUSION_QUANTIZE={quantize} needs torchao: "
                             "pip install torchao (or set it to none)")
    attention = settings.diffusion_attention
    if attention == "native":
        return
    from diffusers.models.attention_dispatch import (
        AttentionBackendName,
        _check_attention_backend_requirements,
    )

    names = [b.value for b in AttentionBackendName]
    if attention not in names:
        usable = [n for n in names if "hub" not in n]
        raise StartupRefused(f"INBETWEEN_DIFFUSION_ATTENTION={attention!r} is not an "
                             f"attention backend of diffusers; use one of {', '.join(usable)}")
    if "hub" in attention:
        raise StartupRefused(f"INBETWEEN_DIFFUSION_ATTENTION={attention}: hub backends fetch "
                             "their kernel at run time; install the kernel's package and use "
                             f"{attention.replace('_hub', '')!r} instead")
    if LTX2 in engines and attention in mask_free_backends():
        raise StartupRefused(
            f"INBETWEEN_DIFFUSION_ATTENTION={attention} cannot run LTX-2, whose transformer "
            "always passes an attention mask (its text padding) that this backend refuses; use "
            "native, _native_cudnn or _native_efficient, or keep ltx2 off this worker "
            "(INBETWEEN_WORKER_ENGINES)")
    try:
        _check_attention_backend_requirements(AttentionBackendName(attention))
    except (RuntimeError, ImportError) as e:
        raise StartupRefused(f"INBETWEEN_DIFFUSION_ATTENTION={attention}: "
                             f"{str(e).splitlines()[0]}") from None


def _check_engine(engine: str, settings: Settings) -> None:
    from inbetween.engines.diffusion.ltx2 import ltx2_config
    from inbetween.engines.registry import LTX2, WAN, WAN22
    from inbetween.engines.wan.loader import drops_last_frame, wan21_config, wan22_config

    config = {WAN: wan21_config, WAN22: wan22_config, LTX2: ltx2_config}[engine](settings)
    if config.loras:
        if find_spec("peft") is None:
            raise StartupRefused(f"{config.lora_setting} needs peft: pip install "
                                 "'inbetween[diffusion]'")
        for lora in config.loras:
            if not Path(lora.path).expanduser().exists() and not settings.allow_model_download:
                raise StartupRefused(f"{config.lora_setting}: no LoRA file or folder at "
                                     f"{lora.path!r}")
    if engine == LTX2:
        from inbetween.engines.diffusion.ltx2 import keyframe_hook_problem

        problem = keyframe_hook_problem()
        if problem is not None:
            raise StartupRefused(f"inbetween/ltx2 cannot place the last image with this "
                                 f"diffusers ({problem}); install the diffusers version "
                                 "inbetween pins (pip install 'inbetween[diffusion]'), or keep "
                                 "ltx2 off this worker (INBETWEEN_WORKER_ENGINES)")
        if settings.diffusion_first_block_cache > 0:
            raise StartupRefused(
                "INBETWEEN_DIFFUSION_FIRST_BLOCK_CACHE: diffusers has no first-block cache for "
                "LTX-2's transformer blocks; set it to 0, or keep ltx2 off this worker "
                "(INBETWEEN_WORKER_ENGINES)")
        upsampler = settings.ltx2_upsampler
        if upsampler and not Path(upsampler).expanduser().is_dir() and not (
                settings.allow_model_download):
            raise StartupRefused(f"INBETWEEN_LTX2_UPSAMPLER: no folder at {upsampler!r} (save "
                                 "the latent upsampler there with save_pretrained)")
    if engine == WAN22:
        why = drops_last_frame(Path(config.source).expanduser())
        if why is not None:
            raise StartupRefused(f"INBETWEEN_WAN22_MODEL: {why}")


def warm_engines(engines: Mapping[str, object], settings: Settings) -> None:
    """With ``INBETWEEN_DIFFUSION_COMPILE``, load and compile each diffusion engine now, so
    that the first job does not pay for it (one denoising step of a default request)."""
    if not settings.diffusion_compile:
        return
    for engine in engines.values():
        warm = getattr(engine, "warm", None)
        if warm is not None:
            warm()
