"""The wan-flf2v engine's cost per denoising step, total time and peak memory — with the
tiny random-weight model of the tests (real weights are never on these machines), so the
figures describe the engine's overheads and the pipeline's plumbing, not Wan 14B.

On a CUDA machine it runs there (peak = torch.cuda.max_memory_allocated); elsewhere on the
CPU (peak = the process's maximum RSS). Each configuration runs `--repeats` times; the
median is reported.

    .venv/bin/python benchmarks/bench_wan.py [--steps 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.wan_tiny import save_tiny_wan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch
    from skimage import data

    from inbetween.engines.base import EngineRequest
    from inbetween.engines.wan import loader
    from inbetween.engines.wan.engine import WanEngine
    from inbetween.settings import Settings

    cuda = torch.cuda.is_available()
    cpu = f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"
    device = torch.cuda.get_device_name(0) if cuda else cpu
    folder = Path(tempfile.mkdtemp()) / "tiny-wan"
    save_tiny_wan(folder)
    first, last = data.astronaut(), data.coffee()
    print(f"device: {device}; torch {torch.__version__}; tiny model; {args.steps} steps")
    print("| output | generated | frames | s/step (median) | total s (median) | peak memory |")
    print("|---|---|---|---|---|---|")
    for area, max_frames, (width, height) in ((256 * 144, 17, (1280, 720)),
                                              (512 * 288, 33, (1280, 720))):
        settings = Settings(wan_model=str(folder), diffusion_steps=args.steps,
                            diffusion_max_area=area, diffusion_max_frames=max_frames,
                            diffusion_dtype="bfloat16" if cuda else "float32")
        request = EngineRequest(prompt="a slow push in", width=width, height=height, fps=24,
                                frame_count=96, seed=1, generate_audio=False)
        engine = WanEngine(settings)
        loader.load_pipeline(settings)
        per_step, totals = [], []
        for _ in range(args.repeats):
            if cuda:
                torch.cuda.reset_peak_memory_stats()
                torch.cuda.synchronize()
            stamps: list[float] = []
            start = time.perf_counter()
            clip = engine.render(request, first, last, on_progress=lambda _f, s=stamps:
                                 s.append(time.perf_counter()))
            frames = sum(1 for _ in clip.frames)  # upscale + retime to 96 frames
            if cuda:
                torch.cuda.synchronize()
            totals.append(time.perf_counter() - start)
            steps = np.diff(stamps[1:args.steps + 2])
            per_step.append(float(np.median(steps)))
        peak = (f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB GPU" if cuda else
                f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB RSS")
        meta = clip.meta
        size = "×".join(str(v) for v in meta["model_size"])  # type: ignore[union-attr]
        print(f"| {width}×{height}, {frames} frames | {size} | {meta['model_frames']} | "
              f"{statistics.median(per_step):.3f} | {statistics.median(totals):.2f} | {peak} |")
        loader.unload()


if __name__ == "__main__":
    main()
