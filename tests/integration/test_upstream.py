"""Upstream providers (Google, fal, the hosted API) through the HTTP API, against loopback
servers that speak their protocols; nothing here touches the internet."""

from __future__ import annotations

import base64
import io
import json
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from inbetween.store import open_store
from tests.conftest import encode
from tests.helpers import decode_mp4, wait_for
from tests.integration.conftest import Api
from tests.upstreams import DROP, KEYS, Upstreams, reply, upstreams

VEO = "google/veo-3.1-first-last-image-to-video"


@pytest.fixture
def ups(veo_mp4: bytes) -> Iterator[Upstreams]:
    with upstreams(veo_mp4) as servers:
        yield servers


@pytest.fixture
def run_api(make_api: Callable[..., Api], ups: Upstreams) -> Callable[..., Api]:
    def make(providers: str = "google,fal,aimlapi", **overrides: object) -> Api:
        return make_api(concurrency=1, **{**ups.settings(providers), **overrides})

    return make


def _body(photos: dict[str, np.ndarray], **overrides: object) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": VEO, "prompt": "a slow push in",
        "image_url": "data:image/webp;base64," + base64.b64encode(
            encode(photos["astronaut"], "WEBP", lossless=True)).decode(),
        "last_image_url": "data:image/jpeg;base64," + base64.b64encode(
            encode(photos["coffee"], "JPEG")).decode(),
        "resolution": "720p", "duration": 4}
    body.update(overrides)
    return body


