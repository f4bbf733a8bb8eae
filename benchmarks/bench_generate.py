"""Time `inbetween generate` (8 s clips at 720p and 1080p) against a plain baseline pipeline.

For each resolution, runs the real CLI ``--runs`` times as a subprocess and reports the
median of: generation time inside the process (what the CLI reports), whole-process wall
time (start-up and imports included), and peak resident memory (``wait4`` of that process).
The prompt has dialogue, a breath and rain (``PROMPT``), so the whole sound track is made;
``no-audio`` is the same run with ``--no-audio``. The keyframes are a matching pair (a
ground-truth camera move, ``groundtruth.py``), so the full engine runs: camera model,
residual flow, occlusion-aware blending, the sound track.
The baseline, run in the same command, is the plainest streaming pipeline: DIS flow at full
resolution, per-frame ``cv2.remap`` both ways, blend, PyAV x264 ``veryfast``, no audio, no
overlap between rendering and encoding.

    .venv/bin/python benchmarks/bench_generate.py [--runs 5]
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
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


def _photos(folder: Path, resolution: str, case_name: str) -> tuple[Path, Path]:
    """The keyframes of a ground-truth camera move at the clip's size (PNG, lossless)."""
    from groundtruth import CASES

    case = next(c for c in CASES if c.name == case_name)
    renderer = case.renderer(*SIZES[resolution])
    first, last = folder / f"first-{resolution}.png", folder / f"last-{resolution}.png"
    Image.fromarray(renderer.frame(0.0)).save(first)
    Image.fromarray(renderer.frame(1.0)).save(last)
    return first, last


def _run(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stderr) of one child process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed:\n{text}")
    return wall, usage.ru_maxrss / 1024, text


PROMPT = ("A woman looks into the camera, breathes in, then exclaims energetically, "
          "'Hello world!' as rain falls")


def bench_cli(first: Path, last: Path, resolution: str, out: Path,
              audio: bool = True) -> dict[str, float]:
    cmd = [sys.executable, "-m", "inbetween", "generate", "--first", str(first), "--last",
           str(last), "--prompt", PROMPT, "-o", str(out), "--resolution", resolution,
           "--duration", "8", "--seed", "1", *([] if audio else ["--no-audio"])]
    wall, rss, text = _run(cmd)
    inside = float(re.findall(r"in ([0-9.]+) s", text)[-1])
    return {"inside": inside, "wall": wall, "rss": rss}


def bench_baseline(first: Path, last: Path, resolution: str, out: Path) -> dict[str, float]:
    cmd = [sys.executable, str(HERE / "baseline_pipeline.py"), str(first), str(last),
           resolution, str(out)]
    wall, rss, text = _run(cmd)
    inside = float(re.findall(r"in ([0-9.]+) s", text)[-1])
    return {"inside": inside, "wall": wall, "rss": rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per configuration (default 5)")
    parser.add_argument("--case", default="pan+zoom+rotate",
                        help="ground-truth case whose keyframes are used (groundtruth.py)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.platform()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"keyframes: ground-truth case {args.case!r}")
        print(f"{'pipeline':<10} {'res':<6} {'inside s':>9} {'wall s':>8} {'peak MiB':>9}"
              f"  (median of {args.runs}; min–max inside)")
        for resolution in SIZES:
            first, last = _photos(folder, resolution, args.case)
            results: dict[str, list[dict[str, float]]] = {"inbetween": [], "no-audio": [],
                                                          "baseline": []}
            for _ in range(args.runs):  # interleaved, so drift hits all alike
                results["inbetween"].append(bench_cli(first, last, resolution, folder / "a.mp4"))
                results["no-audio"].append(
                    bench_cli(first, last, resolution, folder / "c.mp4", audio=False))
                results["baseline"].append(
                    bench_baseline(first, last, resolution, folder / "b.mp4"))
            medians = {}
            for name, runs in results.items():
                inside = [r["inside"] for r in runs]
                medians[name] = statistics.median(inside)
                print(f"{name:<10} {resolution:<6} {medians[name]:>9.2f} "
                      f"{statistics.median(r['wall'] for r in runs):>8.2f} "
                      f"{statistics.median(r['rss'] for r in runs):>9.0f}"
                      f"  ({min(inside):.2f}–{max(inside):.2f})")
            print(f"{'':<10} {resolution:<6} inbetween/baseline = "
                  f"{medians['inbetween'] / medians['baseline']:.2f}; the sound track adds "
                  f"{medians['inbetween'] - medians['no-audio']:.2f} s")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
