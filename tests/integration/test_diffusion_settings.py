"""The diffusion family's fast settings and start-time checks (CPU, offline, tiny models):
each setting reaches its diffusers/torchao call with the right arguments and in the right
order (LoRAs fused → quantize → attention → first-block cache → compile), the first-block
cache really skips work, bad settings stop `inbetween worker` / `serve` with one line, and the
engines' offering, queues and model list."""

from __future__ import annotations

import importlib.machinery
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inbetween.engines.base import EngineRequest
from inbetween.settings import Lora, Settings, parse_loras
from tests.diffusion import one_thread  # noqa: F401  (autouse)
from tests.helpers import require_module
from tests.lora_tiny import save_tiny_lora
from tests.ltx2_tiny import save_tiny_ltx2
from tests.wan_tiny import save_tiny_wan22

if not os.environ.get("INBETWEEN_REQUIRE_SERVICES"):
    pytest.importorskip("diffusers", reason="the diffusion extra is not installed "
                        "(pip install '.[diffusion]'; `make test` installs it)")


from inbetween.engines import registry
from inbetween.engines.diffusion import runtime
from inbetween.engines.diffusion.checks import StartupRefused, check_worker
from inbetween.engines.diffusion.ltx2 import LTX2Engine
from inbetween.engines.wan.engine import Wan22Engine

REQUEST = EngineRequest(prompt="a slow push in", width=128, height=72, fps=24, frame_count=96,
                        seed=3, generate_audio=False)


@pytest.fixture(scope="module")
def wan22(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_wan22(tmp_path_factory.mktemp("wan22") / "tiny-wan22")


@pytest.fixture(scope="module")
def ltx2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_ltx2(tmp_path_factory.mktemp("ltx2") / "tiny-ltx2")


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object, object]]:
    """(call, model class, argument) of every speed-up call, in order; torchao is a recorder
    (it is not installed here, and FP8 needs a GPU); compile is recorded, not run (inductor
    on this CPU would take minutes); the others run for real."""
    from diffusers import ModelMixin, WanImageToVideoPipeline
    from diffusers.models.cache_utils import CacheMixin

    made: list[tuple[str, object, object]] = []
    quantization = types.ModuleType("torchao.quantization")

    def quantize_(model: Any, config: Any) -> None:
        made.append(("quantize_", type(model).__name__, type(config).__name__))

    quantization.quantize_ = quantize_  # type: ignore[attr-defined]
    for name in runtime.QUANTIZERS.values():
        setattr(quantization, name, type(name, (), {}))
    quantization.__spec__ = importlib.machinery.ModuleSpec("torchao.quantization", None)
    torchao = types.ModuleType("torchao")
    torchao.__spec__ = importlib.machinery.ModuleSpec("torchao", None)
    torchao.quantization = quantization  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torchao", torchao)
    monkeypatch.setitem(sys.modules, "torchao.quantization", quantization)

    def spy(owner: Any, method: str, record: bool = True) -> None:
        original = getattr(owner, method)

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            made.append((method, type(self).__name__, args[0] if args else kwargs))
            return None if not record else original(self, *args, **kwargs)

        monkeypatch.setattr(owner, method, wrapper)

    spy(ModelMixin, "set_attention_backend")
    spy(CacheMixin, "enable_cache")
    spy(ModelMixin, "compile_repeated_blocks", record=False)
    spy(WanImageToVideoPipeline, "fuse_lora")
    return made


