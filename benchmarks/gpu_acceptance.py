"""GPU acceptance: every diffusion engine, with every setting it offers, end to end on one GPU.

Each row runs one engine's own path — load from a ``save_pretrained`` folder, the settings'
placement and speed-ups, denoise, decode, sound, encode to MP4, which is then decoded and
checked (frame count, size, an audio stream) — in its own subprocess with a hard time limit,
and prints as it finishes: pass, fail (with the error's last line) or refused-at-start (the
worker's one-line refusal), seconds, peak GiB. All rows go to one JSON file.

The checkpoints are built in code (``benchmarks/checkpoints.py``): the real models' widths,
heads, patch sizes and VAE / vocoder layouts with 2 transformer blocks — LTX-2.0- and
LTX-2.3-shaped, Wan2.1-FLF2V-14B, Wan2.2-I2V-A14B — built and saved once, in seconds. Rows:

- each model: the defaults; ``INBETWEEN_DIFFUSION_OFFLOAD=model``; ``sequential``; FP8;
  compile; FP8 + compile; a job cancelled after one step, then a job that must equal the one
  before the cancel;
- LTX-2.0: each attention backend docs/diffusion.md lists for LTX-2; the latent upsampler;
- Wan2.2 and Wan2.1: ``flash`` attention, first-block cache, first-block cache + compile
  (refused at start), a LoRA;
- **full depth** (real depth, random bfloat16 weights, built on the GPU — 63 GiB are not written
  to disk — and handed to the engine right after where ``from_pretrained`` would return) for
  each model at its defaults, for an 8 s 720p request with 2 steps: s/step, the estimated
  s/clip at the default steps *including* text encoding, decode and encode, and peak GiB.
  These are the rows that prove the defaults fit one 80 GB GPU.

Rows run in that order of importance — full depth first — until ``--budget`` seconds (default
540, 9 minutes on one H100): a row whose estimate would overrun it is skipped and reported,
never half-run. The exit status is 0 when every row that ran did what it should (pass; or
refused where the worker must refuse).

    python benchmarks/gpu_acceptance.py                       # on a GPU machine: the default run
    python benchmarks/gpu_acceptance.py --only ltx2.0 --budget 1200
    python benchmarks/gpu_acceptance.py --cpu-smoke           # toy sizes on the CPU (make test)

It needs torch, diffusers, transformers, torchao (FP8 rows), peft (LoRA row) and the project.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODELS = ("ltx2.0", "ltx2.3", "wan2.1", "wan2.2")
ENGINE = {"ltx2.0": "ltx2", "ltx2.3": "ltx2", "wan2.1": "wan-flf2v", "wan2.2": "wan2.2-flf2v"}
FOLDER_SETTING = {"ltx2.0": "INBETWEEN_LTX2_MODEL", "ltx2.3": "INBETWEEN_LTX2_MODEL",
                  "wan2.1": "INBETWEEN_WAN_MODEL", "wan2.2": "INBETWEEN_WAN22_MODEL"}
STEPS_SETTING = {"ltx2.0": "INBETWEEN_LTX2_STEPS", "ltx2.3": "INBETWEEN_LTX2_STEPS",
                 "wan2.1": "INBETWEEN_DIFFUSION_STEPS", "wan2.2": "INBETWEEN_WAN22_STEPS"}
ROW_STEPS = 2  # denoising steps of every row (the full-depth rows extrapolate to the default)
BUILD_ESTIMATE = 30.0  # seconds to build and save one model's checkpoint (rows size, H100)
GIB = 2**30


@dataclass(frozen=True)
class Row:
    """One engine with one group of settings, run in its own subprocess."""

    name: str
    model: str
    settings: dict[str, str] = field(default_factory=dict)
    scenario: str = "generate"  # generate | cancel | full
    expect: str = "pass"  # pass | refused
    estimate: float = 20.0  # seconds on one H100 (not yet measured), for the budget
    cpu: str | None = None  # why it does not run on the CPU (--cpu-smoke); None: it does

    @property
    def limit(self) -> float:
        """The row's hard time limit: four times its estimate, at least two minutes."""
        return max(120.0, 4 * self.estimate)


