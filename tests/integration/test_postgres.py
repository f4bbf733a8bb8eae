"""The whole service on PostgreSQL: the same code, selected by INBETWEEN_DATABASE_URL."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tests.conftest import data_url
from tests.integration.conftest import Api


def test_a_generation_end_to_end_on_postgresql(
    make_api: Callable[..., Api], postgres_url: str, photos: dict[str, np.ndarray]
) -> None:
    api = make_api(concurrency=1, database_url=postgres_url)
    body = {"model": "inbetween/keyframe", "prompt": "p", "resolution": "720p", "duration": 4,
            "image_url": data_url(photos["rocket"]), "last_image_url": data_url(photos["chelsea"])}
    generation_id = api.post(body).json()["id"]
    result = api.wait_finished(generation_id)
    assert result["status"] == "completed" and result["progress"] == 100
    assert api.client.get(result["video"]["url"].removeprefix("http://testserver")).status_code \
        == 200
    other = api.new_key("other")
    assert api.get(generation_id, key=other).status_code == 404
    assert api.client.delete("/v2/video/generations", params={"generation_id": generation_id},
                             headers=api.auth).status_code == 200
    assert api.get(generation_id).status_code == 404
