"""Engines behind one Protocol, and the registry that maps request models to them.

The registry (and what it imports) loads on first use, so that `inbetween generate`, which
needs one engine, does not pay for the others.
"""

from typing import Any

from inbetween.engines.base import Clip, Engine, EngineRequest, ProgressCallback

__all__ = [
    "MODELS",
    "Clip",
    "Engine",
    "EngineRequest",
    "ProgressCallback",
    "Route",
    "build_engines",
    "route",
]


def __getattr__(name: str) -> Any:
    if name in ("MODELS", "Route", "build_engines", "route"):
        from inbetween.engines import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'inbetween.engines' has no attribute {name!r}")
