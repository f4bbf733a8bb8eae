"""The type of image bytes from their magic numbers (no imports: the client uses it too)."""

from __future__ import annotations

__all__ = ["image_mime"]


def image_mime(data: bytes) -> str | None:
    """``image/jpeg``, ``image/png`` or ``image/webp``; None for anything else."""
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None
