"""Which engine or provider runs which request: models, providers and the routes between them.

- ``inbetween/…`` models always run locally.
- The Google model names follow ``provider`` (case-insensitive): ``local`` (the engine named
  by ``INBETWEEN_LOCAL_ENGINE``), ``google``, ``fal``, ``aimlapi``, or ``auto`` (default): the
  chain ``INBETWEEN_PROVIDER_CHAIN`` restricted to providers with a key. With no provider
  configured, ``auto`` runs locally; a configured server never turns a Veo request into a local
  video unless the operator put ``local`` in the chain.
- A provider named explicitly but not configured is a 400 naming ``provider``; an explicit
  provider never falls back. A provider that cannot honour the request (e.g. Google's 1080p
  only at 8 s) is a 400 when named, and skipped when it is one link of ``auto``'s chain.
"""

from __future__ import annotations

from dataclasses import dataclass

from inbetween.engines.base import Engine
from inbetween.engines.keyframe import KeyframeEngine
from inbetween.errors import InvalidRequest
from inbetween.jobs.models import GenerationRequest, JobWarning
from inbetween.settings import Settings

__all__ = ["DIFFUSION", "GOOGLE_MODELS", "LOCAL_ENGINES", "LTX2", "MODELS", "PROVIDERS",
           "UPSTREAMS", "WAN", "WAN22", "Route", "build_engines", "claimable_models",
           "configured_providers", "not_offered", "offered_engines", "provider_refusal",
           "route"]

KEYFRAME = "inbetween/keyframe"
WAN = "inbetween/wan-flf2v"
LTX2 = "inbetween/ltx2"
WAN22 = "inbetween/wan2.2-flf2v"
DIFFUSION = {WAN: None, LTX2: "ltx2_model", WAN22: "wan22_model"}
"""The diffusion engines, and the setting (if any) that must name a model for them to be
offered."""
GOOGLE_MODELS = (
    "google/veo-3.1-first-last-image-to-video",
    "google/veo-3.1-first-last-image-to-video-fast",
)
MODELS = (*GOOGLE_MODELS, KEYFRAME, WAN, LTX2, WAN22)
UPSTREAMS = ("google", "fal", "aimlapi")
PROVIDERS = ("auto", "local", *UPSTREAMS)
LOCAL_ENGINES = {"keyframe": KEYFRAME, "wan-flf2v": WAN, "ltx2": LTX2, "wan2.2-flf2v": WAN22}


@dataclass(frozen=True)
class Route:
    """Where a request runs: ``chain`` of upstream providers to try in order (``local`` may
    end it), or the local ``engine`` alone when the chain is empty."""

    engine: str
    warnings: tuple[JobWarning, ...] = ()
    chain: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()  # (provider, why) left out of auto's chain


def configured_providers(settings: Settings) -> tuple[str, ...]:
    """Upstream providers whose key is set."""
    keys = {"google": settings.google_api_key, "fal": settings.fal_key,
            "aimlapi": settings.aimlapi_key}
    return tuple(name for name in UPSTREAMS if keys[name] is not None)


def provider_refusal(provider: str, request: GenerationRequest) -> tuple[str, str] | None:
    """(field, rule) when ``provider`` cannot honour ``request``, checked before anything is
    submitted or billed."""
    if provider == "google" and request.resolution == "1080p" and request.duration != 8:
        return ("resolution", "provider google makes 1080p only at 8 seconds: choose duration "
                "8 or resolution 720p")
    return None


def local_engine(settings: Settings) -> str:
    try:
        engine = LOCAL_ENGINES[settings.local_engine]
    except KeyError:
        raise InvalidRequest(
            f"INBETWEEN_LOCAL_ENGINE={settings.local_engine!r} is not an engine of this "
            f"server; use one of {sorted(LOCAL_ENGINES)}", field="provider") from None
    return _installed(engine, settings)


def not_offered(engine: str, settings: Settings) -> str | None:
    """Why ``engine`` cannot run here (what to install or set), or None when it can."""
    if engine not in DIFFUSION:
        return None
    from inbetween.engines.diffusion import runtime

    if not runtime.diffusion_installed():
        return (f"{engine} needs the diffusion extra on this server: {runtime.INSTALL_HINT} "
                "(torch, diffusers, transformers), and its model (docs/diffusion.md)")
    setting = DIFFUSION[engine]
    if setting is not None and getattr(settings, setting) is None:
        return (f"{engine} is not offered by this server: set INBETWEEN_{setting.upper()} to "
                "the model's folder (docs/diffusion.md)")
    return None


