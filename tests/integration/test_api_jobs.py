"""Jobs run by the in-process worker pool, observed through the HTTP API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from inbetween.store import open_store
from tests.conftest import data_url, encode
from tests.helpers import static_server
from tests.integration.conftest import Api

MODEL = "google/veo-3.1-first-last-image-to-video"


def _body(photos: dict[str, np.ndarray], **overrides: object) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "inbetween/keyframe",
        "prompt": "the cat turns into a rocket",
        "image_url": data_url(photos["chelsea"], "JPEG"),
        "last_image_url": data_url(photos["rocket"], "PNG"),
        "resolution": "720p",
        "duration": 4,
    }
    body.update(overrides)
    return body


@pytest.fixture
def worker_api(make_api: Callable[..., Api]) -> Api:
    return make_api(concurrency=1)


def test_completed_generation_body(worker_api: Api, photos: dict[str, np.ndarray]) -> None:
    generation_id = worker_api.post(_body(photos, model=MODEL, seed=99)).json()["id"]
    body = worker_api.wait_finished(generation_id)
    assert body["status"] == "completed" and body["progress"] == 100 and body["error"] is None
    url = body["video"]["url"]
    assert url.startswith("http://testserver/files/") and url.endswith(".mp4")
    assert len(url.rsplit("/", 1)[1]) >= 32 + 4  # unguessable token
    meta = body["meta"]
    assert meta["engine"] == "inbetween/keyframe" and meta["seed"] == 99
    assert meta["usage"]["credits_used"] == 0.0 == meta["usage"]["cost_usd"]
    assert meta["usage"]["seconds"] > 0  # delivered: its duration
    assert [w["code"] for w in meta["warnings"]] == ["local_engine"]
    details = meta["details"]
    assert details["transition"] == "push_dissolve"  # a cat and a rocket do not match
    assert 0 <= details["match_confidence"] < 0.3 and details["timing"] == "eased"
    assert MODEL in meta["warnings"][0]["message"]


def test_video_download_needs_no_key_and_supports_range(
    worker_api: Api, photos: dict[str, np.ndarray]
) -> None:
    generation_id = worker_api.post(_body(photos)).json()["id"]
    url = worker_api.wait_finished(generation_id)["video"]["url"]
    path = url.removeprefix("http://testserver")
    full = worker_api.client.get(path)  # no Authorization header
    assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
    assert full.headers["accept-ranges"] == "bytes"
    size = len(full.content)
    assert int(full.headers["content-length"]) == size and size > 10_000
    part = worker_api.client.get(path, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == full.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    tail = worker_api.client.get(path, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == full.content[-10:]
    head = worker_api.client.head(path)
    assert head.status_code == 200 and int(head.headers["content-length"]) == size


def test_public_url_and_credits_settings(make_api: Callable[..., Api],
                                         photos: dict[str, np.ndarray]) -> None:
    api = make_api(concurrency=1, public_url="https://videos.example.com/",
                   keyframe_credits_per_second=2.5)
    body = api.wait_finished(api.post(_body(photos)).json()["id"])
    assert body["video"]["url"].startswith("https://videos.example.com/files/")
    assert body["meta"]["usage"] == {"credits_used": 10.0, "cost_usd": 10.0,  # 4 s × 2.5
                                     "seconds": 4.0}
    assert body["meta"]["warnings"] == []


def test_random_seed_is_reported(worker_api: Api, photos: dict[str, np.ndarray]) -> None:
    seeds = {worker_api.wait_finished(worker_api.post(_body(photos)).json()["id"])["meta"]["seed"]
             for _ in range(2)}
    assert len(seeds) == 2 and all(isinstance(s, int) and s >= 0 for s in seeds)


def test_url_inputs_are_fetched_by_the_worker(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray]
) -> None:
    api = make_api(concurrency=1, fetch_allow="127.0.0.0/8")
    routes = {
        "/first.jpg": (200, "image/jpeg", encode(photos["coffee"], "JPEG")),
        "/moved": (302, "/last.webp", b""),
        "/last.webp": (200, "application/octet-stream", encode(photos["astronaut"], "WEBP")),
    }
    with static_server(routes) as base:
        body = _body(photos, image_url=f"{base}/first.jpg", last_image_url=f"{base}/moved")
        result = api.wait_finished(api.post(body).json()["id"])
    assert result["status"] == "completed", result


@pytest.mark.parametrize(
    ("route", "field", "name", "fragment"),
    [
        ((404, "text/html", b"gone"), "image_url", "ImageFetchError", "answered HTTP 404"),
        ((200, "image/png", b"<html>not an image</html>"), "last_image_url", "InvalidImage",
         "not a readable image"),
    ],
)
def test_bad_url_inputs_end_the_job_as_error(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray],
    route: tuple[int, str, bytes], field: str, name: str, fragment: str,
) -> None:
    api = make_api(concurrency=1, fetch_allow="127.0.0.0/8")
    with static_server({"/x": route}) as base:
        body = _body(photos, **{field: f"{base}/x"})
        result = api.wait_finished(api.post(body).json()["id"])
    assert result["status"] == "error" and result["video"] is None
    assert result["error"]["name"] == name
    assert result["error"]["message"].startswith(f"{field}: ")
    assert fragment in result["error"]["message"]


def test_private_addresses_are_not_fetched_by_default(
    worker_api: Api, photos: dict[str, np.ndarray]
) -> None:
    with static_server({"/x": (200, "image/jpeg", encode(photos["coffee"], "JPEG"))}) as base:
        result = worker_api.wait_finished(
            worker_api.post(_body(photos, image_url=f"{base}/x")).json()["id"])
    assert result["error"]["name"] == "ImageFetchError"
    assert "non-public address 127.0.0.1" in result["error"]["message"]


def test_jobs_run_in_submission_order(worker_api: Api, photos: dict[str, np.ndarray]) -> None:
    ids = [worker_api.post(_body(photos, seed=i)).json()["id"] for i in range(3)]
    finished = [worker_api.wait_finished(i) for i in ids]
    assert [f["status"] for f in finished] == ["completed"] * 3
    store = open_store(worker_api.settings)
    ends = [store.get(i).finished_at for i in ids]  # type: ignore[union-attr]
    store.engine.dispose()
    assert ends == sorted(ends)
