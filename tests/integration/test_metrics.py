"""`GET /metrics` after a known set of jobs, parsed with prometheus_client's own parser: job
counters kept in the store (the same from every API process, never lowered by DELETE),
histograms of durations and stages, the queue depth, spend, HTTP requests by route
template; the token and the off switch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import data_url
from tests.integration.conftest import Api

MODEL = "inbetween/keyframe"


def _body(photos: dict[str, np.ndarray], **overrides: object) -> dict[str, Any]:
    body: dict[str, Any] = {"model": MODEL, "prompt": "a slow push in",
                            "image_url": data_url(photos["astronaut"], "JPEG"),
                            "last_image_url": data_url(photos["astronaut"]),
                            "resolution": "720p", "duration": 4, "generate_audio": False}
    body.update(overrides)
    return body


def _scrape(api: Api, **headers: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = api.client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text)
            for s in family.samples}


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
           **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_after_a_known_set_of_jobs(make_api: Callable[..., Api],
                                           photos: dict[str, np.ndarray]) -> None:
    # its worker wakes for its own submissions only (no polling): the other process's job stays
    api = make_api(concurrency=1, keyframe_credits_per_second=0.5, poll_seconds=3600)
    done = [api.wait_finished(api.post(_body(photos)).json()["id"]) for _ in range(2)]
    assert [d["status"] for d in done] == ["completed", "completed"]
    # a URL the worker may not fetch (loopback): the job ends as ImageFetchError
    failed = api.wait_finished(api.post(_body(
        photos, image_url="http://127.0.0.1:9/first.png")).json()["id"])
    assert failed["error"]["name"] == "ImageFetchError"
    queued = make_api(concurrency=0)  # a second API process on the same store
    waiting = queued.post(_body(photos)).json()["id"]
    samples = _scrape(api)
    completed = _value(samples, "inbetween_generations_total", model=MODEL, engine=MODEL,
                       provider="local", status="completed")
    assert completed == 2
    errors = _value(samples, "inbetween_generations_total", model=MODEL, engine="",
                    provider="local", status="error")
    assert errors == 1
    assert _value(samples, "inbetween_generation_duration_seconds_count", engine=MODEL) == 2
    assert _value(samples, "inbetween_generation_duration_seconds_count", engine="") == 1
    assert _value(samples, "inbetween_generation_duration_seconds_bucket", engine=MODEL,
                  le="+Inf") == 2
    assert _value(samples, "inbetween_generation_duration_seconds_sum", engine=MODEL) > 0
    for stage in ("queue", "fetch", "render", "encode", "store"):
        assert _value(samples, "inbetween_stage_duration_seconds_count", stage=stage) >= 2, stage
    assert _value(samples, "inbetween_spend_usd_total", provider="local", model=MODEL) == 4.0
    assert _value(samples, "inbetween_queue_depth") == 1  # the job nobody runs
    # HTTP requests by route template (this process's), never a raw /files/{token} path
    assert _value(samples, "inbetween_http_requests_total", method="POST",
                  route="/v2/video/generations", status="200") >= 2
    video = done[0]["video"]["url"].removeprefix("http://testserver")
    assert api.client.get(video).status_code == 200
    samples = _scrape(api)
    routes = {dict(labels).get("route") for (name, labels) in samples
              if name == "inbetween_http_requests_total"}
    assert _value(samples, "inbetween_http_requests_total", method="GET",
                  route="/files/{token}.mp4", status="200") == 1
    assert not any(r and video.split("/")[-1][:10] in r for r in routes)
    # the other process reports the same job figures; DELETE lowers nothing
    assert api.client.delete("/v2/video/generations", params={"generation_id": done[0]["id"]},
                             headers=api.auth).status_code == 200
    other = _scrape(queued)
    for key, value in samples.items():
        if key[0].startswith(("inbetween_generation", "inbetween_stage", "inbetween_spend")):
            assert other.get(key) == value, key
    assert _value(other, "inbetween_generations_total", model=MODEL, engine=MODEL,
                  provider="local", status="completed") == 2
    # the queue depth is the job submitted to the other process, which nobody runs
    assert _value(other, "inbetween_queue_depth") == 1
    still = queued.get(waiting).json()
    assert still["status"] == "queued" and still["meta"]["queue_position"] == 1, still


def test_the_token_and_the_off_switch(make_api: Callable[..., Api]) -> None:
    guarded = make_api(metrics_token="s3cret")
    assert guarded.client.get("/metrics").status_code == 401
    assert guarded.client.get("/metrics", headers={"Authorization": "Bearer nope"}
                              ).status_code == 401
    assert _scrape(guarded, Authorization="Bearer s3cret") is not None
    off = make_api(metrics=False)
    response = off.client.get("/metrics")
    assert response.status_code == 404 and response.json()["error"]["name"] == "NotFound"
