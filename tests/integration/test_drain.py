"""Shutting down (SIGTERM → lifespan shutdown) drains running jobs or gives them back."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from fastapi.testclient import TestClient

from inbetween.api import create_app
from inbetween.jobs.models import Status
from inbetween.keys import create_key
from inbetween.settings import Settings
from inbetween.store import open_store
from tests.conftest import data_url
from tests.helpers import wait_for


@pytest.mark.parametrize(("drain", "expected"), [(120.0, Status.COMPLETED),
                                                 (0.0, Status.QUEUED)])
def test_shutdown_drains_within_the_grace_period(
    make_settings: Callable[..., Settings], photos: dict[str, np.ndarray], drain: float,
    expected: Status,
) -> None:
    settings = make_settings(concurrency=1, drain_seconds=drain)
    store = open_store(settings)
    key, _ = create_key(store, "t")
    client = TestClient(create_app(settings))
    client.__enter__()
    body = {"model": "inbetween/keyframe", "prompt": "p", "resolution": "1080p",
            "image_url": data_url(photos["chelsea"]), "last_image_url": data_url(photos["chelsea"])}
    headers = {"Authorization": f"Bearer {key}"}
    generation_id = client.post("/v2/video/generations", json=body, headers=headers).json()["id"]
    wait_for(lambda: client.get("/v2/video/generations", params={"generation_id": generation_id},
                                headers=headers).json()["progress"] >= 20, 60, "rendering")
    client.__exit__(None, None, None)  # the lifespan shuts down, as on SIGTERM
    job = store.get(generation_id)
    assert job is not None and job.status is expected
    if expected is Status.QUEUED:
        assert job.lease_owner is None  # given back at once, not left to the reaper
    store.engine.dispose()
