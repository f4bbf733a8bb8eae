"""Upstream providers of the real Veo 3.1 (Google, fal.ai, the hosted API) behind one runner."""

from inbetween.upstream.providers import Poll, Provider, build_providers

__all__ = ["Poll", "Provider", "build_providers"]
