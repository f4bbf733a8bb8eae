"""Upstream providers of the real Veo 3.1 (Google, fal.ai, the hosted API) behind one runner."""

from inbetween.upstream.providers import PROVIDER_NAMES, Poll, Provider, build_providers

__all__ = ["PROVIDER_NAMES", "Poll", "Provider", "build_providers"]
