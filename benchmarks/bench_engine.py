"""Quality and speed of the keyframe engine against ground truth, ffmpeg's minterpolate, a
plain crossfade and the plain baseline pipeline — all timed in the same run.

For each ground-truth case (``groundtruth.py``: a linear camera path over a photograph, and
one case with an independently moving object), every method gets only the first and last
frame and makes an 8-second 24 fps clip at 720p. Frames at t = 0.25, 0.5 and 0.75 are scored
(PSNR, SSIM) against the true frame at their best-fitting time on a grid of step 0.005, so no
method is penalised for its easing. First and last frames are scored against the inputs.

    .venv/bin/pip install imageio-ffmpeg   # ffmpeg with minterpolate, from a wheel
    .venv/bin/python benchmarks/bench_engine.py [--cases pan,zoom] [--no-minterpolate]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from groundtruth import CASES, Case

from inbetween.engines.base import EngineRequest
from inbetween.engines.keyframe import KeyframeEngine
from inbetween.media.video import encode_mp4, prefetch

WIDTH, HEIGHT, FPS, SECONDS = 1280, 720, 24, 8
FRAMES = FPS * SECONDS
PROBES = (0.25, 0.5, 0.75)
GRID = np.round(np.arange(0, 1.0001, 0.005), 3)
HERE = Path(__file__).resolve().parent


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.metrics import structural_similarity

    return float(structural_similarity(a, b, channel_axis=2, data_range=255))


def decode_frames(path: Path, wanted: list[int]) -> dict[int, np.ndarray]:
    out: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                out[i] = frame.to_ndarray(format="rgb24")
    return out


def wanted_indices(count: int) -> list[int]:
    return [0, count - 1, *(round(t * (count - 1)) for t in PROBES)]


# -- methods: each writes an MP4 and returns its generation time in seconds ---------------------
def run_inbetween(first: np.ndarray, last: np.ndarray, out: Path, _folder: Path) -> float:
    started = time.perf_counter()
    request = EngineRequest(prompt="a camera move", width=WIDTH, height=HEIGHT, fps=FPS,
                            frame_count=FRAMES, seed=1, generate_audio=True)
    clip = KeyframeEngine().render(request, first, last)
    encode_mp4(out, prefetch(clip.frames), width=WIDTH, height=HEIGHT, fps=FPS,
               frame_count=FRAMES, audio=clip.sound)
    return time.perf_counter() - started


def run_crossfade(first: np.ndarray, last: np.ndarray, out: Path, _folder: Path) -> float:
    started = time.perf_counter()
    frames = (cv2.addWeighted(first, 1 - i / (FRAMES - 1), last, i / (FRAMES - 1), 0)
              for i in range(FRAMES))
    encode_mp4(out, frames, width=WIDTH, height=HEIGHT, fps=FPS, frame_count=FRAMES)
    return time.perf_counter() - started


def run_baseline(first: np.ndarray, last: np.ndarray, out: Path, folder: Path) -> float:
    a, b = folder / "first.png", folder / "last.png"
    Image.fromarray(first).save(a)
    Image.fromarray(last).save(b)
    result = subprocess.run([sys.executable, str(HERE / "baseline_pipeline.py"), str(a), str(b),
                             "720p", str(out)], capture_output=True, text=True, check=True)
    return float(re.findall(r"in ([0-9.]+) s", result.stderr)[-1])


def run_minterpolate(first: np.ndarray, last: np.ndarray, out: Path, folder: Path) -> float:
    import imageio_ffmpeg

    # minterpolate outputs nothing from exactly two frames: clone the last one once more
    for i, image in enumerate((first, last, last)):
        Image.fromarray(image).save(folder / f"in{i}.png")
    filters = ("minterpolate=fps=24:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1:scd=none")
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-framerate", f"1/{SECONDS}",
           "-i", str(folder / "in%d.png"), "-vf", filters, "-frames:v", str(FRAMES + 1),
           "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
           str(out)]
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - started


METHODS: dict[str, Callable[[np.ndarray, np.ndarray, Path, Path], float]] = {
    "inbetween": run_inbetween,
    "baseline": run_baseline,
    "crossfade": run_crossfade,
    "minterpolate": run_minterpolate,
}


def score_case(case: Case, methods: list[str], folder: Path) -> dict[str, dict[str, float]]:
    renderer = case.renderer(WIDTH, HEIGHT)
    first, last = renderer.frame(0.0), renderer.frame(1.0)
    probes: dict[str, dict[float, np.ndarray]] = {}
    results: dict[str, dict[str, float]] = {}
    for name in methods:
        out = folder / f"{name}.mp4"
        seconds = METHODS[name](first, last, out, folder)
        with av.open(str(out)) as container:
            count = sum(1 for _ in container.decode(video=0))
        # minterpolate's clip has one frame more (the clone): its last probe is at FRAMES
        span = count - 1
        frames = decode_frames(out, [0, span, *(round(t * span) for t in PROBES)])
        probes[name] = {t: frames[round(t * span)] for t in PROBES}
        results[name] = {"seconds": seconds, "first_db": psnr(frames[0], first),
                         "last_db": psnr(frames[span], last)}
    best = {(n, t): (-1.0, 0.0) for n in methods for t in PROBES}
    for g in GRID:
        truth = renderer.frame(float(g))
        for n in methods:
            for t in PROBES:
                value = psnr(probes[n][t], truth)
                if value > best[(n, t)][0]:
                    best[(n, t)] = (value, float(g))
    for n in methods:
        results[n]["psnr"] = statistics.mean(best[(n, t)][0] for t in PROBES)
        results[n]["ssim"] = statistics.mean(
            ssim(probes[n][t], renderer.frame(best[(n, t)][1])) for t in PROBES)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="", help="comma-separated case names (default all)")
    parser.add_argument("--no-minterpolate", action="store_true", help="skip ffmpeg (slow)")
    args = parser.parse_args()
    methods = [m for m in METHODS if not (args.no_minterpolate and m == "minterpolate")]
    cases = [c for c in CASES if not args.cases or c.name in args.cases.split(",")]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; {WIDTH}x{HEIGHT}, {SECONDS} s at {FPS} fps")
    print(f"{'case':<17} {'method':<13} {'PSNR dB':>8} {'SSIM':>6} {'first':>6} {'last':>6}"
          f" {'time s':>7}")
    totals: dict[str, list[float]] = {m: [] for m in methods}
    for case in cases:
        with tempfile.TemporaryDirectory() as tmp:
            results = score_case(case, methods, Path(tmp))
        for name, r in results.items():
            totals[name].append(r["seconds"])
            print(f"{case.name:<17} {name:<13} {r['psnr']:>8.2f} {r['ssim']:>6.3f} "
                  f"{r['first_db']:>6.1f} {r['last_db']:>6.1f} {r['seconds']:>7.2f}")
        sys.stdout.flush()
    print("median time per clip:", ", ".join(
        f"{m} {statistics.median(v):.2f} s" for m, v in totals.items()))
    if "minterpolate" in totals:
        ratio = statistics.median(totals["minterpolate"]) / statistics.median(totals["inbetween"])
        print(f"inbetween is {ratio:.1f}x faster than minterpolate")


if __name__ == "__main__":
    main()
