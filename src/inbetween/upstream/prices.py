"""List prices of the upstream models, for ``meta.usage.credits_used`` (USD per second).

Defaults: the providers' published list prices as of November 2026 — check them before
relying on them, and override with ``INBETWEEN_PRICES``. Google's Veo API always makes a
sound track and bills it, so its "no_audio" price is its with-audio price.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inbetween.jobs.models import GenerationRequest
    from inbetween.settings import Settings
    from inbetween.upstream.providers import Provider

__all__ = ["DEFAULT_PRICES", "local_price", "price_per_second", "worst_case_usd"]

DEFAULT_PRICES: dict[str, dict[str, dict[str, float]]] = {
    "google": {
        "veo-3.1-generate-preview": {"audio": 0.40, "no_audio": 0.40},
        "veo-3.1-fast-generate-preview": {"audio": 0.15, "no_audio": 0.15},
    },
    "fal": {
        "fal-ai/veo3.1/first-last-frame-to-video": {"audio": 0.40, "no_audio": 0.20},
        "fal-ai/veo3.1/fast/first-last-frame-to-video": {"audio": 0.15, "no_audio": 0.10},
    },
    "aimlapi": {},
}


@lru_cache(maxsize=8)
def _table(configured: str | None) -> dict[str, dict[str, dict[str, float]]]:
    if not configured:
        return DEFAULT_PRICES
    table = json.loads(configured)
    if not isinstance(table, dict):
        raise ValueError("INBETWEEN_PRICES must be a JSON object")
    return table


def price_per_second(configured: str | None, provider: str, model: str, audio: bool) -> float:
    """USD per second of video for this provider's model (0 when unknown)."""
    entry = _table(configured).get(provider, {}).get(model, {})
    return float(entry.get("audio" if audio else "no_audio", 0.0))


def local_price(configured: str | None, engine: str, audio: bool, default: float) -> float:
    """USD per second of a local engine's video: ``INBETWEEN_PRICES``' ``local`` entry for
    the engine's model when there is one, else ``default`` (the keyframe engine's
    ``INBETWEEN_KEYFRAME_CREDITS_PER_SECOND``; 0 for the others)."""
    entry = _table(configured).get("local", {}).get(engine)
    if entry is None:
        return default
    return float(entry.get("audio" if audio else "no_audio", 0.0))


def worst_case_usd(request: GenerationRequest, settings: Settings,
                   providers: Mapping[str, Provider]) -> float:
    """The most ``request`` can cost: its duration at the price of the most expensive link
    of its route (a fallback may end on any of them)."""
    from inbetween.engines.registry import KEYFRAME, route

    chosen = route(request, settings)
    fast = request.model.endswith("-fast")
    prices = []
    for name in chosen.chain or ("local",):
        if name == "local":
            default = settings.keyframe_credits_per_second if chosen.engine == KEYFRAME else 0.0
            prices.append(local_price(settings.prices, chosen.engine, request.generate_audio,
                                      default))
            continue
        provider = providers.get(name)
        model = provider.model(fast) if provider is not None else ""
        prices.append(price_per_second(settings.prices, name, model,
                                       request.generate_audio or name == "google"))
    return round(max(prices) * request.duration, 6)
