"""Request limits: body size (413), per-key rates and the unfinished-jobs cap (429)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tests.integration.conftest import Api, url_body


def _error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def test_oversize_body_by_content_length(make_api: Callable[..., Api]) -> None:
    api = make_api(max_body_mb=0.01)  # 10 KiB
    response = api.post(url_body(prompt="x" * 4000, negative_prompt="y" * 4000,
                              image_url="A" * 20_000))
    error = _error(response, 413)
    assert error["name"] == "PayloadTooLarge" and "INBETWEEN_MAX_BODY_MB" in error["message"]


def test_oversize_streamed_body_is_cut_off(make_api: Callable[..., Api]) -> None:
    api = make_api(max_body_mb=0.01)
    def chunks() -> Iterator[bytes]:  # no Content-Length: a chunked upload
        for i in range(100):
            yield b'{"prompt": "' if i == 0 else b"x" * 1000

    response = api.client.post("/v2/video/generations", content=chunks(),
                               headers={**api.auth, "Content-Type": "application/json"})
    assert _error(response, 413)["name"] == "PayloadTooLarge"


def test_small_bodies_pass(make_api: Callable[..., Api]) -> None:
    assert make_api(max_body_mb=0.01).post(url_body()).status_code == 200


def test_submission_rate_limit(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_submit_per_second=1)  # a bucket of one, refilled once a second
    assert api.post(url_body()).status_code == 200
    response = api.post(url_body())
    assert _error(response, 429)["name"] == "TooManyRequests"
    assert int(response.headers["retry-after"]) >= 1
    other = api.new_key("other")  # limits are per key
    assert api.post(url_body(), key=other).status_code == 200


def test_poll_rate_limit(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_poll_per_second=2)
    generation_id = api.post(url_body()).json()["id"]
    codes = [api.get(generation_id).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_unfinished_jobs_cap(make_api: Callable[..., Api]) -> None:
    api = make_api(max_unfinished_per_key=2)  # concurrency 0: jobs stay queued
    assert [api.post(url_body()).status_code for _ in range(2)] == [200, 200]
    response = api.post(url_body())
    error = _error(response, 429)
    assert "2 unfinished generations" in error["message"] and response.headers["retry-after"]
    assert api.post(url_body(), key=api.new_key("other")).status_code == 200


def test_limits_are_in_the_openapi_schema(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    post = schema["paths"]["/v2/video/generations"]["post"]["responses"]
    assert {"413", "429"} <= set(post)


def test_a_revoked_key_stops_working_at_once(api: Api) -> None:
    from inbetween.store import open_store

    other = api.new_key("temp")
    generation_id = api.post(url_body(), key=other).json()["id"]
    assert api.get(generation_id, key=other).status_code == 200
    store = open_store(api.settings)
    assert store.revoke_keys("temp", now=1.0) == 1
    store.engine.dispose()
    assert api.get(generation_id, key=other).status_code == 401
    assert api.post(url_body(), key=other).status_code == 401
    assert api.post(url_body()).status_code == 200  # other keys are untouched


def test_queue_position_in_get(api: Api) -> None:
    ids = [api.post(url_body()).json()["id"] for _ in range(3)]
    assert [api.get(i).json()["meta"]["queue_position"] for i in ids] == [1, 2, 3]
