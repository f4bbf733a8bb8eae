"""The ltx2 engine with a tiny random-weight LTX-2 condition pipeline (CPU, offline): loading
through the engine's own loader, where the two frames are conditioned, exact frame count and
size, pinned ends, the model's own sound (mastered, exactly `duration` long) or none, LoRAs,
progress, cancel, missing model, out of memory, and the API around it."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from inbetween.engines.base import EngineRequest
from inbetween.errors import ModelUnavailable, OutOfMemory
from inbetween.media.audio import SAMPLE_RATE, true_peak_db
from inbetween.media.images import fit_to_canvas
from inbetween.settings import Settings
from tests.conftest import data_url, psnr
from tests.diffusion import one_thread  # noqa: F401  (autouse)
from tests.helpers import decode_mp4
from tests.integration.conftest import Api
from tests.lora_tiny import save_tiny_lora
from tests.ltx2_tiny import VOCODER_RATE, save_tiny_ltx2

if not os.environ.get("INBETWEEN_REQUIRE_SERVICES"):
    pytest.importorskip("diffusers", reason="the diffusion extra is not installed "
                        "(pip install '.[diffusion]'; `make test` installs it)")

import torch

from inbetween.engines.diffusion import runtime
from inbetween.engines.diffusion.ltx2 import LTX2Engine, plan

MAX_AREA = 128 * 64  # → 96×64 for a 16:9 output: a 3×2 latent (the VAE divides by 32)
REQUEST = EngineRequest(prompt="a slow push in", width=128, height=72, fps=24, frame_count=96,
                        seed=3, generate_audio=True)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_ltx2(tmp_path_factory.mktemp("ltx2") / "tiny-ltx2")


def _settings(tmp_path: Path, model: Path, **overrides: object) -> Settings:
    values: dict[str, Any] = {"data_dir": tmp_path / "data", "ltx2_model": str(model),
                              "ltx2_steps": 2, "ltx2_guidance": 1.0, "ltx2_max_area": MAX_AREA}
    values.update(overrides)
    return Settings(**values)


def test_sizes() -> None:
    assert plan(1280, 720, 921_600, False) == (1280, 704, False)
    assert plan(720, 1280, 921_600, False) == (704, 1280, False)
    assert plan(1920, 1080, 921_600, False) == (1280, 704, False)  # then upscaled
    # with an upsampler, larger outputs are made at half size and upsampled ×2
    assert plan(1920, 1080, 921_600, True) == (960, 512, True)
    assert plan(1280, 720, 921_600, True) == (1280, 704, False)  # fits: made directly


def test_the_frames_are_conditioned_first_and_last_and_the_output_keeps_the_contract(
    tiny: Path, tmp_path: Path, photos: dict[str, np.ndarray],
) -> None:
    settings = _settings(tmp_path, tiny)
    engine = LTX2Engine(settings)
    pipe, upsampler = engine.load()  # the engine's own loading path
    assert upsampler is None and pipe.transformer.dtype == torch.bfloat16
    assert engine.load()[0] is pipe  # once per process
    received: dict[str, Any] = {}
    preprocess, coords = pipe.preprocess_conditions, pipe._prepare_keyframe_coords

    def conditions(*args: Any, **kwargs: Any) -> Any:
        received["conditions"] = result = preprocess(*args, **kwargs)
        received["given"], _height, _width, received["num_frames"] = args
        return result

    def keyframe(*args: Any, **kwargs: Any) -> Any:
        received.setdefault("keyframes", []).append(coords(*args, **kwargs))
        return received["keyframes"][-1]

    pipe.preprocess_conditions, pipe._prepare_keyframe_coords = conditions, keyframe
    fractions: list[float] = []
    clip = engine.render(REQUEST, photos["astronaut"], photos["coffee"], fractions.append)
    # 4 s: 97 frames generated (8k+1); the two images at latent index 0 and the last one
    assert received["num_frames"] == 97
    assert [c.index for c in received["given"]] == [0, -1]  # what the pipeline receives
    images, strengths, indices, pixel_frames = received["conditions"]
    assert indices == [0, 12] and strengths == [1.0, 1.0] and pixel_frames == [1, 1]
    first = fit_to_canvas(photos["astronaut"], 128, 72)
    last = fit_to_canvas(photos["coffee"], 128, 72)
    for image, expected in zip(images, (first, last), strict=True):  # (1, 3, 1, 64, 96) in ±1
        seen = ((image[0, :, 0].float().permute(1, 2, 0) + 1) * 127.5).numpy()
        import cv2

        assert psnr(seen.clip(0, 255).astype(np.uint8),
                    cv2.resize(expected, (96, 64), interpolation=cv2.INTER_AREA)) > 25
    # the last image sits on the clip's last pixel frame (96 / 24 s), not at 8j+1 (89)
    [last_coords] = received["keyframes"]
    assert torch.allclose(last_coords[0, 0, :, 0], torch.tensor(96 / 24.0))
    frames = list(clip.frames)
    assert clip.frame_count == len(frames) == 96
    assert all(f.shape == (72, 128, 3) and f.dtype == np.uint8 for f in frames)
    assert np.array_equal(frames[0], first) and np.array_equal(frames[-1], last)
    meta = clip.meta
    assert meta["model_frames"] == 97 and meta["dropped_frame"] == 95
    assert meta["model_size"] == [96, 64] and meta["model_fps"] == 24
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len([f for f in fractions if 0.05 < f <= 0.85]) == 2  # one per denoising step
    # the model's own sound: 48 kHz stereo, exactly 4 s, mastered
    assert clip.sound is not None
    sound = clip.sound.result()
    assert sound.audio.shape == (2, 4 * SAMPLE_RATE) and sound.audio.dtype == np.float32
    assert sound.details["source"] == "model"
    assert sound.details["model_sample_rate"] == VOCODER_RATE
    assert abs(sound.details["loudness_lufs"] + 16) <= 1
    assert true_peak_db(sound.audio) <= -2.4
    assert pipe.placed == 1  # the last image moved once, the first left where it was


def test_the_last_frame_hook_fails_loudly_when_diffusers_changes(
    tiny: Path, tmp_path: Path, photos: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A diffusers whose LTX-2 pipeline no longer calls ``_prepare_keyframe_coords`` with the
    last image where it used to: the job ends as an EngineError instead of a clip with the last
    image silently misplaced; one whose method takes other arguments: the worker refuses to
    start."""
    from diffusers import LTX2ConditionPipeline

    from inbetween.engines.diffusion.checks import StartupRefused, check_worker
    from inbetween.engines.diffusion.ltx2 import pipeline_class
    from inbetween.errors import EngineError

    runtime.unload()
    engine = LTX2Engine(_settings(tmp_path, tiny))
    monkeypatch.setattr(pipeline_class(), "_prepare_keyframe_coords",
                        LTX2ConditionPipeline._prepare_keyframe_coords)  # the hook never runs
    with pytest.raises(EngineError, match="placed on the last frame 0 times"):
        engine.render(REQUEST, photos["astronaut"], photos["coffee"])
    monkeypatch.undo()
    runtime.unload()
    original = LTX2ConditionPipeline._prepare_keyframe_coords

    def renamed(self: Any, keyframe_latent_num_frames: int, keyframe_latent_height: int,
                keyframe_latent_width: int, frame_index: int, num_pixel_frames: int,
                fps: float, device: Any) -> Any:
        return original(self, keyframe_latent_num_frames, keyframe_latent_height,
                        keyframe_latent_width, frame_index, num_pixel_frames, fps, device)

    monkeypatch.setattr(LTX2ConditionPipeline, "_prepare_keyframe_coords", renamed)
    with pytest.raises(StartupRefused, match="cannot place the last image with this diffusers"):
        check_worker(_settings(tmp_path, tiny))