def _installed(engine: str, settings: Settings) -> str:
    """``engine``, or a 400 on ``model`` saying what to install or set when it is missing."""
    why = not_offered(engine, settings)
    if why is not None:
        raise InvalidRequest(why, field="model")
    return engine


def offered_engines(settings: Settings) -> tuple[str, ...]:
    """The local engines this process's workers run: ``INBETWEEN_WORKER_ENGINES`` (default:
    all), less those that cannot run here (a diffusion engine needs its extra, and LTX-2 and
    Wan2.2 their model setting)."""
    names = list(LOCAL_ENGINES) if settings.worker_engines is None else [
        n.strip() for n in settings.worker_engines.split(",") if n.strip()]
    unknown = [n for n in names if n not in LOCAL_ENGINES]
    if unknown:
        raise ValueError(f"INBETWEEN_WORKER_ENGINES: unknown engines {unknown}; use "
                         f"{sorted(LOCAL_ENGINES)}")
    engines = [LOCAL_ENGINES[n] for n in names]
    return tuple(e for e in engines if not_offered(e, settings) is None)


def claimable_models(settings: Settings) -> tuple[str, ...] | None:
    """Models whose jobs this process's workers may claim (None: all)."""
    offered = offered_engines(settings)
    if set(offered) == set(LOCAL_ENGINES.values()):
        return None
    models = [m for m in LOCAL_ENGINES.values() if m in offered]
    if configured_providers(settings) or LOCAL_ENGINES.get(settings.local_engine) in offered:
        models += GOOGLE_MODELS
    return tuple(models)


def route(request: GenerationRequest, settings: Settings) -> Route:
    """Choose where ``request`` runs (its provider already lower-cased)."""
    provider, model = request.provider, request.model
    configured = configured_providers(settings)
    if provider not in PROVIDERS:
        raise InvalidRequest(
            f"provider {provider!r} is not a provider; use one of: {', '.join(PROVIDERS)}",
            field="provider", allowed=PROVIDERS)
    if model not in GOOGLE_MODELS:
        if provider not in ("auto", "local"):
            raise InvalidRequest(
                f"{model} always runs on this server; leave provider at auto (or local)",
                field="provider", allowed=["auto", "local"])
        return Route(_installed(model, settings))
    if provider in UPSTREAMS:
        if provider not in configured:
            raise InvalidRequest(
                f"provider {provider!r} is not configured on this server; configured: "
                f"{', '.join(configured) or 'none'} (and local)",
                field="provider", allowed=["auto", "local", *configured])
        refusal = provider_refusal(provider, request)
        if refusal is not None:
            raise InvalidRequest(refusal[1], field=refusal[0])
        return Route(local_engine(settings), chain=(provider,))
    engine = local_engine(settings)
    note = JobWarning(
        "local_engine",
        f"{model} ran on this server's local engine {engine}; no upstream provider "
        f"{'was asked for' if provider == 'local' else 'is configured'} for the real model.")
    if provider == "local" or not configured:
        return Route(engine, (note,))
    wanted = [p.strip().lower() for p in settings.provider_chain.split(",") if p.strip()]
    chain: list[str] = []
    skipped: list[tuple[str, str]] = []
    first_refusal: tuple[str, str] | None = None
    for name in wanted:
        if name == "local":
            chain.append(name)
            continue
        if name not in configured:
            continue
        refusal = provider_refusal(name, request)
        if refusal is not None:
            first_refusal = first_refusal or refusal
            skipped.append((name, refusal[1]))
            continue
        chain.append(name)
    if not chain or (chain == ["local"] and not any(p in configured for p in wanted)):
        if first_refusal is not None:
            raise InvalidRequest(first_refusal[1], field=first_refusal[0])
        return Route(engine, (note,))
    return Route(engine, chain=tuple(chain), skipped=tuple(skipped))


def build_engines(settings: Settings) -> dict[str, Engine]:
    """Every local engine this process can run, by name (a diffusion engine only with its
    extra installed and its model named; models load on first use)."""
    offered = offered_engines(settings)
    engines: dict[str, Engine] = {}
    if KEYFRAME in offered:
        engines[KEYFRAME] = KeyframeEngine(
            credits_per_second=settings.keyframe_credits_per_second)
    if WAN in offered or WAN22 in offered:
        from inbetween.engines.wan.engine import Wan22Engine, WanEngine

        if WAN in offered:
            engines[WAN] = WanEngine(settings)
        if WAN22 in offered:
            engines[WAN22] = Wan22Engine(settings)
    if LTX2 in offered:
        from inbetween.engines.diffusion.ltx2 import LTX2Engine

        engines[LTX2] = LTX2Engine(settings)
    return engines
