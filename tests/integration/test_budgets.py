"""Per-key budgets over HTTP: the worst case is reserved at submit (402 BudgetExceeded with
what is left and when it resets; never overspent by concurrent submissions), refunded by an
error, settled at the charge on delivery; the CLI sets them; the SDK raises its typed error;
the worst case is the route's most expensive link."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from inbetween.client import AsyncClient, BudgetExceededError
from inbetween.jobs.models import GenerationRequest
from inbetween.settings import Settings
from inbetween.store import open_store
from inbetween.upstream.prices import worst_case_usd
from inbetween.upstream.providers import build_providers
from tests.helpers import wait_for
from tests.integration.conftest import Api, keyframe_body


def _capped(api: Api, usd: float, period: str = "month") -> str:
    key = api.new_key("capped")
    store = open_store(api.settings)
    assert store.set_budget("capped", usd, period) == 1
    store.engine.dispose()
    return key


def test_worst_case_is_reserved_and_concurrent_submissions_never_overspend(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray],
) -> None:
    api = make_api(keyframe_credits_per_second=0.5)  # $2 per 4 s clip; nothing runs
    key = _capped(api, 7.0, "day")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: api.post(keyframe_body(photos), key=key), range(10)))
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] * 3 + [402] * 7, codes
    error = next(a for a in answers if a.status_code == 402).json()["error"]
    assert error["name"] == "BudgetExceeded"
    assert "daily budget is $7.00; $1.00 is left" in error["message"]
    assert "resets at" in error["message"] and "up to $2.00" in error["message"]
    assert api.post(keyframe_body(photos)).status_code == 200  # another key has no budget
    assert "402" in api.client.get("/openapi.json").json()["paths"][
        "/v2/video/generations"]["post"]["responses"]


def test_errors_refund_and_deliveries_settle_at_the_charge(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray],
) -> None:
    api = make_api(keyframe_credits_per_second=0.5)  # accepts; a second app runs them
    key = _capped(api, 4.0)
    failed = api.post(keyframe_body(photos, image_url="http://127.0.0.1:9/x.png"), key=key).json()
    assert api.post(keyframe_body(photos), key=key).status_code == 200  # $4 reserved now
    assert api.post(keyframe_body(photos), key=key).status_code == 402
    make_api(concurrency=1, keyframe_credits_per_second=0.5)  # the same store, with a worker

    def all_done() -> list[dict[str, Any]] | None:
        listed = api.client.get("/v2/video/generations/list",
                                headers={"Authorization": f"Bearer {key}"}).json()["data"]
        return listed if all(g["status"] in ("completed", "error") for g in listed) else None

    ended = {g["id"]: g["status"] for g in wait_for(all_done, 120, "both jobs to end")}
    assert sorted(ended.values()) == ["completed", "error"] and ended[failed["id"]] == "error"
    # $2 charged; the error cost nothing: $2 left for one more clip, not two
    assert api.post(keyframe_body(photos), key=key).status_code == 200
    assert api.post(keyframe_body(photos), key=key).status_code == 402
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    usage = api.client.get("/v2/usage", params={"from": today, "to": today},
                           headers={"Authorization": f"Bearer {key}"}).json()
    assert usage["total"] == {"generations": 1, "seconds": 4.0, "cost_usd": 2.0}


def test_the_sdk_raises_its_typed_error(make_api: Callable[..., Api],
                                        photos: dict[str, np.ndarray]) -> None:
    api = make_api(keyframe_credits_per_second=1.0)
    key = _capped(api, 1.0, "total")
    transport = httpx.ASGITransport(app=api.client.app)

    async def run() -> None:
        async with AsyncClient("http://testserver", key, transport=transport,
                               max_retries=0) as client:
            with pytest.raises(BudgetExceededError) as caught:
                await client.submit(photos["astronaut"], photos["coffee"], "p",
                                    resolution="720p", duration=4)
            assert caught.value.status == 402 and "does not reset" in caught.value.message

    asyncio.run(run())


def test_worst_case_is_the_most_expensive_link_of_the_route(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, google_api_key="g", fal_key="f",
                        provider_chain="fal,google,local", keyframe_credits_per_second=0.05)
    providers = build_providers(settings)
    silent = GenerationRequest("google/veo-3.1-first-last-image-to-video", "p", duration=8,
                               generate_audio=False)
    # fal without audio $0.20/s, Google always bills audio $0.40/s, local $0.05/s
    assert worst_case_usd(silent, settings, providers) == pytest.approx(3.2)
    only_fal = GenerationRequest("google/veo-3.1-first-last-image-to-video", "p", duration=4,
                                 generate_audio=False, provider="fal")
    assert worst_case_usd(only_fal, settings, providers) == pytest.approx(0.8)
    local = GenerationRequest("inbetween/keyframe", "p", duration=6)
    assert worst_case_usd(local, settings, providers) == pytest.approx(0.3)
    priced = Settings(data_dir=tmp_path, prices='{"local": {"inbetween/keyframe": '
                      '{"audio": 1.0, "no_audio": 0.5}}}')
    assert worst_case_usd(local, priced, {}) == pytest.approx(6.0)