def test_no_audio_skips_the_audio_decoder(
    tiny: Path, tmp_path: Path, photos: dict[str, np.ndarray],
) -> None:
    engine = LTX2Engine(_settings(tmp_path, tiny))
    pipe, _ = engine.load()
    calls: list[str] = []
    pipe.vocoder.register_forward_hook(lambda *_: calls.append("vocoder"))
    request = EngineRequest(**{**REQUEST.__dict__, "generate_audio": False})
    clip = engine.render(request, photos["astronaut"], photos["coffee"])
    assert clip.sound is None and calls == [] and len(list(clip.frames)) == 96


def test_distilled_guidance_is_one_pass_per_step_and_cfg_more(
    tiny: Path, tmp_path: Path, photos: dict[str, np.ndarray],
) -> None:
    # per step: 1 sample distilled; CFG (a batch of 2) + STG + modality isolation otherwise
    for guidance, passes in ((1.0, 2), (3.0, 8)):
        engine = LTX2Engine(_settings(tmp_path, tiny, ltx2_guidance=guidance))
        pipe, _ = engine.load()
        calls: list[int] = []

        def count(_m: object, _args: object, kwargs: dict[str, Any], _out: object,
                  calls: list[int] = calls) -> None:
            calls.append(kwargs["hidden_states"].shape[0])

        handle = pipe.transformer.register_forward_hook(count, with_kwargs=True)
        engine.render(REQUEST, photos["astronaut"], photos["coffee"])
        handle.remove()
        assert sum(calls) == passes, guidance  # samples through the transformer, 2 steps
        runtime.unload()


