"""Webhooks: signed POSTs verified with the independent `standardwebhooks` library, the
events a client asks for (started once, progress at most once a second, completed, error),
retries with the same webhook-id after failures and time-outs, 410 stopping, retries used
up then a manual retry, the outbound policy, secret rotation, and isolation between keys."""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.conftest import data_url
from tests.helpers import wait_for
from tests.integration.conftest import Api
from tests.receiver import receiver

FAST = {"fetch_allow": "127.0.0.0/8", "webhook_retry_seconds": "0.3,0.3",
        "webhook_poll_seconds": 0.05, "webhook_timeout_seconds": 1.0}


def _body(photos: dict[str, np.ndarray], hook: str, **overrides: object) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "inbetween/keyframe", "prompt": "a slow push in",
                            "image_url": data_url(photos["astronaut"], "JPEG"),
                            "last_image_url": data_url(photos["astronaut"]),
                            "resolution": "720p", "duration": 4, "generate_audio": False,
                            "webhook_url": hook}
    body.update(overrides)
    return body


def _secret(api: Api, key: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {key or api.key}"}
    secret: str = api.client.get("/v2/webhooks/secret", headers=headers).json()["secret"]
    return secret


def _deliveries(api: Api, generation_id: str) -> list[dict[str, Any]]:
    found = api.client.get("/v2/webhooks/deliveries", params={"generation_id": generation_id},
                           headers=api.auth)
    assert found.status_code == 200, found.text
    data: list[dict[str, Any]] = found.json()["data"]
    return data


def _settled(api: Api, generation_id: str, count: int) -> list[dict[str, Any]]:
    """The (finished) generation's deliveries, at least ``count``, once none is pending."""
    def done() -> list[dict[str, Any]] | None:
        rows = _deliveries(api, generation_id)
        return rows if len(rows) >= count and all(r["status"] != "pending" for r in rows) \
            else None

    return wait_for(done, 60, f"{count} deliveries of {generation_id} to settle")


def _verify(secret: str, hit: Any) -> dict[str, Any]:
    verified: dict[str, Any] = Webhook(secret).verify(hit.body, hit.headers)
    return verified


def test_events_are_signed_and_carry_the_get_body(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray],
) -> None:
    api = make_api(concurrency=1, **FAST)
    with receiver() as hook:
        job = api.post(_body(photos, hook.url, webhook_events=[
            "started", "progress", "completed", "error"])).json()["id"]
        done = api.wait_finished(job)
        _settled(api, job, 3)
        secret = _secret(api)
        started, completed = hook.of_type("generation.started"), hook.of_type(
            "generation.completed")
        assert len(started) == 1 and len(completed) == 1
        assert not hook.of_type("generation.error")
        for hit in hook.hits:  # an independent verifier accepts every delivery
            assert _verify(secret, hit)["data"]["id"] == job
            assert hit.headers["content-type"] == "application/json"
        message = completed[0].json
        assert message["data"] == done  # what GET shows, the video's links included
        assert message["data"]["video"]["url"].startswith("http://testserver/files/")
        assert message["timestamp"].endswith("Z")
        assert started[0].json["data"]["status"] == "generating"
        stamps = [h.json["timestamp"] for h in hook.of_type("generation.progress")]
        assert stamps, "a running keyframe job reports progress"
        from datetime import datetime

        times = sorted(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
                       for s in stamps)
        assert all(b - a >= 0.999 for a, b in pairwise(times))
        # a tampered body or another key's secret does not verify
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(completed[0].body + b" ", completed[0].headers)
        other = api.new_key("other")
        with pytest.raises(WebhookVerificationError):
            _verify(_secret(api, other), completed[0])


def test_default_events_are_completed_and_error(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray],
) -> None:
    api = make_api(concurrency=1, **FAST)
    with receiver() as hook:
        ok = api.post(_body(photos, hook.url)).json()["id"]
        bad = api.post(_body(photos, hook.url,
                             image_url="http://127.0.0.1:9/missing.png")).json()["id"]
        for job in (ok, bad):
            api.wait_finished(job)
            _settled(api, job, 1)
        assert [h.json["type"] for h in hook.hits if h.json["data"]["id"] == ok] == [
            "generation.completed"]
        errors = [h.json for h in hook.hits if h.json["data"]["id"] == bad]
        assert [e["type"] for e in errors] == ["generation.error"]
        assert errors[0]["data"]["error"]["name"] == "ImageFetchError"


def test_failures_are_retried_with_the_same_id_until_delivered(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray],
) -> None:
    api = make_api(concurrency=1, **FAST)
    with receiver([500, 1.5]) as hook:  # an error, then no answer within the 1 s allowed
        job = api.post(_body(photos, hook.url)).json()["id"]
        api.wait_finished(job)
        [row] = _settled(api, job, 1)
        assert row["status"] == "delivered" and row["attempts"] == 3
        assert row["last_status_code"] == 200 and row["next_attempt_at"] is None
        assert len(hook.hits) == 3 and len({h.id for h in hook.hits}) == 1
        assert {h.id for h in hook.hits} == {row["id"]}
        secret = _secret(api)
        assert all(_verify(secret, h) for h in hook.hits)  # each attempt signed anew
        metrics = _counter(api, "inbetween_webhook_deliveries")
        assert metrics == {"retry": 2.0, "delivered": 1.0}