NEEDS_CUDA = "needs a CUDA GPU"
SLOW_ON_CPU = "inductor compiles for minutes on a CPU"


def rows() -> list[Row]:
    """Every row, most important first."""
    fp8 = {"INBETWEEN_DIFFUSION_QUANTIZE": "fp8"}
    compile_ = {"INBETWEEN_DIFFUSION_COMPILE": "true"}
    found: list[Row] = [Row(f"{m} full depth, defaults", m, scenario="full",
                            estimate=90.0 if m == "wan2.2" else 75.0) for m in MODELS]
    found += [Row(f"{m} defaults", m) for m in MODELS]
    found += [Row(f"{m} cancel after one step, then a job", m, scenario="cancel", estimate=35.0)
              for m in MODELS]
    found += [Row(f"{m} offload model", m, {"INBETWEEN_DIFFUSION_OFFLOAD": "model"},
                  cpu=NEEDS_CUDA) for m in MODELS]
    found += [Row("ltx2.0 attention _native_cudnn", "ltx2.0",
                  {"INBETWEEN_DIFFUSION_ATTENTION": "_native_cudnn"}, cpu=NEEDS_CUDA),
              Row("ltx2.0 attention _native_efficient", "ltx2.0",
                  {"INBETWEEN_DIFFUSION_ATTENTION": "_native_efficient"}, cpu=NEEDS_CUDA),
              Row("ltx2.0 attention flex", "ltx2.0",
                  {"INBETWEEN_DIFFUSION_ATTENTION": "flex"}, estimate=60.0, cpu=SLOW_ON_CPU),
              Row("ltx2.0 attention flash (refused)", "ltx2.0",
                  {"INBETWEEN_DIFFUSION_ATTENTION": "flash"}, expect="refused", estimate=8.0),
              Row("ltx2.0 latent upsampler", "ltx2.0",
                  {"INBETWEEN_LTX2_UPSAMPLER": "{work}/ltx2-upsampler",
                   "INBETWEEN_LTX2_MAX_AREA": "{quarter}"}),
              Row("ltx2.3 compile at guidance 3 (refused)", "ltx2.3", compile_,
                  expect="refused", estimate=8.0)]
    loras = {"wan2.1": "INBETWEEN_WAN_LORAS", "wan2.2": "INBETWEEN_WAN22_LORAS"}
    for m in ("wan2.2", "wan2.1"):
        found += [Row(f"{m} attention flash", m, {"INBETWEEN_DIFFUSION_ATTENTION": "flash"},
                      cpu=NEEDS_CUDA),
                  Row(f"{m} first-block cache", m,
                      {"INBETWEEN_DIFFUSION_FIRST_BLOCK_CACHE": "0.1"}),
                  Row(f"{m} first-block cache + compile (refused)", m,
                      {"INBETWEEN_DIFFUSION_FIRST_BLOCK_CACHE": "0.1", **compile_},
                      expect="refused", estimate=8.0),
                  Row(f"{m} LoRA", m, {loras[m]: "{work}/" + m + "-lora:0.8"})]
    found += [Row(f"{m} FP8", m, fp8, cpu=NEEDS_CUDA) for m in MODELS]
    found += [Row(f"{m} compile", m, compile_, estimate=60.0, cpu=SLOW_ON_CPU)
              for m in MODELS if m != "ltx2.3"]
    found += [Row("ltx2.3 compile at guidance 1", "ltx2.3",
                  {**compile_, "INBETWEEN_LTX2_GUIDANCE": "1"}, estimate=60.0,
                  cpu=SLOW_ON_CPU)]
    found += [Row(f"{m} FP8 + compile", m, {**fp8, **compile_}, estimate=60.0,
                  cpu=NEEDS_CUDA, expect="refused" if m == "ltx2.3" else "pass")
              for m in MODELS]
    found += [Row(f"{m} offload sequential", m, {"INBETWEEN_DIFFUSION_OFFLOAD": "sequential"},
                  estimate=45.0, cpu=NEEDS_CUDA) for m in MODELS]
    return found


# -- building the checkpoints ---------------------------------------------------------------

