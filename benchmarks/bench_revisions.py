"""The keyframe engine of an earlier git revision against the working tree, in one command.

Each revision's ``src/`` is exported (``git archive``) to a temporary folder and run in its own
Python process, with that revision's defaults (``Settings()``): the 8 s 720p clip of the
ground-truth case *pan+zoom+rotate* with audio through ``render_to_file`` (the pipeline the
server and the CLI use, in-process: imports excluded), and the synthesiser's time per frame
with one OpenCV thread. Runs alternate between the revisions, so the host's drift hits both.

    .venv/bin/python benchmarks/bench_revisions.py [--base bee00d2] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CHILD = r"""
import inspect, json, os, resource, statistics, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import cv2
from groundtruth import CASES
from inbetween.engines.base import EngineRequest
from inbetween.engines.keyframe import flow
from inbetween.engines.keyframe.engine import KeyframeEngine
from inbetween.media import audio
from inbetween.pipeline import render_to_file
from inbetween.settings import Settings

assert flow.__file__.startswith(os.environ["PYTHONPATH"]), flow.__file__  # this revision's
audio.preload()
renderer = next(c for c in CASES if c.name == "pan+zoom+rotate").renderer(1280, 720)
first, last = renderer.frame(0.0), renderer.frame(1.0)
settings = Settings()
options = {"crf": settings.video_crf, "preset": settings.video_preset}
if "x264_params" in inspect.signature(render_to_file).parameters:
    options["x264_params"] = settings.video_x264_params
request = EngineRequest(prompt="A woman looks into the camera, breathes in, then exclaims "
                        "energetically, 'Hello world!' as rain falls", width=1280, height=720,
                        fps=24, frame_count=192, seed=1, generate_audio=True)
out = Path(tempfile.mkdtemp()) / "clip.mp4"
render_to_file(KeyframeEngine(), request, first, last, out, report=lambda *_: None, **options)
before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
render_to_file(KeyframeEngine(), request, first, last, out, report=lambda *_: None, **options)
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF)
cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
cv2.setNumThreads(1)
motion = flow.estimate_motion(first, last)
try:
    synthesiser = flow.Synthesiser(motion)
except TypeError:  # revisions before I420 frames took the keyframes too
    synthesiser = flow.Synthesiser(first, last, motion)
times = []
for i in range(1, 100):
    t0 = time.perf_counter()
    synthesiser(i / 100)
    times.append(time.perf_counter() - t0)
print(json.dumps({"seconds": seconds, "cpu": cpu, "frame_ms": 1000 * statistics.median(times),
                  "preset": settings.video_preset}))
"""


def export(revision: str, folder: Path) -> Path:
    """``src/`` of ``revision`` (or of the working tree, for ``WORKTREE``) under ``folder``."""
    if revision == "WORKTREE":
        return ROOT / "src"
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"],
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder / "src"


def run(src: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    result = subprocess.run([sys.executable, "-c", CHILD, str(HERE)], env=env, check=True,
                            capture_output=True, text=True)
    values: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="bee00d2", help="earlier revision (default bee00d2)")
    parser.add_argument("--runs", type=int, default=3, help="runs per revision (default 3)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; 720p, 8 s, with audio; medians of {args.runs}")
    with tempfile.TemporaryDirectory() as tmp:
        sources = {name: export(name, Path(tmp) / name.replace("/", "_"))
                   for name in (args.base, "WORKTREE")}
        results: dict[str, list[dict[str, float]]] = {name: [] for name in sources}
        for _ in range(args.runs):
            for name, src in sources.items():
                results[name].append(run(src))
    print("| revision | x264 preset | render_to_file s | CPU s | synthesis ms/frame (1 thread) |")
    print("|---|---|---|---|---|")
    for name, runs in results.items():
        print(f"| {name} | {runs[0]['preset']} | "
              f"{statistics.median(r['seconds'] for r in runs):.2f} | "
              f"{statistics.median(r['cpu'] for r in runs):.2f} | "
              f"{statistics.median(r['frame_ms'] for r in runs):.1f} |")


if __name__ == "__main__":
    main()
