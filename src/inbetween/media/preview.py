"""Thumbnails and animated previews of a finished clip.

A completed generation carries a JPEG thumbnail (its middle frame, as a list or a player
poster would show it) and an animated WebP preview of the whole clip, at most
``PREVIEW_LONG_SIDE`` px on its long side and ``PREVIEW_MAX_BYTES`` in size. The frames are
collected while the clip is rendered (``PreviewTap``: a resize of every third frame, off the
encoder's thread), or decoded from a finished MP4 (``previews_from_video``).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from inbetween.media.yuv import i420_to_rgb, planes

__all__ = ["PREVIEW_LONG_SIDE", "PREVIEW_MAX_BYTES", "PreviewTap", "previews_from_video",
           "sprite_sheet"]

PREVIEW_LONG_SIDE = 480
THUMBNAIL_LONG_SIDE = 640
PREVIEW_FPS = 8
PREVIEW_MAX_BYTES = 2 * 2**20
# quality steps tried in turn until the preview fits PREVIEW_MAX_BYTES
_QUALITIES = (70, 50, 30)


def _fit(frame: np.ndarray, long_side: int) -> np.ndarray:
    """An RGB copy of an RGB or I420 frame, at most ``long_side`` px on its long side."""
    h, w = frame.shape[:2] if frame.ndim == 3 else planes(frame)[0].shape
    scale = min(1.0, long_side / max(h, w))
    size = (max(2, round(w * scale)), max(2, round(h * scale)))
    if frame.ndim == 2:  # I420: shrunk plane by plane, then converted
        return i420_to_rgb(frame, size)
    if scale >= 1:
        return frame
    small: np.ndarray = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    return small


class PreviewTap:
    """Passes a clip's frames (RGB or I420) through, keeping small RGB copies for the
    previews."""

    def __init__(self, frame_count: int, fps: int) -> None:
        self.step = max(1, round(fps / PREVIEW_FPS))
        self.middle = frame_count // 2
        self.frames: list[np.ndarray] = []
        self.thumbnail: np.ndarray | None = None
        self.frame_ms = round(1000 * self.step / fps)

    def wrap(self, frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for index, frame in enumerate(frames):
            self.take(index, frame)
            yield frame

    def take(self, index: int, frame: np.ndarray) -> None:
        if index % self.step == 0:
            self.frames.append(_fit(frame, PREVIEW_LONG_SIDE))
        if index == self.middle:
            self.thumbnail = _fit(frame, THUMBNAIL_LONG_SIDE)

    def write(self, thumbnail: Path, preview: Path) -> None:
        """Write the JPEG thumbnail and the animated WebP preview."""
        if not self.frames:
            raise ValueError("no frames were seen")
        still = self.thumbnail if self.thumbnail is not None else self.frames[len(self.frames) // 2]
        Image.fromarray(still).save(thumbnail, format="JPEG", quality=85, optimize=True)
        preview.write_bytes(_animated_webp(self.frames, self.frame_ms))


def _animated_webp(frames: list[np.ndarray], frame_ms: int) -> bytes:
    images = [Image.fromarray(f) for f in frames]
    data = b""
    for quality in _QUALITIES:
        buffer = io.BytesIO()
        images[0].save(buffer, format="WEBP", save_all=True, append_images=images[1:],
                       duration=frame_ms, loop=0, quality=quality, method=2)
        data = buffer.getvalue()
        if len(data) <= PREVIEW_MAX_BYTES:
            return data
        images = images[::2]  # halve the frame rate too before the next try
        frame_ms *= 2
    if len(data) > PREVIEW_MAX_BYTES:
        raise ValueError(f"the preview is {len(data)} bytes even at the lowest quality")
    return data


def previews_from_video(video: Path, thumbnail: Path, preview: Path) -> None:
    """Thumbnail and preview of a finished MP4 (e.g. an upstream provider's video)."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        fps = round(float(stream.average_rate or 24))
        frames = stream.frames
        if not frames and stream.duration and stream.time_base:
            frames = round(float(stream.duration * stream.time_base) * fps)
        tap = PreviewTap(max(1, frames), max(1, fps))
        for index, frame in enumerate(container.decode(stream)):
            if index % tap.step == 0 or index == tap.middle:
                tap.take(index, frame.to_ndarray(format="rgb24"))
    tap.write(thumbnail, preview)


SPRITE_TILES = (5, 2)  # columns × rows: ten evenly spaced frames
SPRITE_TILE_WIDTH = 256


def sprite_sheet(video: Path, out: Path) -> None:
    """A JPEG grid of evenly spaced frames of ``video`` (first to last, left to right, top
    to bottom), each ``SPRITE_TILE_WIDTH`` px wide; only the chosen frames are kept."""
    columns, rows = SPRITE_TILES
    count = columns * rows
    with av.open(str(video)) as container:
        total = container.streams.video[0].frames or sum(
            1 for _ in container.decode(video=0))
    if total < 1:
        raise ValueError(f"{video} has no video frames")
    wanted = {round(i * (total - 1) / (count - 1)) for i in range(count)}
    tiles: list[np.ndarray | None] = [None] * count
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if index in wanted:
                rgb = frame.to_ndarray(format="rgb24")
                height, width = rgb.shape[:2]
                tile = (SPRITE_TILE_WIDTH, max(2, round(height * SPRITE_TILE_WIDTH / width)))
                small = cv2.resize(rgb, tile, interpolation=cv2.INTER_AREA)
                for slot in range(count):  # a short clip may repeat a frame
                    if round(slot * (total - 1) / (count - 1)) == index:
                        tiles[slot] = small
    filled = [t for t in tiles if t is not None]
    if len(filled) != count:
        raise ValueError(f"{video} ended before its frame {max(wanted)}")
    grid = np.vstack([np.hstack(filled[r * columns:(r + 1) * columns]) for r in range(rows)])
    Image.fromarray(grid).save(out, format="JPEG", quality=80)