def build(model: str, size: str) -> Any:
    """The pipeline of ``model`` at ``size`` (benchmarks/checkpoints.py)."""
    sys.path.insert(0, str(HERE))
    import checkpoints

    if model.startswith("ltx2"):
        return checkpoints.ltx2(model.removeprefix("ltx"), size)
    return checkpoints.wan21(size) if model == "wan2.1" else checkpoints.wan22(size)


def _build_dtype(cuda: bool) -> Any:
    import torch

    return torch.bfloat16 if cuda else torch.float32


def save_checkpoint(work: Path, model: str, size: str, cuda: bool) -> None:
    """``model``'s checkpoint at ``size`` in ``work``/``model`` (with LTX-2.0 a latent
    upsampler, with each Wan model a LoRA for it)."""
    import torch

    sys.path.insert(0, str(HERE))
    import checkpoints

    if not cuda:
        torch.set_num_threads(1)
    torch.set_default_dtype(_build_dtype(cuda))
    with torch.device("cuda" if cuda else "cpu"):
        pipe = build(model, size)
        pipe.save_pretrained(work / model)
        if model == "ltx2.0":
            checkpoints.ltx2_upsampler(size).save_pretrained(work / "ltx2-upsampler")
        if model.startswith("wan"):
            from diffusers import WanImageToVideoPipeline

            (work / f"{model}-lora").mkdir(exist_ok=True)
            checkpoints.save_lora(WanImageToVideoPipeline, pipe.transformer,
                                  work / f"{model}-lora")


# -- one row, in its own process ------------------------------------------------------------

class _Cancelled(Exception):
    pass


@dataclass
class Request:
    width: int
    height: int
    seconds: int


def _images(width: int, height: int) -> tuple[Any, Any]:
    """Two different photographs-like pictures: gradients with a bright disc that moves."""
    import numpy as np

    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    pictures = []
    for cx, tint in ((0.3, (40, 90, 160)), (0.7, (170, 110, 50))):
        image = np.stack([x / width * 200 + tint[0], y / height * 200 + tint[1],
                          (x + y) / (width + height) * 120 + tint[2]], axis=-1)
        disc = (x - cx * width) ** 2 + (y - 0.5 * height) ** 2 < (0.15 * height) ** 2
        image[disc] = 245
        pictures.append(np.clip(image, 0, 255).astype(np.uint8))
    return pictures[0], pictures[1]


def _decoded(path: Path) -> tuple[Any, bool]:
    """The MP4's frames (RGB) and whether it has an audio stream."""
    import av
    import numpy as np

    with av.open(str(path)) as container:
        audio = bool(container.streams.audio)
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    return np.stack(frames), audio