def test_wan22_speedups_reach_both_experts_in_order(
    wan22: Path, tmp_path: Path, calls: list[tuple[str, object, object]],
    photos: dict[str, np.ndarray],
) -> None:
    from diffusers import WanImageToVideoPipeline

    lora = save_tiny_lora(WanImageToVideoPipeline, wan22, tmp_path / "lora")
    settings = Settings(data_dir=tmp_path, wan22_model=str(wan22), wan22_steps=2,
                        diffusion_max_area=64 * 64, diffusion_max_frames=9,
                        wan22_loras=f"{lora}:0.5", diffusion_quantize="int8",
                        diffusion_attention="_native_math", diffusion_compile=True,
                        diffusion_first_block_cache=0.1)
    engine = Wan22Engine(settings)
    engine.load()
    names = [call[0] for call in calls]
    assert names == ["fuse_lora", "quantize_", "quantize_", "set_attention_backend",
                     "set_attention_backend", "enable_cache", "enable_cache",
                     "compile_repeated_blocks", "compile_repeated_blocks"]
    assert calls[0][2] == {"components": ["transformer", "transformer_2"], "lora_scale": 1.0,
                           "adapter_names": ["lora0"]}
    assert calls[1][2] == "Int8WeightOnlyConfig"
    assert calls[3][2] == "_native_math"
    assert calls[5][2].threshold == 0.1  # type: ignore[union-attr]
    assert calls[7][2] == {"fullgraph": True}
    assert {call[1] for call in calls[1:]} == {"WanTransformer3DModel"}
    # the real attention backend and cache run on this CPU
    assert engine.render(REQUEST, photos["astronaut"], photos["coffee"]).frame_count == 96


def test_ltx2_speedups_and_fp8(
    ltx2: Path, tmp_path: Path, calls: list[tuple[str, object, object]],
) -> None:
    settings = Settings(data_dir=tmp_path, ltx2_model=str(ltx2), diffusion_quantize="fp8",
                        diffusion_attention="_native_math", diffusion_compile=True)
    LTX2Engine(settings).load()
    assert [(c[0], c[1], c[2]) for c in calls] == [
        ("quantize_", "LTX2VideoTransformer3DModel",
         "Float8DynamicActivationFloat8WeightConfig"),
        ("set_attention_backend", "LTX2VideoTransformer3DModel", "_native_math"),
        ("compile_repeated_blocks", "LTX2VideoTransformer3DModel", {"fullgraph": True})]


def test_the_first_block_cache_skips_blocks_on_wan(
    wan22: Path, tmp_path: Path, photos: dict[str, np.ndarray],
) -> None:
    def block_calls(threshold: float) -> int:
        runtime.unload()
        engine = Wan22Engine(Settings(
            data_dir=tmp_path, wan22_model=str(wan22), wan22_steps=8,
            diffusion_max_area=64 * 64, diffusion_max_frames=9,
            diffusion_first_block_cache=threshold))
        pipe = engine.load()
        count = [0]
        for expert in (pipe.transformer, pipe.transformer_2):  # the cache skips the block's
            expert.blocks[-1].ffn.register_forward_hook(  # insides, not its call
                lambda *_: count.__setitem__(0, count[0] + 1))
        engine.render(REQUEST, photos["astronaut"], photos["coffee"])
        return count[0]

    assert block_calls(0.0) == 16  # 8 steps × (with and without the prompt)
    assert block_calls(0.9) < 16


def test_a_cancel_leaves_nothing_behind_for_the_next_job(
    wan22: Path, tmp_path: Path, photos: dict[str, np.ndarray],
) -> None:
    """A cancel is raised from the step callback, inside the pipeline's call, so the end of
    that call (maybe_free_model_hooks: the first-block cache's state reset, the offload hooks
    re-applied) never runs: the engine does it. The job after a cancelled one gives exactly
    what a fresh process gives."""
    first, last = photos["astronaut"], photos["coffee"]

    def engine() -> Wan22Engine:
        runtime.unload()
        return Wan22Engine(Settings(
            data_dir=tmp_path, wan22_model=str(wan22), wan22_steps=8,
            diffusion_max_area=64 * 64, diffusion_max_frames=9, diffusion_first_block_cache=0.5))

    fresh = list(engine().render(REQUEST, first, last).frames)

    class Cancelled(Exception):
        pass

    def cancel_mid_run(fraction: float) -> None:
        if fraction > 0.5:
            raise Cancelled

    warm = engine()
    with pytest.raises(Cancelled):
        warm.render(REQUEST, first, last, cancel_mid_run)
    after = list(warm.render(REQUEST, first, last).frames)
    assert len(after) == len(fresh) == 96
    assert all(np.array_equal(x, y) for x, y in zip(after, fresh, strict=True))


