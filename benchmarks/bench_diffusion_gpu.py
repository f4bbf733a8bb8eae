"""GPU cost of the diffusion engines' real architectures, without their weights.

Builds each model's real transformer — its shape, written below — with random
weights directly on the GPU in bfloat16, runs denoising passes at the latent size the engine
uses for an 8 s 720p request with its default settings (and LTX-2's native 768×512), and
prints a row per setting as soon as it is measured (a run cut short still reports):
seconds per transformer pass, passes per step at the engine's default guidance, seconds per
step, the estimated seconds per clip at the engine's default steps (and with a distilled
schedule: LTX-2 8 steps, Wan 4 steps, one pass each), and peak GPU memory.

Settings: ``native`` (torch SDPA, diffusers' default; ``math``, its reference kernel, for the
CPU smoke run), ``cudnn`` / ``flash`` (torch's own
cuDNN and flash SDPA kernels via ``set_attention_backend``; flash-attn and SageAttention are
not installed on the offline GPU machine), ``fp8`` (torchao float8 dynamic activation +
weight, when torchao is importable) and ``compile`` (``compile_repeated_blocks``; its
compile time is printed apart). Weights, text encoders and VAEs are not involved: the
figures are the transformer's, which is where the time of a clip goes.

    python benchmarks/bench_diffusion_gpu.py                      # the default run (< 6 min, H100)
    python benchmarks/bench_diffusion_gpu.py --models ltx2 --settings native,compile
    python benchmarks/bench_diffusion_gpu.py --cpu-smoke          # tiny shapes, CPU, seconds

Wan2.2-I2V-A14B's two experts have Wan2.1-14B's shape (without the image tokens), so one Wan
row stands for both (Wan2.2 runs 40 steps by default, Wan2.1 30).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SETTINGS = ("native", "math", "cudnn", "flash", "fp8", "compile")
DEFAULT_SETTINGS = {"ltx2": ("native", "cudnn", "flash", "fp8", "compile"),
                    "wan": ("native", "cudnn", "fp8")}
BACKENDS = {"native": None, "math": "_native_math", "cudnn": "_native_cudnn",
            "flash": "_native_flash", "fp8": None, "compile": None}
SMOKE_SETTINGS = ("native", "math", "cudnn", "flash", "fp8", "compile")

# the real shapes: LTX-2 19B as diffusers' defaults for LTX2VideoTransformer3DModel (48
# layers, 32×128 video and 32×64 audio heads, 3840-wide captions: LTX-2's shape, not checked
# here against a downloaded config.json); Wan2.1-FLF2V-14B-720P's transformer config
LTX2_19B: dict[str, Any] = {"num_layers": 48, "num_attention_heads": 32,
                            "attention_head_dim": 128, "cross_attention_dim": 4096,
                            "audio_num_attention_heads": 32, "audio_attention_head_dim": 64,
                            "audio_cross_attention_dim": 2048, "in_channels": 128,
                            "out_channels": 128, "audio_in_channels": 128,
                            "audio_out_channels": 128, "caption_channels": 3840}
WAN_14B: dict[str, Any] = {"num_layers": 40, "num_attention_heads": 40,
                           "attention_head_dim": 128, "ffn_dim": 13824, "in_channels": 36,
                           "out_channels": 16, "text_dim": 4096, "freq_dim": 256,
                           "patch_size": (1, 2, 2), "cross_attn_norm": True,
                           "qk_norm": "rms_norm_across_heads", "eps": 1e-6, "image_dim": 1280,
                           "added_kv_proj_dim": 5120, "rope_max_seq_len": 1024,
                           "pos_embed_seq_len": 257 * 2}
# the same code on tiny shapes (--cpu-smoke)
LTX2_TINY: dict[str, Any] = {"num_layers": 2, "num_attention_heads": 2, "attention_head_dim": 8,
                             "cross_attention_dim": 16, "audio_num_attention_heads": 2,
                             "audio_attention_head_dim": 4, "audio_cross_attention_dim": 8,
                             "in_channels": 8, "out_channels": 8, "audio_in_channels": 8,
                             "audio_out_channels": 8, "caption_channels": 16}
WAN_TINY: dict[str, Any] = {**WAN_14B, "num_layers": 2, "num_attention_heads": 2,
                            "attention_head_dim": 12, "ffn_dim": 32, "text_dim": 32,
                            "image_dim": 8, "added_kv_proj_dim": 24, "rope_max_seq_len": 32,
                            "pos_embed_seq_len": 10}


@dataclass(frozen=True)
class Case:
    """One latent size a model is timed at."""

    label: str
    width: int
    height: int
    frames: int


@dataclass(frozen=True)
class Model:
    name: str
    label: str
    config: dict[str, Any]
    cases: tuple[Case, ...]
    passes: int  # transformer passes per step at the engine's default guidance
    steps: int  # the engine's default steps
    distilled_steps: int
    build: Callable[[dict[str, Any]], Any] = field(repr=False)
    inputs: Callable[[Any, dict[str, Any], Case, Any, Any], dict[str, Any]] = field(repr=False)


def _build_ltx2(config: dict[str, Any]) -> Any:
    from diffusers import LTX2VideoTransformer3DModel

    return LTX2VideoTransformer3DModel(**config)


def _build_wan(config: dict[str, Any]) -> Any:
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(**config)


def _ltx2_inputs(model: Any, config: dict[str, Any], case: Case, device: Any,
                 dtype: Any) -> dict[str, Any]:
    """What LTX2ConditionPipeline gives the transformer for one sample: the video tokens plus
    the last image's keyframe tokens, the audio tokens, 1024 text tokens, per-token time."""
    import torch

    lf, lh, lw = (case.frames - 1) // 8 + 1, case.height // 32, case.width // 32
    video = lf * lh * lw + lh * lw  # + the last image's keyframe tokens
    audio = round(case.frames / 24 * 16000 / 160 / 4)  # audio latents: 25 per second
    coords = model.rope.prepare_video_coords(1, lf, lh, lw, device, fps=24.0)
    coords = torch.cat([coords, coords[:, :, -lh * lw:]], dim=2)
    return {
        "hidden_states": torch.randn(1, video, config["in_channels"], device=device,
                                     dtype=dtype),
        "audio_hidden_states": torch.randn(1, audio, config["audio_in_channels"],
                                           device=device, dtype=dtype),
        "encoder_hidden_states": torch.randn(1, 1024, config["caption_channels"],
                                             device=device, dtype=dtype),
        "audio_encoder_hidden_states": torch.randn(1, 1024, config["caption_channels"],
                                                   device=device, dtype=dtype),
        "encoder_attention_mask": torch.ones(1, 1024, device=device, dtype=dtype),
        "audio_encoder_attention_mask": torch.ones(1, 1024, device=device, dtype=dtype),
        "timestep": torch.full((1, video), 500.0, device=device),
        "audio_timestep": torch.full((1,), 500.0, device=device),
        "sigma": torch.full((1,), 500.0, device=device),
        "audio_sigma": torch.full((1,), 500.0, device=device),
        "num_frames": lf, "height": lh, "width": lw, "fps": 24.0, "audio_num_frames": audio,
        "video_coords": coords,
        "audio_coords": model.audio_rope.prepare_audio_coords(1, audio, device),
        "use_cross_timestep": True, "return_dict": False,
    }