def test_cancel_stops_within_one_denoising_step_without_decoding(
    tiny: Path, tmp_path: Path, photos: dict[str, np.ndarray],
) -> None:
    engine = LTX2Engine(_settings(tmp_path, tiny, ltx2_steps=5))
    pipe, _ = engine.load()
    calls = {"transformer": 0, "vae": 0, "vocoder": 0}

    def count(name: str) -> Callable[..., None]:
        return lambda *_: calls.__setitem__(name, calls[name] + 1)

    pipe.transformer.register_forward_hook(count("transformer"))
    pipe.vocoder.register_forward_hook(count("vocoder"))
    decode = pipe.vae.decode
    pipe.vae.decode = lambda *a, **k: (count("vae")(), decode(*a, **k))[1]

    class Cancelled(Exception):
        pass

    def cancel(fraction: float) -> None:
        if fraction > 0.05:
            raise Cancelled

    with pytest.raises(Cancelled):
        engine.render(REQUEST, photos["astronaut"], photos["coffee"], cancel)
    assert calls == {"transformer": 1, "vae": 0, "vocoder": 0}


def test_loras_change_the_output_deterministically(
    tiny: Path, tmp_path: Path, photos: dict[str, np.ndarray],
) -> None:
    from diffusers import LTX2ConditionPipeline

    lora = save_tiny_lora(LTX2ConditionPipeline, tiny, tmp_path / "lora")

    def middle(**overrides: object) -> np.ndarray:
        runtime.unload()
        clip = LTX2Engine(_settings(tmp_path, tiny, **overrides)).render(
            REQUEST, photos["astronaut"], photos["coffee"])
        return list(clip.frames)[48]

    plain = middle()
    fused = middle(ltx2_loras=f"{lora}:1.0")
    assert np.array_equal(fused, middle(ltx2_loras=str(lora)))  # deterministic
    assert np.abs(fused.astype(int) - plain).mean() > 1  # and it did something
    half = middle(ltx2_loras=f"{lora}:0.5")
    assert not np.array_equal(half, fused) and not np.array_equal(half, plain)
    pipe, _ = LTX2Engine(_settings(tmp_path, tiny, ltx2_loras=str(lora))).load()
    assert not any("lora" in name for name, _ in pipe.transformer.named_parameters())  # fused


def test_a_missing_model_and_out_of_memory_end_the_job_not_the_worker(
    tiny: Path, tmp_path: Path, photos: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ModelUnavailable, match="INBETWEEN_LTX2_MODEL"):
        LTX2Engine(_settings(tmp_path, tmp_path / "nowhere")).render(
            REQUEST, photos["astronaut"], photos["coffee"])
    engine = LTX2Engine(_settings(tmp_path, tiny))
    pipe, _ = engine.load()

    def exhausted(*_args: object, **_kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(pipe.transformer, "forward", exhausted)
    with pytest.raises(OutOfMemory, match="INBETWEEN_LTX2_MAX_AREA"):
        engine.render(REQUEST, photos["astronaut"], photos["coffee"])
    monkeypatch.undo()
    assert engine.render(REQUEST, photos["astronaut"], photos["coffee"]).frame_count == 96


def test_the_latent_upsampler_doubles_the_generated_size(
    tiny: Path, tmp_path: Path, photos: dict[str, np.ndarray],
) -> None:
    from diffusers.pipelines.ltx2.latent_upsampler import LTX2LatentUpsamplerModel

    torch.manual_seed(0)
    LTX2LatentUpsamplerModel(in_channels=4, mid_channels=32, num_blocks_per_stage=1
                             ).save_pretrained(tmp_path / "upsampler")
    engine = LTX2Engine(_settings(tmp_path, tiny, ltx2_upsampler=str(tmp_path / "upsampler"),
                                  ltx2_max_area=128 * 72))
    _pipe, upsampler = engine.load()
    sizes: list[tuple[int, int]] = []
    upsampler.latent_upsampler.register_forward_hook(
        lambda _m, args, out: sizes.append((tuple(args[0].shape[-2:]), tuple(out.shape[-2:]))))
    request = EngineRequest(**{**REQUEST.__dict__, "width": 256, "height": 144,
                               "generate_audio": False})
    clip = engine.render(request, photos["astronaut"], photos["coffee"])
    assert sizes == [((2, 4), (4, 8))]  # 128×64 generated, 256×128 decoded
    assert clip.meta["upsampled"] is True and clip.meta["model_size"] == [256, 128]
    assert [f.shape for f in clip.frames][-1] == (144, 256, 3)


# -- through the API --------------------------------------------------------------------------
def _body(photos: dict[str, np.ndarray], **overrides: object) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "inbetween/ltx2", "prompt": "a slow push in, rain falls",
                            "image_url": data_url(photos["astronaut"], "JPEG"),
                            "last_image_url": data_url(photos["coffee"]),
                            "resolution": "720p", "duration": 4}
    body.update(overrides)
    return body


