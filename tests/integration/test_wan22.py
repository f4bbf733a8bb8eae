"""The wan2.2-flf2v engine with a tiny random-weight Wan2.2 I2V pipeline (CPU, offline): both
experts used around the boundary with their own guidance, the last image in the conditioning,
LoRAs fused into both experts, progress, cancel, OOM, the TI2V refusal, and the API."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inbetween.engines.base import EngineRequest
from inbetween.errors import ModelUnavailable, OutOfMemory
from inbetween.media.images import fit_to_canvas
from inbetween.media.yuv import rgb_to_i420
from inbetween.settings import Settings
from tests.conftest import data_url
from tests.diffusion import one_thread  # noqa: F401  (autouse)
from tests.integration.conftest import Api
from tests.lora_tiny import save_tiny_lora
from tests.wan_tiny import save_tiny_wan22

if not os.environ.get("INBETWEEN_REQUIRE_SERVICES"):
    pytest.importorskip("diffusers", reason="the diffusion extra is not installed "
                        "(pip install '.[diffusion]'; `make test` installs it)")

import torch

from inbetween.engines.diffusion import runtime
from inbetween.engines.wan.engine import Wan22Engine, model_size

REQUEST = EngineRequest(prompt="a slow push in", width=128, height=72, fps=24, frame_count=96,
                        seed=3, generate_audio=False)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_wan22(tmp_path_factory.mktemp("wan22") / "tiny-wan22")


def _settings(tmp_path: Path, model: Path, **overrides: object) -> Settings:
    values: dict[str, Any] = {"data_dir": tmp_path / "data", "wan22_model": str(model),
                              "wan22_steps": 4, "diffusion_max_area": 64 * 64,
                              "diffusion_max_frames": 9}
    values.update(overrides)
    return Settings(**values)


def test_both_experts_around_the_boundary_and_the_last_image_conditions(
    tiny: Path, tmp_path: Path, photos: dict[str, np.ndarray],
) -> None:
    engine = Wan22Engine(_settings(tmp_path, tiny, wan22_guidance=4.0, wan22_guidance_2=2.0))
    pipe = engine.load()
    assert pipe.transformer_2 is not None and pipe.image_encoder is None
    assert pipe.transformer.dtype == pipe.transformer_2.dtype == torch.bfloat16
    seen: dict[str, list[float]] = {"transformer": [], "transformer_2": []}
    for name in seen:
        getattr(pipe, name).register_forward_hook(
            lambda _m, _a, kwargs, _o, name=name: seen[name].append(
                float(kwargs["timestep"].flatten()[0])), with_kwargs=True)
    conditions: list[torch.Tensor] = []
    vae_encode = pipe.vae.encode
    pipe.vae.encode = lambda x, *a, **k: (conditions.append(x.detach().clone()),
                                          vae_encode(x, *a, **k))[1]
    fractions: list[float] = []
    clip = engine.render(REQUEST, photos["astronaut"], photos["coffee"], fractions.append)
    boundary = 0.9 * pipe.scheduler.config.num_train_timesteps
    assert seen["transformer"] and seen["transformer_2"]  # both experts ran
    assert all(t >= boundary for t in seen["transformer"])
    assert all(t < boundary for t in seen["transformer_2"])
    assert pipe._guidance_scale == 4.0 and pipe._guidance_scale_2 == 2.0
    # the conditioning video starts with the first image and ends with the last one
    [condition] = conditions
    w, h = model_size(128, 72, 64 * 64)
    last = fit_to_canvas(photos["coffee"], 128, 72)
    import cv2

    expected = torch.from_numpy(cv2.resize(last, (w, h), interpolation=cv2.INTER_AREA)
                                ).permute(2, 0, 1).float() / 127.5 - 1
    assert torch.allclose(condition[0, :, -1], expected, atol=0.02)
    assert condition[0, :, 1:-1].abs().max() == 0
    frames = list(clip.frames)
    assert len(frames) == 96 and np.array_equal(frames[-1], rgb_to_i420(last))
    assert clip.meta["guidance"] == 4.0 and clip.meta["guidance_2"] == 2.0
    assert len([f for f in fractions if 0.05 < f < 0.95]) == 4  # one per denoising step


def test_loras_are_fused_into_both_experts(
    tiny: Path, tmp_path: Path, photos: dict[str, np.ndarray],
) -> None:
    from diffusers import WanImageToVideoPipeline

    lora = save_tiny_lora(WanImageToVideoPipeline, tiny, tmp_path / "lora")
    plain = [p.detach().clone() for p in (
        Wan22Engine(_settings(tmp_path, tiny)).load().transformer_2.parameters())]
    runtime.unload()
    engine = Wan22Engine(_settings(tmp_path, tiny, wan22_loras=f"{lora}:0.7"))
    pipe = engine.load()
    fused = list(pipe.transformer_2.parameters())
    assert len(fused) == len(plain)  # no PEFT layers left
    assert any(not torch.equal(a, b) for a, b in zip(fused, plain, strict=True))
    first = list(engine.render(REQUEST, photos["astronaut"], photos["coffee"]).frames)[48]
    again = list(engine.render(REQUEST, photos["astronaut"], photos["coffee"]).frames)[48]
    assert np.array_equal(first, again)


def test_cancel_after_one_step_and_out_of_memory(
    tiny: Path, tmp_path: Path, photos: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = Wan22Engine(_settings(tmp_path, tiny))
    pipe = engine.load()
    calls = {"forward": 0, "decode": 0}
    for expert in (pipe.transformer, pipe.transformer_2):
        expert.register_forward_hook(lambda *_: calls.__setitem__("forward",
                                                                  calls["forward"] + 1))
    decode = pipe.vae.decode
    pipe.vae.decode = lambda *a, **k: (calls.__setitem__("decode", 1), decode(*a, **k))[1]

    class Cancelled(Exception):
        pass

    def cancel(fraction: float) -> None:
        if fraction > 0.05:
            raise Cancelled

    with pytest.raises(Cancelled):
        engine.render(REQUEST, photos["astronaut"], photos["coffee"], cancel)
    assert calls == {"forward": 2, "decode": 0}  # one step (with and without text), no VAE

    def exhausted(*_args: object, **_kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(pipe.transformer, "forward", exhausted)
    with pytest.raises(OutOfMemory, match="INBETWEEN_DIFFUSION_MAX_AREA"):
        engine.render(REQUEST, photos["astronaut"], photos["coffee"])
    monkeypatch.undo()
    assert engine.render(REQUEST, photos["astronaut"], photos["coffee"]).frame_count == 96


def test_a_ti2v_folder_is_refused_and_a_missing_one_ends_the_job(
    tmp_path: Path, photos: dict[str, np.ndarray],
) -> None:
    ti2v = save_tiny_wan22(tmp_path / "ti2v", ti2v=True)
    with pytest.raises(ModelUnavailable, match="drops the last frame"):
        Wan22Engine(_settings(tmp_path, ti2v)).render(REQUEST, photos["astronaut"],
                                                      photos["coffee"])
    with pytest.raises(ModelUnavailable, match="INBETWEEN_WAN22_MODEL"):
        Wan22Engine(_settings(tmp_path, tmp_path / "nowhere")).render(
            REQUEST, photos["astronaut"], photos["coffee"])


def test_generation_through_the_api(make_api: Callable[..., Api], tiny: Path,
                                    photos: dict[str, np.ndarray]) -> None:
    api = make_api(concurrency=1, wan22_model=str(tiny), wan22_steps=2,
                   diffusion_max_area=64 * 64, diffusion_max_frames=9)
    done = api.wait_finished(api.post({
        "model": "inbetween/wan2.2-flf2v", "prompt": "a slow push in",
        "image_url": data_url(photos["astronaut"], "JPEG"),
        "last_image_url": data_url(photos["coffee"]), "duration": 4}).json()["id"], timeout=240)
    assert done["status"] == "completed", done
    assert done["meta"]["engine"] == "inbetween/wan2.2-flf2v"
    assert done["meta"]["details"]["audio"]["source"] == "synthesized"
