"""Quality and speed of the keyframe engine against ground truth, ffmpeg's minterpolate, a
plain crossfade and the plain baseline pipeline — all timed in the same run.

For each ground-truth case (``groundtruth.py``: a linear camera path over a photograph, and
five cases with independently moving objects — four travelling far: over sky, over texture,
two in different directions, one entering from outside the frame — and eight subjects over
smooth backgrounds: sky, wall, water, studio), every method gets only the
first and last frame and makes an 8-second 24 fps clip at 720p. Frames at t = 0.25, 0.5 and
0.75 are scored (PSNR, SSIM) against the true frame at their best-fitting time on a grid of
step 0.005, so no method is penalised for its easing. First and last frames are scored
against the inputs.

Then, for speed as a user meets it, the whole ``inbetween generate --no-audio --duration 4``
process (exec to exit: interpreter start, imports and image decoding included) against
ffmpeg minterpolate making the same 4-second 720p clip from the same pair, alternating,
``--process-runs`` times each; medians and their ratio.

    .venv/bin/pip install imageio-ffmpeg   # ffmpeg with minterpolate, from a wheel
    .venv/bin/python benchmarks/bench_engine.py [--cases "pan,head over sky"] [--no-minterpolate]
                                               [--process-runs 3] [--process-cases pan]
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
from groundtruth import CASES, INDEPENDENT, SMOOTH_CASES, Case, Renderer

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


def run_minterpolate(first: np.ndarray, last: np.ndarray, out: Path, folder: Path,
                     seconds: int = SECONDS) -> float:
    import imageio_ffmpeg

    # minterpolate outputs nothing from exactly two frames: clone the last one once more
    for i, image in enumerate((first, last, last)):
        Image.fromarray(image).save(folder / f"in{i}.png")
    filters = ("minterpolate=fps=24:mi_mode=mci:mc_mode=aobmc:me_mode=bidir:vsbmc=1:scd=none")
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-framerate", f"1/{seconds}",
           "-i", str(folder / "in%d.png"), "-vf", filters, "-frames:v", str(FPS * seconds + 1),
           "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
           str(out)]
    started = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - started


def run_cli_process(first: Path, last: Path, out: Path) -> float:
    """The whole `inbetween generate --no-audio --duration 4` process, exec to exit."""
    cmd = [str(Path(sys.executable).with_name("inbetween")), "generate", "--first", str(first),
           "--last", str(last), "--prompt", "a camera move", "-o", str(out),
           "--resolution", "720p", "--duration", "4", "--no-audio", "--seed", "1"]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - started


def process_speed(cases: list[Case], runs: int) -> None:
    """Median exec-to-exit seconds of the CLI and of minterpolate (4 s at 720p), alternating."""
    cli: list[float] = []
    ffmpeg: list[float] = []
    for case in cases:
        renderer = case.renderer(WIDTH, HEIGHT)
        first, last = renderer.frame(0.0), renderer.frame(1.0)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            Image.fromarray(first).save(folder / "first.png")
            Image.fromarray(last).save(folder / "last.png")
            for _ in range(runs):
                cli.append(run_cli_process(folder / "first.png", folder / "last.png",
                                           folder / "cli.mp4"))
                ffmpeg.append(run_minterpolate(first, last, folder / "mi.mp4", folder, 4))
    print(f"process, 4 s at 720p ({len(cli)} runs each, {', '.join(c.name for c in cases)}): "
          f"inbetween generate --no-audio {statistics.median(cli):.2f} s exec to exit, "
          f"minterpolate {statistics.median(ffmpeg):.2f} s; inbetween is "
          f"{statistics.median(ffmpeg) / statistics.median(cli):.1f}x faster")


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
    if case.objects and "inbetween" in probes:  # the middle frame: each object once, whole,
        results["inbetween"].update(_objects_at_middle(renderer, probes["inbetween"][0.5]))
    for n in methods:
        results[n]["psnr"] = statistics.mean(best[(n, t)][0] for t in PROBES)
        results[n]["ssim"] = statistics.mean(
            ssim(probes[n][t], renderer.frame(best[(n, t)][1])) for t in PROBES)
    return results


def _objects_at_middle(renderer: Renderer, middle: np.ndarray) -> dict[str, float]:
    """How far (% of the width) the centroid of what differs from the object-free truth near
    each object at t = 0.5 lies from the centroid of the object's true visible pixels then (the
    worst object), and the share of the end positions' object pixels — away from where the
    object is at t = 0.5, in truth or as drawn — still showing an object (the worst), and the
    PSNR of those end places against the truth (the worst: no ghost, no tear, ≥ 25 dB)."""
    plain = Case(renderer.case.name, renderer.case.photo, renderer.case.pan,
                 renderer.case.zoom, renderer.case.rotation).renderer(WIDTH, HEIGHT).frame(0.5)
    found = np.abs(middle.astype(np.int16) - plain.astype(np.int16)).max(axis=2) > 40
    found = cv2.morphologyEx(found.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5))) > 0
    _, labels = cv2.connectedComponents(found.astype(np.uint8))
    worst, left, ends_db = 0.0, 0.0, 99.0
    truth = renderer.frame(0.5)
    for k in range(len(renderer.case.objects)):
        now = renderer.object_mask(k, 0.5)
        near = cv2.dilate(now.astype(np.uint8), np.ones((25, 25))) > 0
        drawn = np.isin(labels, [c for c in np.unique(labels[found & near]) if c]) & found
        ys, xs = np.nonzero(drawn)
        ty, tx = np.nonzero(now)
        error = 100.0 if xs.size == 0 or tx.size == 0 else float(
            np.hypot(xs.mean() - tx.mean(), ys.mean() - ty.mean()))
        worst = max(worst, error / WIDTH * 100)
        away = near | (cv2.dilate(drawn.astype(np.uint8), np.ones((25, 25))) > 0)
        ends = (renderer.object_mask(k, 0.0) | renderer.object_mask(k, 1.0)) & ~away
        if ends.any():
            left = max(left, float(found[ends].mean() * 100))
            ends_db = min(ends_db, psnr(middle[ends], truth[ends]))
    return {"centroid_pct": worst, "left_pct": left, "ends_db": ends_db}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="",
                        help="comma-separated case names (default all)")
    parser.add_argument("--no-minterpolate", action="store_true", help="skip ffmpeg (slow)")
    parser.add_argument("--process-runs", type=int, default=3,
                        help="exec-to-exit runs per pair of the CLI and of minterpolate "
                        "(0 skips)")
    parser.add_argument("--process-cases", default="pan,object over texture",
                        help="comma-separated cases for the exec-to-exit timing")
    parser.add_argument("--process-only", action="store_true",
                        help="only the exec-to-exit timing (no quality table)")
    args = parser.parse_args()
    if args.process_only:
        wanted = args.process_cases.split(",")
        process_speed([c for c in CASES if c.name in wanted], args.process_runs)
        return
    methods = [m for m in METHODS if not (args.no_minterpolate and m == "minterpolate")]
    cases = [c for c in (*CASES, *SMOOTH_CASES)
             if not args.cases or c.name in args.cases.split(",")]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; {WIDTH}x{HEIGHT}, {SECONDS} s at {FPS} fps")
    print(f"{'case':<24} {'method':<13} {'PSNR dB':>8} {'SSIM':>6} {'first':>6} {'last':>6}"
          f" {'time s':>7}")
    totals: dict[str, list[float]] = {m: [] for m in methods}
    margins: list[str] = []
    for case in cases:
        with tempfile.TemporaryDirectory() as tmp:
            results = score_case(case, methods, Path(tmp))
        others = [results[m]["psnr"] for m in ("crossfade", "minterpolate") if m in results]
        if (case.name in INDEPENDENT or case in SMOOTH_CASES) and others:
            margins.append(f"{case.name} {results['inbetween']['psnr'] - max(others):+.2f} dB")
        for name, r in results.items():
            totals[name].append(r["seconds"])
            middle = (f"  middle: centroid {r['centroid_pct']:.1f} % of width from the truth's, "
                      f"{r['left_pct']:.1f} % of end pixels left, ends {r['ends_db']:.1f} dB"
                      if "centroid_pct" in r else "")
            print(f"{case.name:<24} {name:<13} {r['psnr']:>8.2f} {r['ssim']:>6.3f} "
                  f"{r['first_db']:>6.1f} {r['last_db']:>6.1f} {r['seconds']:>7.2f}{middle}")
        sys.stdout.flush()
    if margins:
        print("independent motion and smooth backgrounds, inbetween over the better of "
              "crossfade and minterpolate:",
              ", ".join(margins))
    print("median time per clip:", ", ".join(
        f"{m} {statistics.median(v):.2f} s" for m, v in totals.items()))
    if "minterpolate" in totals:
        ratio = statistics.median(totals["minterpolate"]) / statistics.median(totals["inbetween"])
        print(f"inbetween is {ratio:.1f}x faster than minterpolate")
    if args.process_runs and not args.no_minterpolate:
        wanted = args.process_cases.split(",")
        process_speed([c for c in CASES if c.name in wanted], args.process_runs)


if __name__ == "__main__":
    main()