def _ltx2_api(make_api: Callable[..., Api], tiny: Path, **overrides: object) -> Api:
    return make_api(**{"concurrency": 1, "ltx2_model": str(tiny), "ltx2_steps": 2,
                       "ltx2_guidance": 1.0, "ltx2_max_area": MAX_AREA, **overrides})


def _decoded_audio(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        assert (stream.codec_context.sample_rate, stream.codec_context.channels) == (48000, 2)
        return np.concatenate([f.to_ndarray() for f in container.decode(stream)], axis=1)


def test_generation_through_the_api_with_the_models_sound(
    make_api: Callable[..., Api], tiny: Path, photos: dict[str, np.ndarray], tmp_path: Path,
) -> None:
    import pyloudnorm

    api = _ltx2_api(make_api, tiny)
    done = api.wait_finished(api.post(_body(photos, seed=11)).json()["id"], timeout=240)
    assert done["status"] == "completed", done
    meta = done["meta"]
    assert meta["engine"] == "inbetween/ltx2" and meta["seed"] == 11
    audio_meta = meta["details"]["audio"]
    assert audio_meta["source"] == "model" and meta["details"]["model_frames"] == 97
    path = tmp_path / "ltx2.mp4"
    path.write_bytes(api.client.get(done["video"]["url"].removeprefix(
        "http://testserver")).content)
    video = decode_mp4(path)
    assert (video.width, video.height, video.frame_count, video.fps) == (1280, 720, 96, 24)
    assert video.audio is not None and video.audio["seconds"] == pytest.approx(4, abs=0.03)
    assert psnr(video.first, fit_to_canvas(photos["astronaut"], 1280, 720)) > 30
    assert psnr(video.last, fit_to_canvas(photos["coffee"], 1280, 720)) > 30
    decoded = _decoded_audio(path)[:, : 4 * SAMPLE_RATE]
    loudness = pyloudnorm.Meter(SAMPLE_RATE).integrated_loudness(decoded.T)
    assert abs(loudness + 16) <= 1 and true_peak_db(decoded) <= -1.0
    assert audio_meta["loudness_lufs"] == pytest.approx(loudness, abs=1)


def test_without_audio_the_video_has_no_sound_track(
    make_api: Callable[..., Api], tiny: Path, photos: dict[str, np.ndarray], tmp_path: Path,
) -> None:
    api = _ltx2_api(make_api, tiny, local_engine="ltx2")
    done = api.wait_finished(api.post(_body(
        photos, model="google/veo-3.1-first-last-image-to-video", generate_audio=False,
        aspect_ratio="9:16")).json()["id"], timeout=240)
    assert done["status"] == "completed" and done["meta"]["engine"] == "inbetween/ltx2"
    assert "audio" not in done["meta"]["details"]
    path = tmp_path / "silent.mp4"
    path.write_bytes(api.client.get(done["video"]["url"].removeprefix(
        "http://testserver")).content)
    video = decode_mp4(path)
    assert video.audio is None and (video.width, video.height) == (720, 1280)
    assert video.frame_count == 96


def test_unset_model_means_not_offered(api: Api, photos: dict[str, np.ndarray]) -> None:
    response = api.post(_body(photos))
    error = response.json()["error"]
    assert response.status_code == 400 and error["field"] == "model"
    assert "INBETWEEN_LTX2_MODEL" in error["message"]
