"""Engines behind one Protocol, and the registry that maps request models to them."""

from inbetween.engines.base import Clip, Engine, EngineRequest, ProgressCallback
from inbetween.engines.registry import MODELS, Route, build_engines, route

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
