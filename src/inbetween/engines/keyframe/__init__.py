"""The CPU keyframe engine: dense optical flow between two keyframes, warped and blended."""

from inbetween.engines.keyframe.engine import KeyframeEngine

__all__ = ["KeyframeEngine"]
