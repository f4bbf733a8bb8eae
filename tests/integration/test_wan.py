"""The wan-flf2v engine with a tiny random-weight Wan FLF2V pipeline (CPU, offline): loading
through the engine's real path, conditioning on both frames, the output contract, progress,
cancel, missing model, out of memory, and the API around it."""

from __future__ import annotations

import os
import threading
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
from tests.conftest import data_url, psnr
from tests.diffusion import one_thread  # noqa: F401  (autouse)
from tests.helpers import decode_mp4
from tests.integration.conftest import Api
from tests.wan_tiny import save_tiny_wan

if not os.environ.get("INBETWEEN_REQUIRE_SERVICES"):
    pytest.importorskip("diffusers", reason="the diffusion extra is not installed "
                        "(pip install '.[diffusion]'; `make test` installs it)")

import torch

from inbetween.engines.wan import loader
from inbetween.engines.wan.engine import WanEngine, model_frames, model_size


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_wan(tmp_path_factory.mktemp("wan") / "tiny-wan")


def _settings(tmp_path: Path, model: Path, **overrides: object) -> Settings:
    values: dict[str, Any] = {"data_dir": tmp_path / "data", "wan_model": str(model),
                              "diffusion_steps": 2, "diffusion_max_area": 64 * 64,
                              "diffusion_max_frames": 9}
    values.update(overrides)
    return Settings(**values)


REQUEST = EngineRequest(prompt="a slow push in", width=128, height=72, fps=24, frame_count=96,
                        seed=3, generate_audio=False)


def test_sizes_and_lengths() -> None:
    assert model_size(1280, 720, 921_600) == (1280, 720)
    assert model_size(1920, 1080, 921_600) == (1280, 720)
    assert model_size(720, 1280, 921_600) == (720, 1280)
    w, h = model_size(1280, 720, 64 * 64)
    assert (w % 16, h % 16) == (0, 0) and w * h <= 64 * 64 and w > h
    assert model_frames(8, 81) == 81 and model_frames(4, 81) == 65 and model_frames(4, 9) == 9
    assert all((model_frames(s, m) - 1) % 4 == 0 for s in (4, 6, 8) for m in (9, 33, 81))


def test_the_model_sees_both_frames_and_the_output_keeps_the_contract(
    tiny: Path, tmp_path: Path, photos: dict[str, np.ndarray],
) -> None:
    settings = _settings(tmp_path, tiny)
    pipe = loader.load_pipeline(settings)  # the engine's own loading path
    assert pipe.transformer.dtype == torch.bfloat16
    assert pipe.vae.dtype == torch.float32 and pipe.image_encoder.dtype == torch.float32
    assert loader.load_pipeline(settings) is pipe  # once per process
    encoded: list[torch.Tensor] = []
    conditions: list[torch.Tensor] = []
    pipe.image_encoder.register_forward_pre_hook(
        lambda _m, args, kwargs: encoded.append(kwargs["pixel_values"]), with_kwargs=True)
    vae_encode = pipe.vae.encode
    pipe.vae.encode = lambda x, *a, **k: (conditions.append(x.detach().clone()),
                                          vae_encode(x, *a, **k))[1]
    fractions: list[float] = []
    clip = WanEngine(settings).render(REQUEST, photos["astronaut"], photos["coffee"],
                                      on_progress=fractions.append)
    # the image encoder got both frames, as one batch of two
    assert len(encoded) == 1 and encoded[0].shape[0] == 2
    # the VAE's conditioning video starts with the first image and ends with the last one
    [condition] = conditions
    w, h = model_size(128, 72, 64 * 64)
    assert condition.shape == (1, 3, 9, h, w)
    first, last = fit_to_canvas(photos["astronaut"], 128, 72), fit_to_canvas(
        photos["coffee"], 128, 72)
    import cv2

    for index, image in ((0, first), (-1, last)):
        expected = torch.from_numpy(cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
                                    ).permute(2, 0, 1).float() / 127.5 - 1
        assert torch.allclose(condition[0, :, index], expected, atol=0.02)
    assert condition[0, :, 1:-1].abs().max() == 0
    frames = list(clip.frames)
    assert clip.frame_count == len(frames) == 96
    # I420, the encoder's layout; the ends are the fitted inputs exactly
    assert all(f.shape == (108, 128) and f.dtype == np.uint8 for f in frames)
    assert np.array_equal(frames[0], rgb_to_i420(first))
    assert np.array_equal(frames[-1], rgb_to_i420(last))
    meta = clip.meta
    assert meta["model_frames"] == 9 and meta["model_size"] == [w, h]
    assert isinstance(meta["drift_first"], float) and meta["drift_first"] >= 0
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len([f for f in fractions if 0.05 < f < 0.95]) == 2  # one per denoising step