def run_row(row: Row, request: Request, cuda: bool) -> dict[str, Any]:
    """Run ``row`` in this process and say how it went."""
    import torch

    from inbetween.engines.base import EngineRequest
    from inbetween.engines.diffusion import runtime
    from inbetween.engines.diffusion.checks import StartupRefused, check_worker
    from inbetween.engines.registry import LOCAL_ENGINES, build_engines
    from inbetween.pipeline import render_to_file
    from inbetween.settings import Settings

    if not cuda:
        torch.set_num_threads(1)
    settings = Settings()
    try:
        check_worker(settings)
    except StartupRefused as e:
        return {"outcome": "refused", "error": str(e)}
    engine: Any = build_engines(settings)[LOCAL_ENGINES[ENGINE[row.model]]]
    step_times: list[float] = []
    chosen: list[str] = []
    _record(runtime, step_times, chosen)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    began = time.perf_counter()
    if row.scenario == "full":
        _prime(engine, row.model, settings, cuda)
    else:
        engine.load()
    loaded = time.perf_counter() - began
    first, last = _images(request.width, request.height)
    engine_request = EngineRequest(prompt="a slow push in, the rain falls", width=request.width,
                                   height=request.height, fps=24,
                                   frame_count=request.seconds * 24, seed=7)
    work = Path(tempfile.mkdtemp(prefix="row-"))

    def job(name: str, cancel: bool = False) -> tuple[Any, bool, float]:
        step_times.clear()

        def report(_stage: Any, _percent: int) -> None:
            if cancel and step_times:
                raise _Cancelled

        start = time.perf_counter()
        render_to_file(engine, engine_request, first, last, work / f"{name}.mp4",
                       crf=settings.video_crf, preset=settings.video_preset,
                       x264_params=settings.video_x264_params, report=report)
        seconds = time.perf_counter() - start
        frames, audio = _decoded(work / f"{name}.mp4")
        return frames, audio, seconds

    result: dict[str, Any] = {"load_s": round(loaded, 1)}
    frames, audio, seconds = job("first")
    result["job_s"] = round(seconds, 1)
    expected = (engine_request.frame_count, request.height, request.width, 3)
    problems = []
    if frames.shape != expected:
        problems.append(f"decoded {frames.shape}, not {expected}")
    if not audio:
        problems.append("no audio stream")
    if row.scenario == "full" and len(step_times) >= 2:
        per_step = (step_times[-1] - step_times[0]) / (len(step_times) - 1)
        default_steps = _default_steps(row.model)
        rest = seconds - per_step * len(step_times)  # encode text, decode, sound, encode
        result.update(s_per_step=round(per_step, 2), default_steps=default_steps,
                      est_s_per_clip=round(rest + per_step * default_steps, 1))
    if row.scenario == "cancel":
        try:
            job("cancelled", cancel=True)
            problems.append("the cancel did not stop the job")
        except _Cancelled:
            pass
        again, _audio, _seconds = job("after")
        difference = float(abs(again.astype("float32") - frames.astype("float32")).mean())
        result["after_cancel_mean_abs_diff"] = round(difference, 3)
        if difference > 1.0:
            problems.append(f"the job after the cancel differs from the one before it by "
                            f"{difference:.2f} (mean of 0–255)")
    result["offload"] = chosen[-1] if chosen else settings.diffusion_offload
    result["peak_gib"] = round((torch.cuda.max_memory_allocated() if cuda else _rss()) / GIB, 2)
    result["outcome"] = "fail" if problems else "pass"
    if problems:
        result["error"] = "; ".join(problems)
    return result


def _record(runtime: Any, step_times: list[float], chosen: list[str]) -> None:
    """Note when each denoising step ends and which offload ``auto`` chose."""
    step_callback, offload_mode = runtime.step_callback, runtime.offload_mode

    def timed(*args: Any, **kwargs: Any) -> Any:
        inner = step_callback(*args, **kwargs)

        def on_step(*step: Any) -> Any:
            step_times.append(time.perf_counter())
            return inner(*step)

        return on_step

    def noted(*args: Any, **kwargs: Any) -> str:
        mode: str = offload_mode(*args, **kwargs)
        chosen.append(mode)
        return mode

    runtime.step_callback, runtime.offload_mode = timed, noted


def _prime(engine: Any, model: str, settings: Any, cuda: bool) -> None:
    """Full depth: build the pipeline on the device (random weights) and hand it to the
    engine where its loader's ``from_pretrained`` would have returned; from there on (offload,
    speed-ups, denoise, decode) everything is the engine's own."""
    import torch

    from inbetween.engines.diffusion import runtime

    size = "full" if cuda else "toy"
    torch.set_default_dtype(_build_dtype(cuda))
    with torch.device("cuda" if cuda else "cpu"):
        pipe = build(model, size)
    torch.set_default_dtype(torch.float32)
    config = engine.config()
    if model.startswith("ltx2"):
        from inbetween.engines.diffusion.ltx2 import pipeline_class, prepare

        pipe = pipeline_class()(**pipe.components)  # the engine's own pipeline class
        prepared = prepare(pipe, config, settings)
    else:
        from inbetween.engines.wan.loader import prepare

        pipe.vae.to(torch.float32)  # as the loader: VAE and image encoder in float32
        if pipe.image_encoder is not None:
            pipe.image_encoder.to(torch.float32)
        prepared = prepare(pipe, config, settings)
    runtime.load(config, settings, lambda: prepared)