def _wan_inputs(_model: Any, config: dict[str, Any], case: Case, device: Any,
                dtype: Any) -> dict[str, Any]:
    """What WanImageToVideoPipeline gives the transformer for one sample: noise + the
    conditioning video and mask (36 channels), 512 text tokens, both images' CLIP tokens."""
    import torch

    lf, lh, lw = (case.frames - 1) // 4 + 1, case.height // 8, case.width // 8
    return {
        "hidden_states": torch.randn(1, config["in_channels"], lf, lh, lw, device=device,
                                     dtype=dtype),
        "timestep": torch.full((1,), 500.0, device=device),
        "encoder_hidden_states": torch.randn(1, 512, config["text_dim"], device=device,
                                             dtype=dtype),
        # both images' CLIP tokens, one row each (the transformer joins them)
        "encoder_hidden_states_image": torch.randn(2, config["pos_embed_seq_len"] // 2,
                                                   config["image_dim"], device=device,
                                                   dtype=dtype),
        "return_dict": False,
    }


def models(smoke: bool) -> dict[str, Model]:
    if smoke:
        tiny = (Case("tiny", 128, 64, 17),)
        return {
            "ltx2": Model("ltx2", "LTX-2 (tiny)", LTX2_TINY, tiny, 4, 30, 8, _build_ltx2,
                          _ltx2_inputs),
            "wan": Model("wan", "Wan 14B (tiny)", WAN_TINY, (Case("tiny", 64, 48, 9),), 2, 30,
                         4, _build_wan, _wan_inputs),
        }
    return {
        # 8 s 720p: the engine's default LTX-2 size (1280×704, 193 frames); native 768×512
        "ltx2": Model("ltx2", "LTX-2 19B", LTX2_19B,
                      (Case("720p 8 s", 1280, 704, 193), Case("768×512 8 s", 768, 512, 193)),
                      4, 30, 8, _build_ltx2, _ltx2_inputs),
        # 8 s 720p: Wan makes 81 frames at 16 fps, 1280×720 (then retimed to 24 fps)
        "wan": Model("wan", "Wan2.1-FLF2V-14B / Wan2.2-A14B expert", WAN_14B,
                     (Case("720p 81 f", 1280, 720, 81),), 2, 30, 4, _build_wan, _wan_inputs),
    }


def _skip_reason(setting: str, cuda: bool) -> str | None:
    from importlib.util import find_spec

    if setting in ("cudnn", "flash") and not cuda:
        return "needs CUDA"
    if setting == "fp8":
        if find_spec("torchao") is None:
            return "torchao not installed"
        if not cuda:
            return "float8 kernels need a GPU"
    if setting == "compile" and not cuda:
        return "inductor on this CPU takes minutes; the GPU run times it"
    return None