def test_auto_offload_decides_from_the_weights_and_the_free_memory() -> None:
    """`INBETWEEN_DIFFUSION_OFFLOAD=auto` on one 80 GB H100 (~78.5 GiB free) with the real
    models' weights (docs/diffusion.md, from benchmarks/checkpoints.py): LTX-2 and Wan2.2 do
    not fit with their working memory and a 10 % reserve (model offload), Wan2.1 does; on an
    H200 every model does; a component larger than the card leaves only sequential."""
    h100, h200 = 78.5, 139.0
    ltx2 = dict(weights=63.0, largest=35.2, working=10.0)
    wan21 = dict(weights=43.9, largest=30.5, working=8.0)
    wan22 = dict(weights=64.4, largest=26.6, working=8.0)
    assert runtime.Footprint(**ltx2, available=h100).offload() == "model"
    assert runtime.Footprint(**wan22, available=h100).offload() == "model"
    assert runtime.Footprint(**wan21, available=h100).offload() == "none"
    for model in (ltx2, wan21, wan22):
        assert runtime.Footprint(**model, available=h200).offload() == "none"
    assert runtime.Footprint(**ltx2, available=40.0).offload() == "sequential"
    # the reserve is 10 % of the available memory, and at least 3 GiB
    def offload(weights: float, available: float) -> str:
        return runtime.Footprint(weights=weights, largest=10.0, working=6.0,
                                 available=available).offload()

    assert (offload(20.0, 28.9), offload(20.0, 29.1)) == ("model", "none")  # 3 GiB
    assert (offload(39.1, 50.0), offload(38.9, 50.0)) == ("model", "none")  # 5 GiB


