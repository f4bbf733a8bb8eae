"""The HTTP contract: every field, default and error of POST/GET /v2/video/generations."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from inbetween.store import open_store
from tests.conftest import data_url, encode
from tests.integration.conftest import Api

MODEL = "google/veo-3.1-first-last-image-to-video"


@pytest.fixture
def body(photos: dict[str, np.ndarray]) -> dict[str, Any]:
    return {
        "model": MODEL,
        "prompt": "A woman looks into the camera, breathes in, then exclaims 'Hello world!'",
        "image_url": data_url(photos["astronaut"], "PNG"),
        "last_image_url": base64.b64encode(encode(photos["chelsea"], "JPEG")).decode(),
    }


def _stored(api: Api, generation_id: str) -> Any:
    store = open_store(api.settings)
    try:
        return store.get(generation_id)
    finally:
        store.engine.dispose()


def _error(response: Any, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    payload: dict[str, Any] = response.json()
    assert set(payload) == {"error"}
    return payload["error"]


# -- POST: success and defaults ---------------------------------------------------------------
def test_post_answers_200_queued_with_defaults(api: Api, body: dict[str, Any]) -> None:
    response = api.post(body)
    assert response.status_code == 200
    created = response.json()
    assert set(created) == {"id", "status"} and created["status"] == "queued"
    job = _stored(api, created["id"])
    r = job.request
    assert (r.aspect_ratio, r.duration, r.resolution, r.generate_audio, r.provider) == (
        "16:9", 8, "1080p", True, "auto")
    assert r.negative_prompt is None and r.seed is None
    assert 0 <= job.seed < 2**32  # a random seed, chosen and stored now


def test_post_accepts_every_field(api: Api, body: dict[str, Any]) -> None:
    body.update(model="inbetween/keyframe", aspect_ratio="9:16", duration=4, resolution="720p",
                generate_audio=False, provider="LOCAL", negative_prompt="blurry", seed=42)
    response = api.post(body)
    assert response.status_code == 200, response.text
    job = _stored(api, response.json()["id"])
    r = job.request
    assert (r.model, r.aspect_ratio, r.duration, r.resolution, r.generate_audio) == (
        "inbetween/keyframe", "9:16", 4, "720p", False)
    assert (r.provider, r.negative_prompt, r.seed, job.seed) == ("local", "blurry", 42, 42)


@pytest.mark.parametrize("model", [MODEL, MODEL + "-fast", "inbetween/keyframe"])
@pytest.mark.parametrize("provider", ["auto", "Auto", "local", " LOCAL "])
def test_models_and_providers(api: Api, body: dict[str, Any], model: str, provider: str) -> None:
    body.update(model=model, provider=provider)
    assert api.post(body).status_code == 200


def test_url_inputs_are_accepted_without_fetching(api: Api, body: dict[str, Any]) -> None:
    body.update(image_url="https://example.invalid/a.jpg", last_image_url="http://x.invalid/b")
    assert api.post(body).status_code == 200  # fetched later by the worker, not now


# -- POST: every invalid field -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("model", "google/veo-3", [MODEL, MODEL + "-fast", "inbetween/keyframe",
                                   "inbetween/wan-flf2v", "inbetween/ltx2",
                                   "inbetween/wan2.2-flf2v"]),
        ("aspect_ratio", "4:3", ["16:9", "9:16"]),
        ("duration", 5, [4, 6, 8]),
        ("duration", "8", [4, 6, 8]),
        ("resolution", "4k", ["720p", "1080p"]),
        ("generate_audio", "yes", [True, False]),
        ("generate_audio", 1, [True, False]),
    ],
)
def test_fixed_choice_fields_name_the_allowed_values(
    api: Api, body: dict[str, Any], field: str, value: object, allowed: list[object]
) -> None:
    body[field] = value
    error = _error(api.post(body))
    assert error["name"] == "InvalidRequest"
    assert error["field"] == field and error["allowed"] == allowed
    assert error["message"].startswith(f"{field}: ") and "use one of" in error["message"]


def test_exact_error_body(api: Api, body: dict[str, Any]) -> None:
    body["duration"] = 10
    assert api.post(body).json() == {"error": {
        "name": "InvalidRequest",
        "message": "duration: 10 is not allowed; use one of 4, 6, 8",
        "field": "duration",
        "allowed": [4, 6, 8],
    }}


@pytest.mark.parametrize("field", ["model", "prompt", "image_url", "last_image_url"])
def test_required_fields(api: Api, body: dict[str, Any], field: str) -> None:
    del body[field]
    error = _error(api.post(body))
    assert error["field"] == field and error["message"] == f"{field} is required"


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("prompt", "", "at least 1 character"),
        ("prompt", "   ", "must contain text"),
        ("prompt", "x" * 4001, "at most 4000 characters"),
        ("prompt", 12, "valid string"),
        ("seed", -1, "greater than or equal to 0"),
        ("seed", 2**32, "less than or equal to 4294967295"),
        ("seed", 1.5, "valid integer"),
        ("negative_prompt", 3, "valid string"),
        ("image_url", None, "valid string"),
    ],
)
def test_free_fields_say_what_is_wrong(
    api: Api, body: dict[str, Any], field: str, value: object, fragment: str
) -> None:
    body[field] = value
    error = _error(api.post(body))
    assert error["field"] == field and fragment in error["message"]
    assert "allowed" not in error


def test_unknown_provider_is_not_configured(api: Api, body: dict[str, Any]) -> None:
    body["provider"] = "google"
    error = _error(api.post(body))
    assert error == {
        "name": "InvalidRequest",
        "message": "provider 'google' is not configured on this server; configured: none "
                   "(and local)",
        "field": "provider",
        "allowed": ["auto", "local"],
    }


def test_unknown_field_is_rejected(api: Api, body: dict[str, Any]) -> None:
    body["fps"] = 30
    error = _error(api.post(body))
    assert error["field"] == "fps" and error["message"] == "unknown field 'fps'"
    assert "prompt" in error["allowed"] and "seed" in error["allowed"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "the request body is not valid JSON"),
        (b"[1, 2]", "the request body must be a JSON object"),
        (b"", "the request body must be a JSON object"),
    ],
)
def test_malformed_bodies(api: Api, raw: bytes, message: str) -> None:
    response = api.client.post("/v2/video/generations", content=raw,
                               headers={**api.auth, "Content-Type": "application/json"})
    error = _error(response)
    assert error["message"].startswith(message) and error["field"] is None


@pytest.mark.parametrize("field", ["image_url", "last_image_url"])
@pytest.mark.parametrize(
    ("make_value", "fragment"),
    [
        (lambda p: "definitely not base64 or a url", "must be an http(s) URL, a data:image"),
        (lambda p: base64.b64encode(b"just some text bytes").decode(), "not a readable image"),
        (lambda p: "data:application/pdf;base64,JVBERi0=", "the data URL's type is"),
        (lambda p: base64.b64encode(encode(p["astronaut"], "GIF")).decode(),
         "GIF images are not accepted; accepted formats: JPEG, PNG or WebP"),
        (lambda p: base64.b64encode(encode(p["astronaut"][:40, :40])).decode(),
         "40×40 px; it must be at least 64×64 px"),
        (lambda p: base64.b64encode(encode(p["astronaut"])[:5000]).decode(),
         "corrupt or truncated"),
    ],
)
def test_bad_base64_images_answer_400_naming_the_field(
    api: Api, body: dict[str, Any], photos: dict[str, np.ndarray], field: str,
    make_value: Any, fragment: str,
) -> None:
    body[field] = make_value(photos)
    error = _error(api.post(body))
    assert error["name"] == "InvalidRequest" and error["field"] == field
    assert error["message"].startswith(f"{field}: ") and fragment in error["message"]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_each_accepted_format(api: Api, body: dict[str, Any], photos: dict[str, np.ndarray],
                              fmt: str) -> None:
    body["image_url"] = data_url(photos["rocket"], fmt)
    assert api.post(body).status_code == 200


# -- authentication ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic dXNlcjpwYXNz"},
     {"Authorization": "Bearer"}],
)
def test_v2_routes_need_a_valid_key(api: Api, body: dict[str, Any],
                                    headers: dict[str, str]) -> None:
    for response in (
        api.client.post("/v2/video/generations", json=body, headers=headers),
        api.client.get("/v2/video/generations", params={"generation_id": "x"}, headers=headers),
    ):
        error = _error(response, 401)
        assert error["name"] == "Unauthorized" and "Bearer" in error["message"]
        assert response.headers["www-authenticate"] == "Bearer"


def test_auth_is_checked_before_the_body(api: Api) -> None:
    response = api.client.post("/v2/video/generations", json={"model": "nope"})
    assert response.status_code == 401


# -- GET ---------------------------------------------------------------------------------------
def test_get_queued_has_every_key(api: Api, body: dict[str, Any]) -> None:
    body["seed"] = 7
    generation_id = api.post(body).json()["id"]
    got = api.get(generation_id)
    assert got.status_code == 200
    assert got.json() == {
        "id": generation_id,
        "status": "queued",
        "progress": 0,
        "video": None,
        "error": None,
        "meta": {"usage": None, "engine": None, "seed": 7, "warnings": [], "details": None,
                 "queue_position": 1, "provider": None, "attempts": []},
    }


def test_get_without_id_is_400(api: Api) -> None:
    error = _error(api.client.get("/v2/video/generations", headers=api.auth))
    assert error["field"] == "generation_id" and error["message"] == "generation_id is required"


def test_unknown_id_is_404(api: Api) -> None:
    error = _error(api.get("no-such-id"), 404)
    assert error["name"] == "NotFound" and "no-such-id" in error["message"]


def test_one_key_cannot_see_another_keys_job(api: Api, body: dict[str, Any]) -> None:
    generation_id = api.post(body).json()["id"]
    other = api.new_key()
    assert api.get(generation_id, key=other).status_code == 404
    assert api.get(generation_id).status_code == 200


# -- unauthenticated routes --------------------------------------------------------------------
def test_health_docs_and_openapi_need_no_key(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok", "store": "ok", "broker": None,
                                                  "storage": "ok"}
    assert api.client.get("/docs").status_code == 200
    schema = api.client.get("/openapi.json").json()
    for path in schema["paths"].values():
        for operation in path.values():
            assert "422" not in operation["responses"]
    post = schema["paths"]["/v2/video/generations"]["post"]
    assert {"200", "400", "401"} <= set(post["responses"])
    get = schema["paths"]["/v2/video/generations"]["get"]
    assert {"200", "400", "401", "404"} <= set(get["responses"])
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_unknown_routes_and_files_use_the_error_body(api: Api) -> None:
    assert _error(api.client.get("/nope"), 404)["name"] == "NotFound"
    assert _error(api.client.get("/files/" + "a" * 32 + ".mp4"), 404)["message"] == "no such video"
    assert _error(api.client.get("/files/../../etc/passwd.mp4"), 404)["name"] == "NotFound"
    assert _error(api.client.delete("/healthz"), 405)["name"] == "MethodNotAllowed"
