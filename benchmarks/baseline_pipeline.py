"""The plain reference pipeline the benchmark compares against (not part of inbetween).

Streaming DIS flow (full resolution, MEDIUM preset) + per-frame remap of both keyframes +
linear blend + PyAV x264 veryfast, one frame at a time, no audio, nothing overlapped.

    python benchmarks/baseline_pipeline.py FIRST LAST 720p|1080p OUT.mp4
"""

from __future__ import annotations

import sys
import time
from fractions import Fraction

import av
import cv2
import numpy as np
from PIL import Image

SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


def cover(path: str, width: int, height: int) -> np.ndarray:
    image = np.asarray(Image.open(path).convert("RGB"))
    h, w = image.shape[:2]
    scale = max(width / w, height / h)
    resized = cv2.resize(image, (round(w * scale), round(h * scale)))
    y0, x0 = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width])


def main() -> None:
    first_path, last_path, resolution, out = sys.argv[1:5]
    width, height = SIZES[resolution]
    started = time.perf_counter()
    a, b = cover(first_path, width, height), cover(last_path, width, height)
    grey_a, grey_b = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (a, b))
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    f01, f10 = dis.calc(grey_a, grey_b, None), dis.calc(grey_b, grey_a, None)
    xs, ys = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    grid = np.dstack([xs, ys])
    frames = 8 * 24
    with av.open(out, "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=24, options={"preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 24)
        for i in range(frames):
            t = i / (frames - 1)
            w0 = cv2.remap(a, grid + (-(1 - t) * t * f01 + t * t * f10), None,
                           cv2.INTER_LINEAR)
            w1 = cv2.remap(b, grid + ((1 - t) ** 2 * f01 - t * (1 - t) * f10), None,
                           cv2.INTER_LINEAR)
            frame = av.VideoFrame.from_ndarray(cv2.addWeighted(w0, 1 - t, w1, t, 0),
                                               format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    print(f"baseline wrote {out} in {time.perf_counter() - started:.2f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
