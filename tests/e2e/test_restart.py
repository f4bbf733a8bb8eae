"""Jobs survive restarts and crashes; a crashed worker's job completes exactly once."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np

from tests.conftest import encode
from tests.e2e.conftest import Client, Server
from tests.helpers import wait_for


def _body(photos: dict[str, np.ndarray], **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "model": "inbetween/keyframe",
        "prompt": "a cat becomes a rocket",
        "image_url": base64.b64encode(encode(photos["chelsea"], "JPEG")).decode(),
        "last_image_url": base64.b64encode(encode(photos["rocket"], "JPEG")).decode(),
        "resolution": "720p",
        "duration": 4,
    }
    body.update(overrides)
    return body


def test_queued_job_survives_a_restart(server: Server, key: str,
                                       photos: dict[str, np.ndarray]) -> None:
    server.start(concurrency=0)  # accepts and stores only
    client = Client(server, key)
    generation_id = client.submit(_body(photos))
    assert client.get(generation_id)["status"] == "queued"
    server.stop()
    server.start(concurrency=1)
    body = client.wait(generation_id)
    assert body["status"] == "completed", body


def test_killed_worker_job_completes_once_after_lease_expiry(
    server: Server, key: str, photos: dict[str, np.ndarray]
) -> None:
    env = {"INBETWEEN_LEASE_SECONDS": "2"}
    server.start(concurrency=1, **env)
    client = Client(server, key)
    generation_id = client.submit(_body(photos, resolution="1080p", duration=8))
    wait_for(lambda: client.get(generation_id)["progress"] >= 20, 120,
             "the job to be generating")
    assert client.get(generation_id)["status"] == "generating"
    server.kill()
    partials = list((server.data_dir / "tmp").glob(f"{generation_id}.*.part.mp4"))
    assert len(partials) == 1  # the crash left a half-written file behind
    server.start(concurrency=1, **env)
    body = client.wait(generation_id)
    assert body["status"] == "completed", body
    files = sorted(f.name for f in Path(server.data_dir / "files").iterdir())
    token = body["video"]["url"].rsplit("/", 1)[1].removesuffix(".mp4")
    assert files == [f"{token}.jpg", f"{token}.mp4", f"{token}.webp"]  # one video, once
    assert list((server.data_dir / "tmp").iterdir()) == []  # the partial was cleaned up
