"""A quick probe of the keyframe engine's motion on every ground-truth case, in seconds: the
synthesised frames at t = 0.25, 0.5 and 0.75 (no encoding, no easing) scored by PSNR against
the truth at their best-fitting time (±0.15, step 0.01), beside a crossfade's, with what the
analysis found (camera method, objects, the fallback's share). ``bench_engine.py`` is the
full comparison; this is for trying a change.

    .venv/bin/python benchmarks/bench_middle.py ["head over sky,pan"] [--size 1280x720]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from groundtruth import CASES, SMOOTH_CASES

from inbetween.engines.keyframe.flow import Synthesiser, estimate_motion, judge
from inbetween.media.yuv import i420_to_rgb


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2))
    return 99.0 if mse == 0 else 10 * float(np.log10(255.0**2 / mse))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="?", default="", help="comma-separated (default all)")
    parser.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT (default 1280x720)")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    wanted = [c for c in args.cases.split(",") if c]
    for case in (*SMOOTH_CASES, *CASES):
        if wanted and case.name not in wanted:
            continue
        renderer = case.renderer(width, height)
        first, last = renderer.frame(0), renderer.frame(1)
        started = time.perf_counter()
        motion = estimate_motion(first, last)
        synthesiser = Synthesiser(motion)
        synthesiser.fallback = judge(synthesiser)
        analysis = time.perf_counter() - started
        ours, fades = [], []
        for t in (0.25, 0.5, 0.75):
            times = np.round(np.arange(max(0.0, t - 0.15), min(1.0, t + 0.15) + 1e-9, 0.01), 3)
            truths = [renderer.frame(float(tt)) for tt in times]
            mine = i420_to_rgb(synthesiser(t))
            fade = cv2.addWeighted(first, 1 - t, last, t, 0)
            ours.append(max(psnr(mine, truth) for truth in truths))
            fades.append(max(psnr(fade, truth) for truth in truths))
        share = None if synthesiser.fallback is None else round(synthesiser.fallback.share, 3)
        print(f"{case.name:26s} inbetween {np.mean(ours):5.1f} dB  crossfade {np.mean(fades):5.1f}"
              f" dB  camera {motion.camera.method:8s} objects "
              f"{[layer.state for layer in motion.layers]}  fallback {share}  "
              f"analysis {analysis:.2f} s", flush=True)


if __name__ == "__main__":
    main()
