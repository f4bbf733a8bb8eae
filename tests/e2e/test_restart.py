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


def test_a_webhook_survives_a_killed_server_with_the_same_id(
    server: Server, key: str, photos: dict[str, np.ndarray]
) -> None:
    """The receiver fails the first attempt; the server is SIGKILLed before the retry is
    due and started again: the retry comes from the new process, same webhook-id, verified
    with the key's secret by the standardwebhooks library."""
    import httpx
    from standardwebhooks.webhooks import Webhook

    from tests.receiver import receiver

    env = {"INBETWEEN_FETCH_ALLOW": "127.0.0.0/8", "INBETWEEN_WEBHOOK_RETRY_SECONDS": "4",
           "INBETWEEN_WEBHOOK_POLL_SECONDS": "0.1"}
    with receiver([500]) as hook:
        server.start(concurrency=1, **env)
        client = Client(server, key)
        generation_id = client.submit(_body(photos, webhook_url=hook.url))
        assert client.wait(generation_id)["status"] == "completed"
        wait_for(lambda: len(hook.hits) == 1, 30, "the first attempt")

        def failure_recorded() -> bool:  # the 500 is in the store and the retry scheduled (a
            # kill before that leaves the attempt claimed for its whole hold, 90 s)
            listed = httpx.get(f"{server.url}/v2/webhooks/deliveries", params={
                "generation_id": generation_id}, headers=client.headers, timeout=30).json()
            return any(d["last_status_code"] == 500 and d["status"] == "pending"
                       for d in listed["data"])

        wait_for(failure_recorded, 30, "the failed attempt to be recorded")
        server.kill()  # the retry is due 4 s after the first attempt; nobody is left to send
        server.start(concurrency=1, **env)
        wait_for(lambda: len(hook.hits) == 2, 60, "the retry from the restarted server")
        first, second = hook.hits
        assert first.id == second.id and first.json == second.json
        secret = httpx.get(f"{server.url}/v2/webhooks/secret", headers=client.headers,
                           timeout=10).json()["secret"]
        for hit in hook.hits:
            assert Webhook(secret).verify(hit.body, hit.headers)["type"] == \
                "generation.completed"
        rows = httpx.get(f"{server.url}/v2/webhooks/deliveries", headers=client.headers,
                         params={"generation_id": generation_id}, timeout=10).json()["data"]
        assert [(r["status"], r["attempts"]) for r in rows] == [("delivered", 2)]