def test_410_stops_and_retries_used_up_fail_until_retried_by_hand(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray],
) -> None:
    api = make_api(concurrency=1, **FAST)
    with receiver([410]) as gone:
        job = api.post(_body(photos, gone.url)).json()["id"]
        api.wait_finished(job)
        [row] = _settled(api, job, 1)
        assert (row["status"], row["attempts"], row["last_status_code"]) == ("failed", 1, 410)
        assert len(gone.hits) == 1
    with receiver([503, 503, 503]) as down:
        job = api.post(_body(photos, down.url)).json()["id"]
        api.wait_finished(job)
        [row] = _settled(api, job, 1)
        assert (row["status"], row["attempts"]) == ("failed", 3)  # 1 + two retries
        assert row["last_error"] == "HTTP 503" and len(down.hits) == 3
        again = api.client.post(f"/v2/webhooks/deliveries/{row['id']}/retry", headers=api.auth)
        assert again.status_code == 200 and again.json()["status"] == "pending"
        wait_for(lambda: _deliveries(api, job)[0]["status"] == "delivered", 30, "the retry")
        assert len(down.hits) == 4 and {h.id for h in down.hits} == {row["id"]}


def test_bad_webhook_fields_answer_400_naming_the_field(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray],
) -> None:
    api = make_api()  # default policy: loopback and private addresses are refused
    cases = [
        ({"webhook_url": "ftp://example.com/x"}, "webhook_url"),
        ({"webhook_url": "http://127.0.0.1:9/hook"}, "webhook_url"),
        ({"webhook_url": "http://169.254.169.254/latest"}, "webhook_url"),
        ({"webhook_url": "http://10.1.2.3/hook"}, "webhook_url"),
        ({"webhook_url": "http://a..b/hook"}, "webhook_url"),  # a name that cannot resolve
        ({"webhook_url": "https://example.com/h", "webhook_events": ["finished"]},
         "webhook_events"),
        ({"webhook_url": "https://example.com/h", "webhook_events": []}, "webhook_events"),
        ({"webhook_events": ["completed"]}, "webhook_events"),
    ]
    for overrides, field in cases:
        body = _body(photos, "https://example.com/h")
        body.pop("webhook_url")
        answer = api.post({**body, **overrides})
        assert answer.status_code == 400, (overrides, answer.text)
        error = answer.json()["error"]
        assert error["field"] == field, (overrides, error)
    refused = api.post({**_body(photos, "x"), "webhook_url": "http://127.0.0.1:9/hook"})
    assert "INBETWEEN_FETCH_ALLOW" in refused.json()["error"]["message"]
    unknown = api.post({**_body(photos, "x"), "webhook_url": "https://example.com/h",
                        "webhook_events": ["finished"]}).json()["error"]
    assert unknown["allowed"] == ["started", "progress", "completed", "error"]


def test_rotation_signs_with_both_secrets_for_a_while(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray],
) -> None:
    api = make_api(concurrency=1, **FAST)
    first = _secret(api)
    assert first.startswith("whsec_") and _secret(api) == first
    rotated = api.client.post("/v2/webhooks/secret/rotate", headers=api.auth).json()
    assert rotated["secret"] != first and rotated["previous_valid_until"].endswith("Z")
    assert _secret(api) == rotated["secret"]
    with receiver() as hook:
        job = api.post(_body(photos, hook.url)).json()["id"]
        api.wait_finished(job)
        _settled(api, job, 1)
        [hit] = hook.hits
        assert len(hit.headers["webhook-signature"].split(" ")) == 2
        assert _verify(first, hit) and _verify(rotated["secret"], hit)
    api_no_overlap = make_api(concurrency=1, webhook_secret_overlap_hours=0, **FAST)
    old = _secret(api_no_overlap)
    api_no_overlap.client.post("/v2/webhooks/secret/rotate", headers=api_no_overlap.auth)
    with receiver() as hook:
        job = api_no_overlap.post(_body(photos, hook.url)).json()["id"]
        api_no_overlap.wait_finished(job)
        _settled(api_no_overlap, job, 1)
        with pytest.raises(WebhookVerificationError):
            _verify(old, hook.hits[0])


def test_another_keys_deliveries_are_not_found(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray],
) -> None:
    api = make_api(concurrency=1, **FAST)
    other = {"Authorization": f"Bearer {api.new_key('other')}"}
    with receiver() as hook:
        job = api.post(_body(photos, hook.url)).json()["id"]
        api.wait_finished(job)
        [row] = _settled(api, job, 1)
    listed = api.client.get("/v2/webhooks/deliveries", params={"generation_id": job},
                            headers=other)
    retried = api.client.post(f"/v2/webhooks/deliveries/{row['id']}/retry", headers=other)
    assert (listed.status_code, retried.status_code) == (404, 404)
    assert listed.json()["error"]["name"] == "NotFound"
    # deleting the generation keeps what was sent
    api.client.delete("/v2/video/generations", params={"generation_id": job},
                      headers=api.auth)
    assert [r["id"] for r in _deliveries(api, job)] == [row["id"]]


def _counter(api: Api, name: str) -> dict[str, float]:
    text = api.client.get("/metrics").text
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name == name:
            for sample in family.samples:
                if sample.name == f"{name}_total":
                    found[sample.labels["result"]] = sample.value
    return found


def test_body_is_compact_json() -> None:
    from inbetween.jobs.models import Generation, GenerationRequest, Status
    from inbetween.webhooks.outbox import Outbox

    job = Generation("g", "k", GenerationRequest("inbetween/keyframe", "p"), 1,
                     status=Status.ERROR, error_name="EngineError", error_message="m",
                     webhook_url="https://example.com/h", webhook_events=("error",),
                     base_url="http://host:8000")
    [message] = Outbox().ended(job, 0.0)
    assert message.body == json.dumps(json.loads(message.body), separators=(",", ":"))
    assert json.loads(message.body)["data"]["error"] == {"name": "EngineError", "message": "m"}
    assert Outbox().ended(job.__class__(**{**job.__dict__, "webhook_events": ("completed",)}),
                          0.0) == []
