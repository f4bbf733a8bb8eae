"""Deadlines (`Cancel-After`): refused when malformed; a running keyframe job stops at its
deadline, a queued one is ended by the reaper; either way `error.name` is
`DeadlineExceeded`, no video, and nothing is charged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from inbetween.api.generations import cancel_after_seconds
from inbetween.errors import InvalidRequest
from tests.conftest import data_url
from tests.integration.conftest import Api


def _body(photos: dict[str, np.ndarray], **overrides: object) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "inbetween/keyframe", "prompt": "a slow push in",
                            "image_url": data_url(photos["astronaut"], "JPEG"),
                            "last_image_url": data_url(photos["astronaut"]),
                            "resolution": "1080p", "duration": 8}
    body.update(overrides)
    return body


def _post(api: Api, body: dict[str, Any], cancel_after: str) -> Any:
    return api.client.post("/v2/video/generations", json=body,
                           headers={**api.auth, "Cancel-After": cancel_after})


@pytest.mark.parametrize(("value", "seconds"), [("90s", 90), ("5m", 300), ("1h30m", 5400),
                                                ("24h", 86400), ("2m5s", 125)])
def test_durations(value: str, seconds: float) -> None:
    assert cancel_after_seconds(value) == seconds


@pytest.mark.parametrize("value", ["", "0s", "25h", "1h30", "90", "5 minutes", "-5s",
                                   "1m1h", "24h1s"])
def test_bad_values_answer_400_naming_the_header(api: Api, photos: dict[str, np.ndarray],
                                                 value: str) -> None:
    with pytest.raises(InvalidRequest):
        cancel_after_seconds(value)
    response = _post(api, _body(photos), value)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["field"] == "Cancel-After" and "1h30m" in error["message"]


def test_a_running_job_stops_at_its_deadline_and_is_not_charged(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray],
) -> None:
    api = make_api(concurrency=1, keyframe_credits_per_second=1.0)
    done = api.wait_finished(_post(api, _body(photos), "1s").json()["id"])
    assert done["status"] == "error" and done["error"]["name"] == "DeadlineExceeded"
    assert "Cancel-After" in done["error"]["message"] and done["video"] is None
    assert done["meta"]["usage"] == {"credits_used": 0, "cost_usd": 0, "seconds": 0}
    # without a deadline the same job completes and is charged
    plain = api.wait_finished(api.post(_body(photos, resolution="720p", duration=4)).json()[
        "id"])
    assert plain["status"] == "completed"
    assert plain["meta"]["usage"] == {"credits_used": 4, "cost_usd": 4, "seconds": 4}
    generous = api.wait_finished(_post(api, _body(photos, resolution="720p", duration=4),
                                       "10m").json()["id"])
    assert generous["status"] == "completed"


def test_a_queued_job_past_its_deadline_is_ended_by_the_reaper(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray],
) -> None:
    api = make_api(concurrency=0, lease_seconds=1.0)  # nothing runs it; reaped every 0.5 s
    job = _post(api, _body(photos), "1s").json()["id"]
    done = api.wait_finished(job, timeout=30)
    assert done["error"]["name"] == "DeadlineExceeded" and "before it started" in done[
        "error"]["message"]
    assert done["meta"]["usage"]["credits_used"] == 0
