"""Dispatch: how queued jobs reach workers."""

from inbetween.dispatch.local import LocalPool, Reaper

__all__ = ["LocalPool", "Reaper"]
