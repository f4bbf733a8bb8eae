"""Per-frame cost of the keyframe engine's synthesis, single-threaded, by OpenCV call.

Builds the 720p *pan+zoom+rotate* pair, then times ``Synthesiser`` over 99 frames with
``cv2.setNumThreads(1)`` (median per frame), and the time each OpenCV function takes per
frame (every call of the synthesiser timed through a wrapper). Also times the step that
samples the maps along the camera path both ways it could be done: two two-channel float
warps, or the one four-channel warp the engine uses; and RGB → yuv420p of one 720p frame by
swscale (PyAV's ``reformat``, what the encoder used before) and by ``media.yuv.ToI420``.

    .venv/bin/python benchmarks/bench_synthesis.py
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from groundtruth import CASES

from inbetween.engines.keyframe import flow
from inbetween.media.yuv import ToI420, planes

WIDTH, HEIGHT = 1280, 720


class _Timed:
    """Stands in for the cv2 module inside ``flow``: times every function called through it."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = {}

    def __getattr__(self, name: str) -> Any:
        value = getattr(cv2, name)
        if not callable(value) or not name[0].islower():
            return value

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                self.spent[name] = self.spent.get(name, 0.0) + time.perf_counter() - start
        return timed


def _median_ms(run: Callable[[], object], repeats: int = 40) -> float:
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> None:
    cv2.setNumThreads(1)
    renderer = next(c for c in CASES if c.name == "pan+zoom+rotate").renderer(WIDTH, HEIGHT)
    motion = flow.estimate_motion(renderer.frame(0.0), renderer.frame(1.0))
    synthesiser = flow.Synthesiser(motion)
    times = []
    for i in range(1, 100):
        start = time.perf_counter()
        synthesiser(i / 100)
        times.append(time.perf_counter() - start)
    print(f"720p synthesis, one thread: {1000 * statistics.median(times):.2f} ms per frame "
          "(median of 99)")
    timed = _Timed()
    flow.cv2 = timed  # type: ignore[assignment]
    try:
        for i in range(1, 100):
            synthesiser(i / 100)
    finally:
        flow.cv2 = cv2
    print("| OpenCV function | ms per frame |")
    print("|---|---|")
    for name, spent in sorted(timed.spent.items(), key=lambda item: -item[1]):
        print(f"| {name} | {1000 * spent / 99:.2f} |")
    # the camera-path step: two 2-channel warps, or one 4-channel warp of both maps
    half = (WIDTH // 2, HEIGHT // 2)
    rng = np.random.default_rng(0)
    maps = [rng.random((406, 720, 2), np.float32) * 1000 for _ in range(2)]
    both = cv2.merge(maps)
    matrix = np.array([[0.8, 0.05, 30.0], [-0.05, 0.8, 20.0]])
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP

    def two() -> None:
        for m in maps:
            cv2.warpAffine(m, matrix, half, flags=flags, borderMode=cv2.BORDER_REPLICATE)

    def four() -> None:
        cv2.warpAffine(both, matrix, half, flags=flags, borderMode=cv2.BORDER_REPLICATE)

    print(f"two 2-channel float warps: {_median_ms(two):.2f} ms; "
          f"one 4-channel warp: {_median_ms(four):.2f} ms")
    rgb = renderer.frame(0.5)
    out = np.empty((HEIGHT * 3 // 2, WIDTH), np.uint8)
    convert = ToI420(WIDTH, HEIGHT)

    def swscale() -> None:
        av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
            format="yuv420p", dst_colorspace="itu709", dst_color_range="MPEG",
            interpolation="AREA")

    print(f"RGB → yuv420p, one 720p frame: swscale {_median_ms(swscale):.2f} ms; "
          f"ToI420 {_median_ms(lambda: convert(rgb, *planes(out))):.2f} ms")


if __name__ == "__main__":
    main()