def _finish(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    created = api.post(body)
    assert created.status_code == 200, created.text
    return api.wait_finished(created.json()["id"])


def _no_keys(*texts: str) -> None:
    for text in texts:
        for key in KEYS:
            assert key not in text


def _stored(api: Api, done: dict[str, Any], tmp_path: Path) -> Any:
    path = tmp_path / "stored.mp4"
    url = done["video"]["url"]
    assert url.startswith("http://testserver/files/")  # our URL, never the provider's
    path.write_bytes(api.client.get(url.removeprefix("http://testserver")).content)
    return decode_mp4(path)


def test_google_exact_requests_key_scoping_and_stored_video(
    run_api: Callable[..., Api], ups: Upstreams, photos: dict[str, np.ndarray],
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    api = run_api("google")
    body = _body(photos, generate_audio=False, seed=5, negative_prompt="blur")
    done = _finish(api, body)
    assert done["status"] == "completed", done
    [submit] = ups.google.submissions
    assert submit.path == "/v1beta/models/veo-3.1-generate-preview:predictLongRunning"
    assert submit.headers["x-goog-api-key"] == "goog-test-key-7f3a"
    assert "authorization" not in submit.headers
    sent = submit.json()
    assert sent["parameters"] == {"sampleCount": 1, "durationSeconds": 4, "aspectRatio": "16:9",
                                  "resolution": "720p", "personGeneration": "allow_adult",
                                  "negativePrompt": "blur"}
    instance = sent["instances"][0]
    assert instance["prompt"] == "a slow push in"
    first = instance["image"]
    assert first["mimeType"] == "image/png"  # Google takes no WebP: converted losslessly
    png = Image.open(io.BytesIO(base64.b64decode(first["bytesBase64Encoded"])))
    assert png.format == "PNG" and np.array_equal(np.asarray(png.convert("RGB")),
                                                  photos["astronaut"])
    assert instance["lastFrame"] == {"mimeType": "image/jpeg", "bytesBase64Encoded":
                                     body["last_image_url"].split(",", 1)[1]}
    polls = ups.google.server.got("GET", "/v1beta/models/veo-3.1-generate-preview/operations/")
    assert len(polls) >= 2
    [download] = ups.google.server.got("GET", "/v1beta/files/")
    assert download.headers["x-goog-api-key"] == "goog-test-key-7f3a"
    [cdn] = ups.storage.server.got("GET")  # the redirect's other host never gets the key
    assert "x-goog-api-key" not in cdn.headers and "authorization" not in cdn.headers
    video = _stored(api, done, tmp_path)
    assert (video.width, video.height, video.frame_count, video.codec) == (1280, 720, 96, "h264")
    assert video.audio is None  # generate_audio false: Google's track was removed
    meta = done["meta"]
    assert meta["engine"] == "veo-3.1-generate-preview" and meta["provider"] == "google"
    assert meta["attempts"] == [{"provider": "google", "model": "veo-3.1-generate-preview",
                                 "outcome": "completed", "reason": None, "http_status": None}]
    assert meta["seed"] is None
    assert {w["code"] for w in meta["warnings"]} == {"seed_ignored", "audio_removed"}
    assert meta["usage"] == {"credits_used": 1.6, "cost_usd": 1.6, "seconds": 4.0}  # 4 s ×
    # $0.40 (billed with audio)
    assert api.client.get(done["video"]["thumbnail_url"]).status_code == 200
    assert api.client.get(done["video"]["preview_url"]).status_code == 200
    _no_keys(json.dumps(done), caplog.text)
    for server in (ups.google.server, ups.storage.server):  # our own API key never leaves
        for request in server.requests:
            assert api.key not in json.dumps(request.headers) + request.body.decode("latin-1")


def test_google_rules_are_checked_before_anything_is_billed(
    run_api: Callable[..., Api], ups: Upstreams, photos: dict[str, np.ndarray],
) -> None:
    api = run_api("google")
    refused = api.post(_body(photos, provider="google", resolution="1080p", duration=4))
    error = refused.json()["error"]
    assert refused.status_code == 400 and error["field"] == "resolution"
    assert "1080p only at 8 seconds" in error["message"]
    missing = api.post(_body(photos, provider="FAL"))
    error = missing.json()["error"]
    assert error["field"] == "provider" and error["allowed"] == ["auto", "local", "google"]
    assert "configured: google" in error["message"]
    assert ups.google.submissions == []


def test_fal_storage_queue_position_logs_and_result(
    run_api: Callable[..., Api], ups: Upstreams, photos: dict[str, np.ndarray], tmp_path: Path,
) -> None:
    api = run_api("fal")
    hold = threading.Event()
    hold.set()
    ups.fal.hold = hold
    created = api.post(_body(photos, seed=3)).json()

    def queued_upstream() -> dict[str, Any] | None:
        got: dict[str, Any] = api.get(created["id"]).json()
        return got if got["meta"]["queue_position"] == 2 else None

    waiting = wait_for(queued_upstream, 60, "fal's queue position to show")
    assert waiting["status"] == "generating"
    hold.clear()
    done = api.wait_finished(created["id"])
    assert done["status"] == "completed", done
    [token] = ups.fal.rest.requests
    assert token.path == "/storage/auth/token" and token.headers["authorization"] == \
        "Key fal-test-key-19bc"
    uploads = ups.storage.uploads
    assert [u.headers["content-type"] for u in uploads] == ["image/webp", "image/jpeg"]
    assert all(u.headers["authorization"] == "Bearer fal-storage-token" for u in uploads)
    assert uploads[1].body == base64.b64decode(_body(photos)["last_image_url"].split(",")[1])
    [submit] = ups.fal.submissions
    assert submit.path == "/fal-ai/veo3.1/first-last-frame-to-video"
    assert submit.json() == {
        "prompt": "a slow push in", "first_frame_url": f"{ups.storage.server.url}/files/up1",
        "last_frame_url": f"{ups.storage.server.url}/files/up2", "aspect_ratio": "16:9",
        "duration": "4s", "resolution": "720p", "generate_audio": True, "seed": 3}
    statuses = ups.fal.queue.got("GET", "/fal-ai/")
    assert all(r.query == {"logs": ["1"]} for r in statuses if r.path.endswith("/status"))
    [cdn] = ups.storage.server.got("GET")
    assert "authorization" not in cdn.headers  # fal's key stays on fal's hosts
    video = _stored(api, done, tmp_path)
    assert video.audio is not None and video.frame_count == 96
    meta = done["meta"]
    assert (meta["provider"], meta["engine"], meta["seed"]) == (
        "fal", "fal-ai/veo3.1/first-last-frame-to-video", 3)
    assert meta["usage"] == {"credits_used": 1.6, "cost_usd": 1.6, "seconds": 4.0}
    assert meta["queue_position"] is None
    store = open_store(api.settings)
    messages = [entry.message for entry in store.logs(created["id"])]
    store.engine.dispose()
    assert "fal: Loading model" in messages and "fal: Generating video" in messages


def test_fast_model_names_pick_each_providers_fast_model(
    run_api: Callable[..., Api], ups: Upstreams, photos: dict[str, np.ndarray],
) -> None:
    api = run_api("fal")
    done = _finish(api, _body(photos, model=VEO + "-fast", generate_audio=False))
    assert done["meta"]["engine"] == "fal-ai/veo3.1/fast/first-last-frame-to-video"
    assert ups.fal.submissions[0].path == "/fal-ai/veo3.1/fast/first-last-frame-to-video"
    assert done["meta"]["usage"] == {"credits_used": 0.4, "cost_usd": 0.4,  # 4 s × $0.10
                                     "seconds": 4.0}  # without audio


def test_429_is_retried_after_retry_after(
    run_api: Callable[..., Api], ups: Upstreams, photos: dict[str, np.ndarray],
) -> None:
    ups.google.submit_replies = [reply(429, {"error": {
        "code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}},
        **{"Retry-After": "1"})]
    done = _finish(run_api("google"), _body(photos))
    assert done["status"] == "completed"
    assert len(ups.google.submissions) == 2
    assert [a["outcome"] for a in done["meta"]["attempts"]] == ["completed"]


def test_5xx_on_the_first_provider_moves_to_the_next(
    run_api: Callable[..., Api], ups: Upstreams, photos: dict[str, np.ndarray],
) -> None:
    ups.google.submit_replies = [reply(503, {"error": {
        "code": 503, "message": "The service is currently unavailable.",
        "status": "UNAVAILABLE"}})]
    done = _finish(run_api(), _body(photos))
    assert done["status"] == "completed" and done["meta"]["provider"] == "fal"
    google, fal = done["meta"]["attempts"]
    assert (google["provider"], google["outcome"], google["http_status"]) == (
        "google", "UpstreamUnavailable", 503)
    assert "currently unavailable" in google["reason"]
    assert (fal["provider"], fal["outcome"]) == ("fal", "completed")
    assert len(ups.google.submissions) == 1 and ups.aimlapi.submissions == []


def test_an_auth_failure_is_logged_loudly_and_moves_on(
    run_api: Callable[..., Api], ups: Upstreams, photos: dict[str, np.ndarray],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    ups.google.submit_replies = [reply(403, {"error": {
        "code": 403, "message": "API key not valid", "status": "PERMISSION_DENIED"}})]
    done = _finish(run_api(), _body(photos))
    assert done["meta"]["provider"] == "fal"
    assert done["meta"]["attempts"][0]["outcome"] == "UpstreamAuthFailed"
    assert any(r.levelno == logging.ERROR and "upstream.auth_failed" in r.getMessage()
               for r in caplog.records)
    _no_keys(caplog.text, json.dumps(done))


def test_a_content_policy_block_ends_the_job_without_fallback(
    run_api: Callable[..., Api], ups: Upstreams, photos: dict[str, np.ndarray],
) -> None:
    ups.fal.submit_replies = [reply(422, {"detail": [{
        "loc": ["body", "prompt"], "msg": "The prompt was flagged by our content checker",
        "type": "content_policy_violation"}]}, **{"X-Fal-Retryable": "false"})]
    done = _finish(run_api(provider_chain="fal,google"), _body(photos))
    assert done["status"] == "error" and done["error"]["name"] == "ContentFiltered"
    assert "flagged by our content checker" in done["error"]["message"]
    assert ups.google.submissions == []  # no fallback after a block
    assert done["meta"]["attempts"][0]["http_status"] == 422


@pytest.mark.parametrize("outcome, name, words", [
    ("filtered", "ContentFiltered", "blocked by our safety filters"),
    ("empty", "UpstreamEmptyResult", "without a video"),
    ("error", "UpstreamError", "internal failure"),
])
def test_google_failures_after_submission(
    run_api: Callable[..., Api], ups: Upstreams, photos: dict[str, np.ndarray],
    outcome: str, name: str, words: str,
) -> None:
    ups.google.outcome = outcome
    done = _finish(run_api(), _body(photos))
    assert done["status"] == "error" and done["video"] is None
    assert done["error"]["name"] == name and words in done["error"]["message"]
    assert ups.fal.submissions == []  # a started job never falls back


def test_a_job_that_never_finishes_times_out(
    run_api: Callable[..., Api], ups: Upstreams, photos: dict[str, np.ndarray],
) -> None:
    ups.google.outcome = "never"
    done = _finish(run_api("google", upstream_timeout_seconds=0.5), _body(photos))
    assert done["error"]["name"] == "UpstreamTimeout"
    assert "may still complete and be billed" in done["error"]["message"]


def test_a_submission_without_an_answer_is_never_sent_again(
    run_api: Callable[..., Api], ups: Upstreams, photos: dict[str, np.ndarray],
) -> None:
    ups.google.submit_replies = [DROP]
    done = _finish(run_api(), _body(photos))
    assert done["error"]["name"] == "UpstreamUncertain"
    assert len(ups.google.submissions) == 1 and ups.fal.submissions == []


def test_delete_cancels_where_the_provider_can_and_warns_where_it_cannot(
    run_api: Callable[..., Api], ups: Upstreams, photos: dict[str, np.ndarray],
) -> None:
    api = run_api("fal,google", provider_chain="fal")
    hold = threading.Event()
    hold.set()
    ups.fal.hold = hold
    fal_job = api.post(_body(photos)).json()["id"]
    wait_for(lambda: ups.fal.polls or None, 60, "fal to be polled")
    deleted = api.client.delete("/v2/video/generations", params={"generation_id": fal_job},
                                headers=api.auth).json()
    assert ups.fal.cancelled and ups.fal.queue.got("PUT")[0].path.endswith("/cancel")
    assert deleted["meta"]["warnings"] == []
    ups.google.outcome = "never"
    google_job = api.post(_body(photos, provider="google")).json()["id"]
    wait_for(lambda: ups.google.polls or None, 60, "google to be polled")
    deleted = api.client.delete("/v2/video/generations", params={"generation_id": google_job},
                                headers=api.auth).json()
    [warning] = deleted["meta"]["warnings"]
    assert warning["code"] == "upstream_not_cancelled" and "billed" in warning["message"]
    assert api.get(google_job).status_code == 404


def test_routing(run_api: Callable[..., Api], ups: Upstreams,
                 photos: dict[str, np.ndarray]) -> None:
    api = run_api("google,fal")
    local = _finish(api, _body(photos, model="inbetween/keyframe"))
    assert local["meta"]["provider"] == "local" and local["meta"]["attempts"] == []
    chosen = _finish(api, _body(photos, provider="LOCAL"))
    assert chosen["meta"]["engine"] == "inbetween/keyframe"
    assert chosen["meta"]["warnings"][0]["code"] == "local_engine"
    skipped = _finish(api, _body(photos, resolution="1080p", duration=4))
    assert skipped["meta"]["provider"] == "fal"
    assert skipped["meta"]["attempts"][0]["outcome"] == "skipped"
    assert "1080p only at 8 seconds" in skipped["meta"]["attempts"][0]["reason"]
    assert ups.google.submissions == []
    refused = api.post(_body(photos, model="inbetween/keyframe", provider="google"))
    assert refused.json()["error"]["field"] == "provider"


def test_the_hosted_api_as_an_upstream(
    run_api: Callable[..., Api], ups: Upstreams, photos: dict[str, np.ndarray],
) -> None:
    done = _finish(run_api("aimlapi"), _body(photos))
    assert done["status"] == "completed" and done["meta"]["provider"] == "aimlapi"
    [submit] = ups.aimlapi.submissions
    assert submit.headers["authorization"] == "Bearer aiml-test-key-c0de"
    sent = submit.json()
    assert sent["model"] == VEO and sent["image_url"].startswith("data:image/webp;base64,")
    polls = ups.aimlapi.server.got("GET")
    assert polls[0].query["generation_id"][0].endswith(":" + VEO)  # the colon survived
    assert "authorization" not in ups.storage.server.got("GET")[0].headers


def test_a_configured_server_runs_local_only_when_the_chain_says_so(
    run_api: Callable[..., Api], ups: Upstreams, photos: dict[str, np.ndarray], tmp_path: Path,
) -> None:
    ups.google.submit_replies = [reply(503, {"error": {"code": 503, "message": "down",
                                                       "status": "UNAVAILABLE"}})]
    down = _finish(run_api("google"), _body(photos))
    assert down["error"]["name"] == "UpstreamUnavailable"  # never silently local
    ups.google.submit_replies = [reply(503, {"error": {"code": 503, "message": "down",
                                                       "status": "UNAVAILABLE"}})]
    api = run_api("google", provider_chain="google,local", data_dir=tmp_path / "second")
    fell = _finish(api, _body(photos))
    assert fell["status"] == "completed" and fell["meta"]["provider"] == "local"
    assert [a["provider"] for a in fell["meta"]["attempts"]] == ["google", "local"]
    assert "upstream_fallback" in {w["code"] for w in fell["meta"]["warnings"]}


@pytest.mark.parametrize("served, words", [
    (b"<html>not a video</html>", "does not decode"),
    ("short", "lasts"),
])
def test_a_video_that_cannot_be_kept_is_an_upstream_error(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray], tmp_path: Path,
    served: bytes | str, words: str,
) -> None:
    if served == "short":  # a real H.264 MP4 of the right size, 1 s instead of 4
        from inbetween.media.video import encode_mp4

        path = tmp_path / "short.mp4"
        encode_mp4(path, [np.zeros((720, 1280, 3), np.uint8)] * 24, width=1280, height=720,
                   fps=24, frame_count=24)
        served = path.read_bytes()
    assert isinstance(served, bytes)
    with upstreams(served) as servers:
        api = make_api(concurrency=1, **servers.settings("google"))
        done = _finish(api, _body(photos))
    assert done["status"] == "error" and done["error"]["name"] == "UpstreamError"
    assert "could not be kept" in done["error"]["message"] and words in done["error"]["message"]
    assert not list(api.settings.files_dir.iterdir())  # nothing half-stored


def test_a_deadline_cancels_the_upstream_job_and_charges_nothing(
    run_api: Callable[..., Api], ups: Upstreams, photos: dict[str, np.ndarray],
) -> None:
    api = run_api("fal", provider_chain="fal")
    hold = threading.Event()
    hold.set()
    ups.fal.hold = hold  # the fal job never finishes
    created = api.client.post("/v2/video/generations", json=_body(photos),
                              headers={**api.auth, "Cancel-After": "2s"})
    done = api.wait_finished(created.json()["id"])
    assert done["error"]["name"] == "DeadlineExceeded"
    assert "was cancelled" in done["error"]["message"]
    assert ups.fal.cancelled and ups.fal.queue.got("PUT")[0].path.endswith("/cancel")
    assert done["meta"]["usage"]["credits_used"] == 0