def test_cancel_stops_within_one_denoising_step(
    tiny: Path, tmp_path: Path, photos: dict[str, np.ndarray],
) -> None:
    settings = _settings(tmp_path, tiny, diffusion_steps=5)
    pipe = loader.load_pipeline(settings)
    calls = {"transformer": 0, "decode": 0}
    pipe.transformer.register_forward_hook(
        lambda *_: calls.__setitem__("transformer", calls["transformer"] + 1))
    decode = pipe.vae.decode
    pipe.vae.decode = lambda *a, **k: (calls.__setitem__("decode", 1), decode(*a, **k))[1]

    class Cancelled(Exception):
        pass

    def cancel(fraction: float) -> None:
        if fraction > 0.05:
            raise Cancelled

    with pytest.raises(Cancelled):
        WanEngine(settings).render(REQUEST, photos["astronaut"], photos["coffee"], cancel)
    assert calls == {"transformer": 2, "decode": 0}  # one step (with and without text), no VAE


def test_a_missing_model_and_out_of_memory_end_the_job_not_the_worker(
    tiny: Path, tmp_path: Path, photos: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = _settings(tmp_path, tmp_path / "nowhere")
    with pytest.raises(ModelUnavailable, match="downloading is off"):
        WanEngine(missing).render(REQUEST, photos["astronaut"], photos["coffee"])
    settings = _settings(tmp_path, tiny)
    pipe = loader.load_pipeline(settings)

    def exhausted(*_args: object, **_kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(pipe.transformer, "forward", exhausted)
    with pytest.raises(OutOfMemory, match="INBETWEEN_DIFFUSION_MAX_AREA"):
        WanEngine(settings).render(REQUEST, photos["astronaut"], photos["coffee"])
    monkeypatch.undo()
    clip = WanEngine(settings).render(REQUEST, photos["astronaut"], photos["coffee"])
    assert clip.frame_count == 96  # the same process goes on working


def _body(photos: dict[str, np.ndarray], **overrides: object) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "inbetween/wan-flf2v", "prompt": "a slow push in",
                            "image_url": data_url(photos["astronaut"], "JPEG"),
                            "last_image_url": data_url(photos["coffee"]),
                            "resolution": "720p", "duration": 4}
    body.update(overrides)
    return body


def _wan_api(make_api: Callable[..., Api], tiny: Path, **overrides: object) -> Api:
    return make_api(**{"concurrency": 1, "wan_model": str(tiny), "diffusion_steps": 2,
                       "diffusion_max_area": 64 * 64, "diffusion_max_frames": 9, **overrides})


def test_generation_through_the_api(make_api: Callable[..., Api], tiny: Path,
                                    photos: dict[str, np.ndarray], tmp_path: Path) -> None:
    api = _wan_api(make_api, tiny)
    created = api.post(_body(photos, seed=11)).json()
    done = api.wait_finished(created["id"], timeout=240)
    assert done["status"] == "completed", done
    meta = done["meta"]
    assert meta["engine"] == "inbetween/wan-flf2v" and meta["seed"] == 11
    assert meta["details"]["model_frames"] == 9 and "drift_last" in meta["details"]
    path = tmp_path / "wan.mp4"
    path.write_bytes(api.client.get(done["video"]["url"].removeprefix(
        "http://testserver")).content)
    video = decode_mp4(path)
    assert (video.width, video.height, video.frame_count) == (1280, 720, 96)
    assert video.audio is not None
    assert psnr(video.first, fit_to_canvas(photos["astronaut"], 1280, 720)) > 30
    assert psnr(video.last, fit_to_canvas(photos["coffee"], 1280, 720)) > 30


def test_the_google_names_can_run_on_wan_locally(make_api: Callable[..., Api], tiny: Path,
                                                 photos: dict[str, np.ndarray]) -> None:
    api = _wan_api(make_api, tiny, local_engine="wan-flf2v")
    done = api.wait_finished(api.post(_body(
        photos, model="google/veo-3.1-first-last-image-to-video",
        generate_audio=False)).json()["id"], timeout=240)
    assert done["status"] == "completed" and done["meta"]["engine"] == "inbetween/wan-flf2v"


def test_workers_only_take_the_engines_they_offer(
    make_api: Callable[..., Api], tiny: Path, photos: dict[str, np.ndarray],
) -> None:
    api = _wan_api(make_api, tiny, worker_engines="keyframe")
    wan_job = api.post(_body(photos)).json()["id"]
    keyframe_job = api.post(_body(photos, model="inbetween/keyframe")).json()["id"]
    assert api.wait_finished(keyframe_job)["status"] == "completed"
    waiting = api.get(wan_job).json()
    assert waiting["status"] == "queued" and waiting["meta"]["queue_position"] == 1


def test_one_diffusion_job_at_a_time_per_process(
    make_api: Callable[..., Api], tiny: Path, photos: dict[str, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two workers (concurrency 2) take a wan job each. The first job to reach the model is
    held inside it until the second has reached the model too (an overlap) or is waiting for
    runtime.RUN, the lock of one job at a time; then a moment longer, so that a second job
    that is not held back by the lock is inside the model with it."""
    from inbetween.engines.diffusion import runtime
    from inbetween.engines.wan import engine as wan_engine

    state = threading.Condition()
    entered, inside, most, asked = [0], [0], [0], [0]  # asked: requests for runtime.RUN
    met: list[bool] = []  # whether the first job saw the second one try to run
    run, generate = runtime.RUN, wan_engine._generate

    class Watched:
        """runtime.RUN, counting who asks for it before waiting for it."""

        def __enter__(self) -> None:
            with state:
                asked[0] += 1
                state.notify_all()
            run.__enter__()

        def __exit__(self, *exc: Any) -> None:
            run.__exit__(*exc)

    def counted(*args: Any, **kwargs: Any) -> Any:
        with state:
            entered[0] += 1
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            state.notify_all()
            if entered[0] == 1:  # the first job in the model waits for the second
                met.append(state.wait_for(lambda: inside[0] > 1 or asked[0] > 1, timeout=120))
                state.wait_for(lambda: inside[0] > 1, timeout=1.0)
        try:
            return generate(*args, **kwargs)
        finally:
            with state:
                inside[0] -= 1

    monkeypatch.setattr(runtime, "RUN", Watched())
    monkeypatch.setattr(wan_engine, "_generate", counted)
    api = _wan_api(make_api, tiny, concurrency=2)
    jobs = [api.post(_body(photos, generate_audio=False)).json()["id"] for _ in range(2)]
    done = [api.wait_finished(job, timeout=240) for job in jobs]
    assert met == [True], "the second job never tried to run while the first was in the model"
    assert entered[0] == 2 and most[0] == 1, f"{most[0]} jobs were in the model at once"
    assert [d["status"] for d in done] == ["completed", "completed"], done


def test_without_the_extra_the_model_is_refused(
    api: Api, photos: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from inbetween.engines.diffusion import runtime

    monkeypatch.setattr(runtime, "diffusion_installed", lambda: False)
    response = api.post(_body(photos))
    error = response.json()["error"]
    assert response.status_code == 400 and error["field"] == "model"
    assert "pip install 'inbetween[diffusion]'" in error["message"]


def test_a_missing_model_fails_the_job_with_model_unavailable(
    make_api: Callable[..., Api], tmp_path: Path, photos: dict[str, np.ndarray],
) -> None:
    api = _wan_api(make_api, tmp_path / "no-model")
    done = api.wait_finished(api.post(_body(photos)).json()["id"])
    assert done["error"]["name"] == "ModelUnavailable"
    assert "INBETWEEN_ALLOW_MODEL_DOWNLOAD" in done["error"]["message"]
    again = api.post(_body(photos, model="inbetween/keyframe")).json()["id"]
    assert api.wait_finished(again)["status"] == "completed"
