"""Idempotency-Key: a retried POST never makes a second generation."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from inbetween.store import open_store
from inbetween.store.schema import generations
from tests.integration.conftest import Api, url_body


def _post(api: Api, body: dict[str, Any], idem: str, key: str | None = None) -> Any:
    return api.client.post("/v2/video/generations", json=body, headers={
        "Authorization": f"Bearer {key or api.key}", "Idempotency-Key": idem})


def _rows(api: Api) -> int:
    store = open_store(api.settings)
    with store.engine.connect() as conn:
        count = int(conn.execute(select(func.count()).select_from(generations)).scalar_one())
    store.engine.dispose()
    return count


def test_a_retry_returns_the_same_generation(api: Api) -> None:
    first = _post(api, url_body(), "retry-1")
    again = _post(api, url_body(), "retry-1")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() and _rows(api) == 1
    assert _post(api, url_body(), "retry-2").json()["id"] != first.json()["id"]


def test_the_same_key_for_another_request_is_a_conflict(api: Api) -> None:
    assert _post(api, url_body(), "k").status_code == 200
    response = _post(api, url_body(prompt="something else"), "k")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["name"] == "Conflict" and "'k' was already used" in error["message"]
    assert _rows(api) == 1


def test_keys_are_scoped_to_the_api_key(api: Api) -> None:
    mine = _post(api, url_body(), "shared").json()["id"]
    theirs = _post(api, url_body(), "shared", key=api.new_key("other")).json()["id"]
    assert mine != theirs and _rows(api) == 2


def test_concurrent_retries_make_one_generation(api: Api) -> None:
    ids: list[str] = []
    barrier = threading.Barrier(6)

    def retry() -> None:
        barrier.wait()
        response = _post(api, url_body(), "burst")
        assert response.status_code == 200, response.text
        ids.append(response.json()["id"])

    threads = [threading.Thread(target=retry) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(ids) == 6 and len(set(ids)) == 1 and _rows(api) == 1


def test_idempotency_key_is_in_the_schema(api: Api) -> None:
    post = api.client.get("/openapi.json").json()["paths"]["/v2/video/generations"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in post["parameters"]}
    assert "409" in post["responses"]