def _prepare(model: Any, setting: str) -> float:
    """Apply ``setting`` as the engine does; the seconds it took (compile: none yet)."""
    start = time.perf_counter()
    if BACKENDS[setting] is not None:
        model.set_attention_backend(BACKENDS[setting])
    if setting == "fp8":
        from torchao.quantization import Float8DynamicActivationFloat8WeightConfig, quantize_

        quantize_(model, Float8DynamicActivationFloat8WeightConfig())
    if setting == "compile":
        model.compile_repeated_blocks(fullgraph=True)
    return time.perf_counter() - start


def _time(model: Any, inputs: dict[str, Any], passes: int, cuda: bool
          ) -> tuple[float, list[float]]:
    """Seconds of a warm-up pass (with compile: the compilation) and of ``passes`` more."""
    import torch

    def one() -> float:
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.inference_mode():
            model(**inputs)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    first = one()
    return first, [one() for _ in range(passes)]


def run_row(spec: Model, case: Case, setting: str, passes: int, device: str) -> str:
    import torch

    cuda = device == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # built in bfloat16 directly: 14–19 B params fit once
    try:
        with torch.device(device):
            model = spec.build(spec.config).eval()
    finally:
        torch.set_default_dtype(previous)
    try:
        _prepare(model, setting)
        inputs = spec.inputs(model, spec.config, case, device, dtype)
        if cuda:
            torch.cuda.reset_peak_memory_stats()

        first, times = _time(model, inputs, passes, cuda)
        per_pass = statistics.median(times)
        peak = f"{torch.cuda.max_memory_allocated() / 2**30:.1f}" if cuda else "–"
    finally:
        del model
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    per_step = per_pass * spec.passes
    warm = f" (first pass {first:.1f} s)" if setting == "compile" else ""
    return (f"| {spec.label} | {case.label} | {setting}{warm} | {per_pass:.3f} | {spec.passes} "
            f"| {per_step:.2f} | {per_step * spec.steps:.0f} ({spec.steps} steps) "
            f"| {per_pass * spec.distilled_steps:.1f} ({spec.distilled_steps}×1) "
            f"| {peak} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="ltx2,wan", help="comma-separated: ltx2, wan")
    parser.add_argument("--settings", default=None,
                        help=f"comma-separated of {', '.join(SETTINGS)} (default: per model)")
    parser.add_argument("--passes", type=int, default=2, help="timed passes after a warm-up")
    parser.add_argument("--budget", type=float, default=330.0,
                        help="seconds after which the remaining rows are skipped")
    parser.add_argument("--cpu-smoke", action="store_true",
                        help="tiny shapes on the CPU: checks the script, measures nothing")
    args = parser.parse_args(argv)

    import torch

    if args.cpu_smoke:
        torch.set_num_threads(1)
    device = "cuda" if torch.cuda.is_available() and not args.cpu_smoke else "cpu"
    catalogue = models(args.cpu_smoke)
    chosen = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in catalogue]
    wanted = None if args.settings is None else [s.strip() for s in args.settings.split(",")]
    if unknown or (wanted and any(s not in SETTINGS for s in wanted)):
        parser.error(f"--models from {sorted(catalogue)}, --settings from {list(SETTINGS)}")
    name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    import diffusers

    print(f"device: {name}; torch {torch.__version__}; diffusers {diffusers.__version__}; "
          f"{'tiny shapes (smoke)' if args.cpu_smoke else 'real shapes, random weights'}; "
          f"median of {args.passes} passes", flush=True)
    print("| model | latent for | setting | s/pass | passes/step | s/step | est. s/clip "
          "(default) | est. s/clip (distilled) | peak GiB |", flush=True)
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    began = time.perf_counter()
    for model_name in chosen:
        spec = catalogue[model_name]
        for case in spec.cases:
            defaults = SMOKE_SETTINGS if args.cpu_smoke else DEFAULT_SETTINGS[model_name]
            for setting in wanted or defaults:
                skip = _skip_reason(setting, device == "cuda")
                if skip is None and time.perf_counter() - began > args.budget:
                    skip = f"time budget of {args.budget:.0f} s spent"
                if skip is not None:
                    print(f"| {spec.label} | {case.label} | {setting} | skipped: {skip} "
                          "| | | | | |", flush=True)
                    continue
                try:
                    print(run_row(spec, case, setting, args.passes, device), flush=True)
                except Exception as e:  # one failed setting does not cost the other rows
                    if device == "cuda":
                        torch.cuda.empty_cache()
                    print(f"| {spec.label} | {case.label} | {setting} | failed: "
                          f"{type(e).__name__}: {str(e).splitlines()[0][:120]} | | | | | |",
                          flush=True)
                    if args.cpu_smoke:
                        raise
    print(f"total {time.perf_counter() - began:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
