"""List prices of the upstream models, for ``meta.usage.credits_used`` (USD per second).

Defaults: the providers' published list prices as of November 2026 — check them before
relying on them, and override with ``INBETWEEN_PRICES``. Google's Veo API always makes a
sound track and bills it, so its "no_audio" price is its with-audio price.
"""

from __future__ import annotations

import json
from functools import lru_cache

__all__ = ["DEFAULT_PRICES", "price_per_second"]

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
