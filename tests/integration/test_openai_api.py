"""`/v1/videos` over the in-process app: the same jobs as v2, every error source in OpenAI's
envelope (validation, 401, 404 of a route, the body limit's 413, 429 with Retry-After, 402),
idempotency, the poll-after header, and the OpenAPI document's `openai` tag and error shape."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tests.conftest import data_url, encode
from tests.integration.conftest import Api


def _form(photos: dict[str, np.ndarray], **fields: str) -> tuple[dict[str, str], Any]:
    small = {k: np.ascontiguousarray(v[::3, ::3]) for k, v in photos.items()}  # < 0.5 MB
    data = {"prompt": "p", "model": "inbetween/keyframe", "seconds": "4",
            "last_frame": data_url(small["chelsea"]), **fields}
    files = {"input_reference": ("a.png", encode(small["rocket"]), "image/png")}
    return data, files


def _openai_error(answer: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert set(error) >= {"message", "type", "param", "code", "name", "field"}
    assert error["param"] == error["field"] == field
    return error


def test_v1_and_v2_are_views_of_the_same_jobs(api: Api, photos: dict[str, np.ndarray]) -> None:
    data, files = _form(photos, size="720x1280", generate_audio="0", seed="11")
    made = api.client.post("/v1/videos", data=data, files=files, headers=api.auth)
    assert made.status_code == 200, made.text
    video = made.json()
    assert (video["status"], video["size"], video["seconds"]) == ("queued", "720x1280", "4")
    assert made.headers["openai-poll-after-ms"] == "500"
    v2 = api.get(video["id"]).json()
    assert v2["status"] == "queued" and v2["meta"]["queue_position"] == 1
    listed = api.client.get("/v2/video/generations/list", headers=api.auth).json()["data"]
    request = listed[0]["request"]
    assert (request["aspect_ratio"], request["resolution"], request["generate_audio"],
            request["seed"]) == ("9:16", "720p", False, 11)
    # and the reverse: a v2 generation is a /v1 video
    other = api.post({"model": "inbetween/keyframe", "prompt": "q", "duration": 6,
                      "resolution": "1080p", "image_url": data_url(photos["rocket"]),
                      "last_image_url": data_url(photos["chelsea"])}).json()["id"]
    seen = api.client.get(f"/v1/videos/{other}", headers=api.auth).json()
    assert (seen["seconds"], seen["size"], seen["status"]) == ("6", "1920x1080", "queued")
    gone = api.client.delete(f"/v1/videos/{video['id']}", headers=api.auth).json()
    assert gone == {"id": video["id"], "object": "video.deleted", "deleted": True}
    assert api.get(video["id"]).status_code == 404


def test_the_poll_hint_follows_the_routed_engine_not_the_model_name(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray], tmp_path: Path,
) -> None:
    """`openai-poll-after-ms` is 500 only when the keyframe engine runs the video: a Google
    model name runs on it when no provider is configured (or with `provider=local`), and
    goes upstream (minutes: 5000) when one is."""
    veo = "google/veo-3.1-first-last-image-to-video"

    def hint(api: Api, **fields: str) -> str:
        data, files = _form(photos, **fields)
        made = api.client.post("/v1/videos", data=data, files=files, headers=api.auth)
        assert made.status_code == 200, made.text
        seen = api.client.get(f"/v1/videos/{made.json()['id']}", headers=api.auth)
        assert seen.headers["openai-poll-after-ms"] == made.headers["openai-poll-after-ms"]
        return str(made.headers["openai-poll-after-ms"])

    unconfigured = make_api()  # the Veo name falls back to INBETWEEN_LOCAL_ENGINE=keyframe
    assert hint(unconfigured, model=veo) == "500"
    assert hint(unconfigured, model="inbetween/keyframe") == "500"
    upstream = make_api(google_api_key="test-key",  # concurrency 0: nothing is sent
                        data_dir=tmp_path / "upstream")
    assert hint(upstream, model=veo) == "5000"
    assert hint(upstream, model=veo, provider="local") == "500"
    assert hint(upstream, model="inbetween/keyframe") == "500"


def test_idempotency_and_json_bodies(api: Api, photos: dict[str, np.ndarray]) -> None:
    body = {"prompt": "p", "model": "inbetween/keyframe", "seconds": 4,
            "input_reference": {"image_url": data_url(photos["rocket"])},
            "last_frame": data_url(photos["chelsea"]), "generate_audio": False}
    headers = {**api.auth, "Idempotency-Key": "once"}
    first = api.client.post("/v1/videos", json=body, headers=headers).json()
    again = api.client.post("/v1/videos", json=body, headers=headers).json()
    assert first["id"] == again["id"]
    _openai_error(api.client.post("/v1/videos", json={**body, "prompt": "other"},
                                  headers=headers), 409)
    _openai_error(api.client.post("/v1/videos", json={**body, "seconds": True},
                                  headers=api.auth), 400, "seconds")
    for field, value in (("size", []), ("model", {"x": 1}), ("seed", "²")):
        _openai_error(api.client.post("/v1/videos", json={**body, field: value},
                                      headers=api.auth), 400, field)
    _openai_error(api.client.post("/v1/videos", json={**body, "input_reference": {
        "file_id": "x"}}, headers=api.auth), 400, "input_reference")
    _openai_error(api.client.post("/v1/videos", content=b"[1]", headers={
        **api.auth, "Content-Type": "application/json"}), 400)
    _openai_error(api.client.post("/v1/videos", content=b"x", headers={
        **api.auth, "Content-Type": "text/plain"}), 400, "Content-Type")
    broken = _openai_error(api.client.post("/v1/videos", json={
        **body, "input_reference": "not an image"}, headers=api.auth), 400, "input_reference")
    assert broken["message"].startswith("input_reference")


def test_every_error_source_uses_openais_envelope(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray],
) -> None:
    api = make_api(max_body_mb=0.5, rate_submit_per_second=1.0,
                   keyframe_credits_per_second=1.0)
    error = _openai_error(api.client.get("/v1/videos"), 401)
    assert error["type"] == "authentication_error" and error["code"] == "unauthorized"
    _openai_error(api.client.get("/v1/nowhere", headers=api.auth), 404)
    _openai_error(api.client.get("/v1/videos", params={"limit": 500}, headers=api.auth), 400,
                  "limit")
    big = api.client.post("/v1/videos", content=b"x" * 600_000, headers={
        **api.auth, "Content-Type": "application/json"})
    assert _openai_error(big, 413)["name"] == "PayloadTooLarge"
    data, files = _form(photos)
    assert api.client.post("/v1/videos", data=data, files=files,
                           headers=api.auth).status_code == 200
    limited = api.client.post("/v1/videos", data=data, files=files, headers=api.auth)
    assert _openai_error(limited, 429)["type"] == "rate_limit_error"
    assert int(limited.headers["Retry-After"]) >= 1
    capped = api.new_key("capped")
    from inbetween.store import open_store

    store = open_store(api.settings)
    store.set_budget("capped", 1.0, "month")  # a 4 s keyframe clip costs $4 here
    store.engine.dispose()
    refused = api.client.post("/v1/videos", data=data, files=files,
                              headers={"Authorization": f"Bearer {capped}"})
    assert _openai_error(refused, 402)["type"] == "insufficient_quota"
    # v2 keeps its own envelope
    assert set(api.client.get("/v2/video/generations/list").json()["error"]) == {
        "name", "message"}


def test_the_openapi_document_describes_v1(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    v1 = {path: ops for path, ops in schema["paths"].items() if path.startswith("/v1/")}
    assert set(v1) == {"/v1/videos", "/v1/videos/{video_id}", "/v1/videos/{video_id}/content"}
    for ops in v1.values():
        for op in ops.values():
            assert op["tags"] == ["openai"]
            bad = op["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
            assert bad.endswith("/OpenAIErrorEnvelope")
    create = v1["/v1/videos"]["post"]
    assert set(create["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    assert "402" in create["responses"] and "413" in create["responses"]
