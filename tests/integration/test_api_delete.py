"""DELETE cancels and deletes: the record, the video, and a running job's work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tests.conftest import data_url
from tests.helpers import wait_for
from tests.integration.conftest import Api


def _body(photos: dict[str, np.ndarray], **overrides: object) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "inbetween/keyframe", "prompt": "a pan",
                            "image_url": data_url(photos["chelsea"], "JPEG"),
                            "last_image_url": data_url(photos["chelsea"], "PNG"),
                            "resolution": "720p", "duration": 4}
    body.update(overrides)
    return body


def _delete(api: Api, generation_id: str, key: str | None = None) -> Any:
    return api.client.delete("/v2/video/generations", params={"generation_id": generation_id},
                             headers={"Authorization": f"Bearer {key or api.key}"})


def test_delete_a_queued_generation(api: Api, photos: dict[str, np.ndarray]) -> None:
    generation_id = api.post(_body(photos)).json()["id"]
    other = api.new_key("other")
    assert _delete(api, generation_id, key=other).status_code == 404  # not theirs
    response = _delete(api, generation_id)
    assert response.status_code == 200
    assert response.json()["id"] == generation_id and response.json()["status"] == "queued"
    assert api.get(generation_id).status_code == 404
    assert _delete(api, generation_id).status_code == 404


def test_delete_a_completed_generation_removes_its_video(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray]
) -> None:
    api = make_api(concurrency=1)
    generation_id = api.post(_body(photos)).json()["id"]
    url = api.wait_finished(generation_id)["video"]["url"].removeprefix("http://testserver")
    assert api.client.get(url).status_code == 200
    deleted = _delete(api, generation_id).json()
    assert deleted["status"] == "completed" and deleted["video"]["url"].endswith(url)
    assert api.client.get(url).status_code == 404
    assert list((api.settings.data_dir / "files").iterdir()) == []


def test_delete_stops_a_running_generation(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray]
) -> None:
    api = make_api(concurrency=1)
    generation_id = api.post(_body(photos, resolution="1080p", duration=8)).json()["id"]
    wait_for(lambda: api.get(generation_id).json()["progress"] >= 20, 60, "rendering")
    assert _delete(api, generation_id).json()["status"] == "generating"
    data = api.settings.data_dir
    # the worker notices at its next progress report and cleans up after itself
    wait_for(lambda: not list((data / "tmp").iterdir()), 2, "the partial file to go")
    assert list((data / "files").iterdir()) == []
    assert api.get(generation_id).status_code == 404
    # and it is free for the next job
    next_id = api.post(_body(photos)).json()["id"]
    assert api.wait_finished(next_id)["status"] == "completed"


def test_retention_deletes_old_generations(make_api: Callable[..., Api],
                                           photos: dict[str, np.ndarray]) -> None:
    api = make_api(concurrency=1, retention_days=1 / 86_400, lease_seconds=1.0)  # one second
    generation_id = api.post(_body(photos)).json()["id"]
    api.wait_finished(generation_id)
    wait_for(lambda: api.get(generation_id).status_code == 404, 10, "the cleanup")
    assert list((api.settings.data_dir / "files").iterdir()) == []


def test_delete_is_in_the_schema(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    assert {"200", "404"} <= set(paths["/v2/video/generations"]["delete"]["responses"])