def _default_steps(model: str) -> int:
    from inbetween.settings import Settings

    defaults = Settings.model_fields
    name = {"INBETWEEN_LTX2_STEPS": "ltx2_steps", "INBETWEEN_DIFFUSION_STEPS": "diffusion_steps",
            "INBETWEEN_WAN22_STEPS": "wan22_steps"}[STEPS_SETTING[model]]
    return int(defaults[name].default)


def _rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# -- the parent: rows in subprocesses, within the budget ------------------------------------

def environment(row: Row, work: Path, cpu_smoke: bool) -> dict[str, str]:
    """The row's process environment: its model, 2 steps, its settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INBETWEEN_")}
    request = _request(row, cpu_smoke)
    quarter = request.width * request.height // 4
    env.update({
        "INBETWEEN_DATA_DIR": str(work / "data" / row.name.replace(" ", "_")),
        "INBETWEEN_WORKER_ENGINES": ENGINE[row.model],
        FOLDER_SETTING[row.model]: str(work / row.model),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")]),
        # full depth too: 2 steps timed, then extrapolated to the default steps
        STEPS_SETTING[row.model]: str(ROW_STEPS),
    })
    if cpu_smoke:
        env["INBETWEEN_DIFFUSION_DEVICE"] = "cpu"
    for key, value in row.settings.items():
        env[key] = value.format(work=work, quarter=quarter)
    return env


def _request(row: Row, cpu_smoke: bool) -> Request:
    if cpu_smoke:
        return Request(256, 144, 1)
    return Request(1280, 720, 8 if row.scenario == "full" else 4)


def run_in_subprocess(row: Row, work: Path, cpu_smoke: bool) -> dict[str, Any]:
    """``row`` in a child process with its hard time limit; its JSON result, or why none."""
    command = [sys.executable, str(Path(__file__).resolve()), "--row", row.name,
               "--work", str(work)] + (["--cpu-smoke"] if cpu_smoke else [])
    try:
        done = subprocess.run(command, env=environment(row, work, cpu_smoke),
                              capture_output=True, text=True, timeout=row.limit, check=False)
    except subprocess.TimeoutExpired:
        return {"outcome": "fail", "error": f"timed out after {row.limit:.0f} s"}
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("{"):
            result: dict[str, Any] = json.loads(line)
            return result
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return {"outcome": "fail",
            "error": lines[-1] if lines else f"exited {done.returncode} without a result"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="One GPU run: python benchmarks/gpu_acceptance.py --out gpu_acceptance.json")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds for the whole run, building included (default 540 on a "
                        "GPU, none with --cpu-smoke); a row whose estimate (H100 seconds) "
                        "would overrun it is skipped")
    parser.add_argument("--only", default="",
                        help="run only the rows whose name contains this text")
    parser.add_argument("--out", type=Path, default=Path("gpu_acceptance.json"),
                        help="the JSON file of all rows (default gpu_acceptance.json)")
    parser.add_argument("--work", type=Path, default=None,
                        help="where the checkpoints are built (default: a temporary folder)")
    parser.add_argument("--cpu-smoke", action="store_true",
                        help="toy sizes on the CPU, the rows a CPU can run: checks the script")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="with --cpu-smoke: rows run at once (default: the CPU count)")
    parser.add_argument("--row", help=argparse.SUPPRESS)
    parser.add_argument("--build", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    catalogue = {row.name: row for row in rows()}
    if args.build:  # child: build one model's checkpoint
        save_checkpoint(args.work, args.build, "toy" if args.cpu_smoke else "rows",
                        cuda=not args.cpu_smoke)
        return 0
    if args.row:  # child: one row, its result as the last line of stdout
        row = catalogue[args.row]
        try:
            result = run_row(row, _request(row, args.cpu_smoke), cuda=not args.cpu_smoke)
        except Exception as e:  # the row's failure is its result
            message = str(e).strip().splitlines()
            result = {"outcome": "fail",
                      "error": f"{type(e).__name__}: {message[-1] if message else ''}"[:300]}
        print(json.dumps(result), flush=True)
        return 0
    return _parent(args, catalogue)


def _parent(args: argparse.Namespace, catalogue: dict[str, Row]) -> int:
    import torch

    cuda = torch.cuda.is_available() and not args.cpu_smoke
    if not cuda and not args.cpu_smoke:
        print("error: no CUDA GPU here; run it on a GPU machine, or --cpu-smoke to check the "
              "script on this CPU", file=sys.stderr)
        return 2
    chosen = [row for row in catalogue.values() if args.only in row.name]
    budget = args.budget if args.budget is not None else (
        float("inf") if args.cpu_smoke else 540.0)
    device = torch.cuda.get_device_name(0) if cuda else "CPU (--cpu-smoke: toy sizes)"
    began = time.perf_counter()
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu-acceptance-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"device: {device}; torch {torch.__version__}; checkpoints in {work}", flush=True)
    builds: dict[str, str | None] = {}  # model → why its checkpoint could not be built

    def built(model: str) -> str | None:
        """Build ``model``'s checkpoint once (in a subprocess): None, or why it failed."""
        if model not in builds:
            start = time.perf_counter()
            command = [sys.executable, str(Path(__file__).resolve()), "--build", model,
                       "--work", str(work)] + (["--cpu-smoke"] if args.cpu_smoke else [])
            done = subprocess.run(command, capture_output=True, text=True, timeout=600,
                                  check=False)
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            builds[model] = None if done.returncode == 0 else (
                f"building the {model} checkpoint failed: {lines[-1] if lines else ''}")
            print(f"({model} checkpoint built in {time.perf_counter() - start:.0f} s)",
                  flush=True)
        return builds[model]

    print("| row | outcome | seconds | peak GiB | notes |\n|---|---|---|---|---|", flush=True)
    results: list[dict[str, Any]] = []
    lock, building = threading.Lock(), threading.Lock()

    def one(row: Row) -> None:
        spent = time.perf_counter() - began
        if args.cpu_smoke and row.cpu is not None:
            result: dict[str, Any] = {"outcome": "skipped", "error": f"not on a CPU: {row.cpu}"}
        elif spent + (estimate := row.estimate + (
                0 if row.scenario == "full" or row.model in builds else BUILD_ESTIMATE)
                      ) > budget:
            result = {"outcome": "skipped",
                      "error": f"would overrun the budget ({spent:.0f} s spent + ~"
                               f"{estimate:.0f} s > {budget:.0f} s)"}
        else:
            start = time.perf_counter()
            with building:  # full depth is built in the row itself
                failed = None if row.scenario == "full" else built(row.model)
            result = ({"outcome": "fail", "error": failed} if failed else
                      run_in_subprocess(row, work, args.cpu_smoke))
            result["seconds"] = round(time.perf_counter() - start, 1)
        result.update(row=row.name, expected=row.expect, settings=row.settings)
        with lock:
            results.append(result)
            print(_line(result), flush=True)
            _write(args.out, device, results, time.perf_counter() - began)

    # one GPU: one row at a time; the CPU smoke run may use every core, one thread per row
    with ThreadPoolExecutor(max_workers=args.jobs if args.cpu_smoke else 1) as pool:
        list(pool.map(one, chosen))
    wrong = [r for r in results if r["outcome"] not in ("skipped", r["expected"])]
    print(f"total {time.perf_counter() - began:.0f} s; {len(wrong)} rows not as expected",
          flush=True)
    return 1 if wrong else 0


def _line(result: dict[str, Any]) -> str:
    outcome = result["outcome"]
    if outcome not in ("skipped", result["expected"]):
        outcome = f"**{outcome}** (expected {result['expected']})"
    notes = [f"{key} {result[key]}" for key in ("offload", "s_per_step", "est_s_per_clip",
                                                  "after_cancel_mean_abs_diff") if key in result]
    if "error" in result:
        notes.append(result["error"])
    return (f"| {result['row']} | {outcome} | {result.get('seconds', '')} "
            f"| {result.get('peak_gib', '')} | {'; '.join(map(str, notes))} |")


def _write(out: Path, device: str, results: list[dict[str, Any]], seconds: float) -> None:
    out.write_text(json.dumps({"device": device, "seconds": round(seconds, 1),
                               "rows": results}, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
