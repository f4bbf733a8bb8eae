"""x264 settings for the keyframe engine's 720p output: encode time, file size and PSNR.

Renders the 8 s 720p clips of three ground-truth cases once each (no audio; the engine's
I420 frames), then encodes the same frames with each x264 setting at CRF 18, three times
each; reports the median time, the file size, and the mean PSNR (Y, Cb and Cr samples
together) of every 8th decoded frame against the rendered one. Also measures how well
rendering and encoding overlap on this machine: the CPU time and wall time of the streaming
pipeline (`prefetch` + `encode_mp4`, the defaults).

    .venv/bin/python benchmarks/bench_x264_presets.py
"""

from __future__ import annotations

import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from groundtruth import CASES

from inbetween.engines.base import EngineRequest
from inbetween.engines.keyframe.engine import KeyframeEngine
from inbetween.media.video import PRESET, X264_PARAMS, encode_mp4, prefetch

SETTINGS = (("veryfast", ""), ("superfast", ""), (PRESET, X264_PARAMS), ("ultrafast", ""))
CASE_NAMES = ("pan+zoom+rotate", "zoom", "moving object")
REQUEST = EngineRequest(prompt="a slow push in", width=1280, height=720, fps=24,
                        frame_count=192, seed=1, generate_audio=False)


def main() -> None:
    out = Path(tempfile.mkdtemp()) / "clip.mp4"
    print(f"machine: {platform.machine()}, Python {platform.python_version()}; 720p, 192 frames,"
          " CRF 18, x264 threads as encode_mp4 sets them")
    print("| case | preset | x264-params | encode s (median of 3) | size MB | PSNR dB |")
    print("|---|---|---|---|---|---|")
    engine = KeyframeEngine()
    for name in CASE_NAMES:
        renderer = next(c for c in CASES if c.name == name).renderer(1280, 720)
        first, last = renderer.frame(0), renderer.frame(1)
        frames = list(engine.render(REQUEST, first, last).frames)
        for preset, params in SETTINGS:
            times = []
            for _ in range(3):
                start = time.perf_counter()
                encode_mp4(out, frames, width=1280, height=720, fps=24, frame_count=192, crf=18,
                           preset=preset, x264_params=params)
                times.append(time.perf_counter() - start)
            print(f"| {name} | {preset} | {params or '(preset)'} | {statistics.median(times):.2f}"
                  f" | {out.stat().st_size / 1e6:.2f} | {_psnr(out, frames):.2f} |", flush=True)
    renderer = next(c for c in CASES if c.name == CASE_NAMES[0]).renderer(1280, 720)
    clip = engine.render(REQUEST, renderer.frame(0), renderer.frame(1))
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    encode_mp4(out, prefetch(clip.frames), width=1280, height=720, fps=24, frame_count=192)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"render + encode overlapped (defaults): wall {wall:.2f} s, CPU {cpu:.2f} s "
          f"({cpu / wall:.2f} cores busy on average)")


def _psnr(path: Path, frames: list[np.ndarray]) -> float:
    scores = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % 8 == 0:
                error = np.mean((frame.to_ndarray().astype(np.float64)
                                 - frames[index].astype(np.float64)) ** 2)
                scores.append(10 * np.log10(255.0**2 / error))
    return float(np.mean(scores))


if __name__ == "__main__":
    main()
