"""`GET /v2/usage`: the calling key's spend per UTC day, model and provider, from the ledger
— delivered generations only, kept after DELETE, nothing of another key's; bad dates are a
400 naming the field."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tests.integration.conftest import Api, keyframe_body


def _usage(api: Api, first: str, last: str, key: str | None = None) -> Any:
    return api.client.get("/v2/usage", params={"from": first, "to": last},
                          headers={"Authorization": f"Bearer {key or api.key}"})


def test_usage_counts_delivered_generations_only_and_survives_delete(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray],
) -> None:
    api = make_api(concurrency=1, keyframe_credits_per_second=0.25)
    done = [api.wait_finished(api.post(keyframe_body(photos, duration=d)).json()["id"])
            for d in (4, 8)]
    assert [d["status"] for d in done] == ["completed", "completed"]
    failed = api.wait_finished(api.post(keyframe_body(
        photos, image_url="http://127.0.0.1:9/a.png")).json()["id"])
    assert failed["status"] == "error"  # never charged
    day = datetime.datetime.now(datetime.UTC).date()
    today, month_ago = day.isoformat(), (day - datetime.timedelta(days=30)).isoformat()
    year_ago = [(day - datetime.timedelta(days=n)).isoformat() for n in (730, 400)]
    expected = {"data": [{"date": today, "model": "inbetween/keyframe", "provider": "local",
                          "generations": 2, "seconds": 12.0, "cost_usd": 3.0}],
                "total": {"generations": 2, "seconds": 12.0, "cost_usd": 3.0}}
    report = _usage(api, today, today)
    assert report.status_code == 200 and report.json() == expected
    deleted = api.client.delete("/v2/video/generations",
                                params={"generation_id": done[0]["id"]}, headers=api.auth)
    assert deleted.status_code == 200
    assert _usage(api, month_ago, today).json() == expected  # DELETE keeps the ledger row
    assert _usage(api, *year_ago).json() == {
        "data": [], "total": {"generations": 0, "seconds": 0.0, "cost_usd": 0.0}}
    other = api.new_key()
    assert _usage(api, today, today, key=other).json()["total"]["generations"] == 0


TODAY = datetime.datetime.now(datetime.UTC).date()


def _days_ago(days: int) -> str:
    return (TODAY - datetime.timedelta(days=days)).isoformat()


@pytest.mark.parametrize(("first", "last", "field"), [
    (f"{TODAY.year}-13-01", _days_ago(0), "from"), ("yesterday", _days_ago(0), "from"),
    (_days_ago(1), _days_ago(1)[:-1], "to"), (_days_ago(1), _days_ago(2), "to"),
    (_days_ago(366), _days_ago(0), "to")])
def test_bad_dates_name_the_field(api: Api, first: str, last: str, field: str) -> None:
    response = _usage(api, first, last)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == field


def test_usage_needs_a_key(api: Api) -> None:
    response = api.client.get("/v2/usage", params={"from": _days_ago(0), "to": _days_ago(0)})
    assert response.status_code == 401