def test_auto_offload_counts_the_pipeline_and_is_logged_once(
    wan22: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The footprint is the loaded pipeline's own parameters and buffers, the free memory the
    device's (torch.cuda.mem_get_info: replaced here, this machine has no GPU); the choice is
    logged once per load, as `diffusion.offload`; off CUDA, auto is none; a value given is
    used as it is."""
    import torch
    from diffusers import WanImageToVideoPipeline

    pipe = WanImageToVideoPipeline.from_pretrained(wan22)
    sizes = [sum(t.numel() * t.element_size() for t in [*c.parameters(), *c.buffers()])
             for c in pipe.components.values() if isinstance(c, torch.nn.Module)]
    weights, largest = sum(sizes), max(sizes)
    config = Wan22Engine(Settings(wan22_model=str(wan22))).config()
    assert config.working_gib == 8.0
    free: list[int] = []
    monkeypatch.setattr(torch.cuda, "mem_get_info",
                        lambda device=None: (free[-1], 80 * 2**30))
    on_gpu = Settings(data_dir=tmp_path, diffusion_device="cuda:0")
    beside = int((8.0 + 3.0) * 2**30)  # working memory + the reserve (3 GiB at this size)
    for available, expected in ((weights + beside + 1, "none"),
                                ((weights + largest) // 2 + beside, "model"),
                                (largest + beside - 1, "sequential")):
        free.append(available)
        caplog.clear()
        with caplog.at_level("INFO", logger="inbetween.diffusion"):
            assert runtime.offload_mode(pipe, config, on_gpu) == expected
        lines = [r for r in caplog.records if r.getMessage() == "diffusion.offload"]
        assert len(lines) == 1
        fields = lines[0].fields  # type: ignore[attr-defined]
        assert fields["offload"] == expected and fields["engine"] == "inbetween/wan2.2-flf2v"
        assert fields["weights_gib"] == round(weights / 2**30, 1)
    assert runtime.offload_mode(pipe, config, Settings(diffusion_device="cpu")) == "none"
    given = Settings(diffusion_device="cuda:0", diffusion_offload="sequential")
    assert runtime.offload_mode(pipe, config, given) == "sequential"
    assert Settings().diffusion_offload == "auto" and Settings().diffusion_vae_tiling is True


def test_compile_warms_the_model_when_the_worker_starts(
    ltx2: Path, tmp_path: Path, calls: list[tuple[str, object, object]],
) -> None:
    from inbetween.engines.diffusion.checks import warm_engines

    settings = Settings(data_dir=tmp_path, ltx2_model=str(ltx2), ltx2_steps=3,
                        ltx2_guidance=1.0, ltx2_max_area=128 * 64, diffusion_compile=True,
                        worker_engines="ltx2")
    engines = registry.build_engines(settings)
    steps: list[int] = []
    pipe, _ = engines[registry.LTX2].load()  # type: ignore[attr-defined]
    pipe.transformer.register_forward_hook(lambda *_: steps.append(1))
    decode = pipe.vae.decode
    pipe.vae.decode = lambda *a, **k: (steps.append(99), decode(*a, **k))[1]
    warm_engines(engines, settings)
    assert steps == [1]  # one denoising step, no decode
    assert ("compile_repeated_blocks", "LTX2VideoTransformer3DModel",
            {"fullgraph": True}) in calls


# -- refused at start ------------------------------------------------------------------------
def _refusal(tmp_path: Path, **values: Any) -> str:
    with pytest.raises(StartupRefused) as refused:
        check_worker(Settings(data_dir=tmp_path, **values))
    return str(refused.value)


def test_bad_settings_are_refused_at_start(
    wan22: Path, ltx2: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ltx = {"ltx2_model": str(ltx2)}
    assert "needs torchao: pip install torchao" in _refusal(
        tmp_path, diffusion_quantize="fp8", **ltx)
    assert "not an attention backend" in _refusal(
        tmp_path, diffusion_attention="fastest", **ltx)
    assert "fetch their kernel at run time" in _refusal(
        tmp_path, diffusion_attention="flash_hub", **ltx)
    wan = {"worker_engines": "keyframe,wan-flf2v"}
    assert "flash-attn" in _refusal(tmp_path, diffusion_attention="flash", **wan)
    assert "no LoRA file or folder" in _refusal(
        tmp_path, ltx2_loras=str(tmp_path / "missing.safetensors"), **ltx)
    assert "no first-block cache for LTX-2" in _refusal(
        tmp_path, diffusion_first_block_cache=0.05, **ltx)
    assert "INBETWEEN_LTX2_UPSAMPLER: no folder" in _refusal(
        tmp_path, ltx2_upsampler=str(tmp_path / "nowhere"), **ltx)
    ti2v = save_tiny_wan22(tmp_path / "ti2v", ti2v=True)
    assert "drops the last frame" in _refusal(tmp_path, wan22_model=str(ti2v))
    assert "INBETWEEN_LTX2_MODEL" in _refusal(tmp_path, worker_engines="keyframe,ltx2")
    lora = tmp_path / "lora.safetensors"
    lora.write_bytes(b"")
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr("inbetween.engines.diffusion.checks.find_spec",
                        lambda name: None if name == "peft" else find_spec(name))
    assert "needs peft" in _refusal(tmp_path, wan_loras=str(lora))
    monkeypatch.undo()
    # combinations that crash on a GPU, refused before any model loads
    for backend in ("flash", "_flash_3", "sage", "_native_flash"):
        assert "cannot run LTX-2, whose transformer always passes an attention mask" in (
            _refusal(tmp_path, diffusion_attention=backend, **ltx))
    assert "INBETWEEN_DIFFUSION_FIRST_BLOCK_CACHE with INBETWEEN_DIFFUSION_COMPILE" in _refusal(
        tmp_path, diffusion_first_block_cache=0.05, diffusion_compile=True, **wan)
    for speedup in ({"diffusion_compile": True}, {"diffusion_quantize": "int8"}):
        assert "does not work with INBETWEEN_DIFFUSION_OFFLOAD=sequential" in _refusal(
            tmp_path, diffusion_offload="sequential", **speedup, **ltx)
    ltx23 = tmp_path / "ltx23"
    (ltx23 / "transformer").mkdir(parents=True)
    (ltx23 / "transformer" / "config.json").write_text('{"perturbed_attn": true}')
    assert "LTX-2.3-style checkpoint (perturbed_attn)" in _refusal(
        tmp_path, ltx2_model=str(ltx23), diffusion_compile=True, ltx2_guidance=3.0)
    check_worker(Settings(data_dir=tmp_path, ltx2_model=str(ltx23), diffusion_compile=True,
                          ltx2_guidance=1.0))  # distilled: no guidance pass to branch
    check_worker(Settings(data_dir=tmp_path, diffusion_compile=True, **ltx))  # LTX-2.0: fine
    check_worker(Settings(data_dir=tmp_path, diffusion_attention="_native_flash",
                          **wan))  # Wan passes no mask
    check_worker(Settings(data_dir=tmp_path, diffusion_offload="model",
                          diffusion_compile=True, **ltx))
    # fine: the first-block cache on a worker without ltx2, a valid backend, a LoRA file
    check_worker(Settings(data_dir=tmp_path, diffusion_first_block_cache=0.05,
                          diffusion_attention="_native_cudnn", wan_loras=f"{lora}:0.8", **ltx,
                          worker_engines="keyframe,wan-flf2v"))
    check_worker(Settings(data_dir=tmp_path, wan22_model=str(wan22)))


def _cli(tmp_path: Path, command: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INBETWEEN_")}
    environment.update({"INBETWEEN_DATA_DIR": str(tmp_path / "data"), **env})
    return subprocess.run([sys.executable, "-m", "inbetween", command], env=environment,
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_worker_and_server_stop_with_one_line(ltx2: Path, tmp_path: Path) -> None:
    ti2v = save_tiny_wan22(tmp_path / "ti2v", ti2v=True)
    broker = {"INBETWEEN_BROKER_URL": "redis://127.0.0.1:9/0"}  # never reached
    for command, env, says in (
        ("worker", {**broker, "INBETWEEN_WORKER_ENGINES": "wan2.2-flf2v",
                    "INBETWEEN_WAN22_MODEL": str(ti2v)}, "INBETWEEN_WAN22_MODEL"),
        ("worker", {**broker, "INBETWEEN_DIFFUSION_QUANTIZE": "fp4"},
         "invalid setting INBETWEEN_DIFFUSION_QUANTIZE"),
        ("worker", {**broker, "INBETWEEN_WAN_LORAS": "a.safetensors:inf"},
         "invalid setting INBETWEEN_WAN_LORAS"),
        ("serve", {"INBETWEEN_LTX2_MODEL": str(ltx2),
                   "INBETWEEN_DIFFUSION_FIRST_BLOCK_CACHE": "0.1"},
         "INBETWEEN_DIFFUSION_FIRST_BLOCK_CACHE"),
    ):
        done = _cli(tmp_path, command, **env)
        assert done.returncode == 2, (command, env, done.stderr)
        assert says in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) <= 2, done.stderr  # one (wrapped) line


# -- offering, queues, names -----------------------------------------------------------------
def test_an_engine_without_its_model_is_not_offered(tmp_path: Path) -> None:
    plain = Settings(data_dir=tmp_path)
    assert registry.offered_engines(plain) == (registry.KEYFRAME, registry.WAN)
    both = Settings(data_dir=tmp_path, ltx2_model="/m/ltx2", wan22_model="/m/wan22")
    assert set(registry.offered_engines(both)) == set(registry.LOCAL_ENGINES.values())
    assert registry.claimable_models(both) is None
    gpu = Settings(data_dir=tmp_path, ltx2_model="/m/ltx2", worker_engines="ltx2")
    assert registry.claimable_models(gpu) == (registry.LTX2,)


def test_each_diffusion_engine_has_its_own_queue(tmp_path: Path) -> None:
    require_module("celery", "the celery extra is not installed "
                   "(pip install '.[celery]'; `make test` installs it)")
    from inbetween.dispatch.celery import queue_for, worker_queues

    assert queue_for(registry.LTX2) == "inbetween.ltx2"
    assert queue_for(registry.WAN22) == "inbetween.wan2.2-flf2v"
    assert queue_for(registry.KEYFRAME) == "inbetween"
    settings = Settings(data_dir=tmp_path, ltx2_model="/m", wan22_model="/m",
                        worker_engines="ltx2,wan2.2-flf2v")
    assert worker_queues(settings) == ["inbetween.ltx2", "inbetween.wan2.2-flf2v"]
    everything = Settings(data_dir=tmp_path, ltx2_model="/m")
    assert worker_queues(everything) == ["inbetween", "inbetween.wan-flf2v", "inbetween.ltx2"]


def test_lora_settings() -> None:
    assert parse_loras("") == ()
    assert parse_loras("/a/b.safetensors, /c:0.5 ,C:/x/y.safetensors:1.25") == (
        Lora("/a/b.safetensors"), Lora("/c", 0.5), Lora("C:/x/y.safetensors", 1.25))
    with pytest.raises(ValueError, match="finite"):
        parse_loras("/a:nan")
