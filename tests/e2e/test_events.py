"""Live events (SSE) and wait mode on real `inbetween serve` processes over loopback.

In-process ASGI transports buffer streaming bodies, so these run against real servers; the
job runs in another process than the one serving the stream, as on a real deployment.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from inbetween.settings import Settings
from inbetween.store import open_store
from tests.conftest import data_url
from tests.e2e.conftest import Client, Server
from tests.helpers import wait_for

STAGES = {"queued", "fetching", "analysing", "rendering", "encoding", "audio", "storing"}


@dataclass
class Event:
    event: str
    id: str | None
    data: Any


def read_events(lines: Iterator[str]) -> Iterator[Event]:
    """Parse an SSE body (what a browser's EventSource does), skipping comments."""
    name, event_id, data = "message", None, []
    for line in lines:
        if line == "":
            if data:
                yield Event(name, event_id, json.loads("\n".join(data)))
            name, event_id, data = "message", None, []
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "id":
                event_id = value
            elif field == "data":
                data.append(value)


def _body(photos: dict[str, np.ndarray]) -> dict[str, Any]:
    return {"model": "inbetween/keyframe", "prompt": "a slow push in. Rain falls.",
            "image_url": data_url(photos["astronaut"], "JPEG"),
            "last_image_url": data_url(photos["coffee"], "PNG"),
            "resolution": "720p", "duration": 4}


def _stream(server: Server, key: str, generation_id: str, **headers: str) -> Any:
    return httpx.stream("GET", f"{server.url}/v2/video/generations/events",
                        params={"generation_id": generation_id},
                        headers={"Authorization": f"Bearer {key}", **headers},
                        timeout=httpx.Timeout(120, connect=5))


def test_events_follow_a_job_run_by_a_worker_in_another_process(
    server: Server, key: str, photos: dict[str, np.ndarray], tmp_path: Path
) -> None:
    server.start(concurrency=0)  # the API process: accepts and streams, runs nothing
    client = Client(server, key)
    generation_id = client.submit(_body(photos))
    worker = Server(server.data_dir, tmp_path / "worker")
    (tmp_path / "worker").mkdir()
    events: list[Event] = []
    try:
        with _stream(server, key, generation_id) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            stream = read_events(lines)
            first = next(stream)
            assert (first.event, first.data) == ("status", {
                "status": "queued", "stage": "queued", "progress": 0, "queue_position": 1})
            worker.start(concurrency=1)  # a second process on the same store runs the job
            events = [first, *stream]
            assert next(lines, None) is None  # the stream closed after `end`
    finally:
        worker.kill()
    names = [e.event for e in events]
    assert names[0] == "status" and names[-1] == "end" and names.count("end") == 1
    assert set(names) == {"status", "progress", "log", "end"}
    ids = [int(e.id) for e in events if e.id is not None]
    assert len(ids) == len(events) and ids == sorted(ids)
    snapshots = [e.data for e in events if e.event in ("status", "progress")]
    assert all(s["stage"] in STAGES for s in snapshots)
    progress = [s["progress"] for s in snapshots]
    assert progress == sorted(progress) and any(0 < p < 100 for p in progress)
    # a short stage may fall between two reads of the store; the log has every stage
    assert "rendering" in {s["stage"] for s in snapshots}
    logs = [e.data for e in events if e.event == "log"]
    assert all(set(entry) == {"time", "level", "message"} for entry in logs)
    messages = " | ".join(entry["message"] for entry in logs)
    for step in ("fetching and decoding", "matching the two frames", "rendering and encoding",
                 "storing the video", "video stored"):
        assert step in messages, messages
    end = events[-1].data
    assert end["id"] == generation_id and end["status"] == "completed"
    assert end["video"]["url"].startswith(server.url) and end["meta"]["queue_position"] is None
    assert end["meta"]["details"]["worker"]  # run by the worker process, not the API
    # a late subscriber gets the snapshot and the end at once
    with _stream(server, key, generation_id) as late:
        replay = list(read_events(late.iter_lines()))
    assert [e.event for e in replay] == ["status", "end"]
    assert replay[0].data == {"status": "completed", "stage": None, "progress": 100,
                              "queue_position": None}
    assert replay[1].data == client.get(generation_id)


def test_reconnecting_with_last_event_id_skips_the_logs_seen(
    server: Server, key: str, photos: dict[str, np.ndarray]
) -> None:
    server.start(concurrency=0)
    generation_id = Client(server, key).submit(_body(photos))
    # this test process plays a worker on another machine: it leases the job in the store
    store = open_store(Settings(data_dir=server.data_dir))
    try:
        assert store.claim("remote", 300, time.time()) is not None
        for line in ("one", "two", "three"):
            assert store.append_log(generation_id, "remote", "info", line, time.time())
        with _stream(server, key, generation_id) as response:
            stream = read_events(response.iter_lines())
            seen = [next(stream) for _ in range(4)]
        assert [e.event for e in seen] == ["status", "log", "log", "log"]
        assert seen[0].data["status"] == "generating"
        second = seen[2].id
        assert second is not None
        with _stream(server, key, generation_id, **{"Last-Event-ID": second}) as response:
            stream = read_events(response.iter_lines())
            status, third = next(stream), next(stream)
            assert status.event == "status"
            assert (third.event, third.data["message"]) == ("log", "three")
            store.renew(generation_id, "remote", 300, time.time(), progress=50)
            update = next(stream)
            assert update.event == "progress" and update.data["progress"] == 50
    finally:
        store.engine.dispose()


def test_pings_keep_an_idle_stream_open(server: Server, key: str,
                                        photos: dict[str, np.ndarray]) -> None:
    server.start(concurrency=0, INBETWEEN_EVENTS_PING_SECONDS="0.3")
    generation_id = Client(server, key).submit(_body(photos))
    with _stream(server, key, generation_id) as response:
        lines = response.iter_lines()
        assert any(line.startswith(": ping") for line in lines)


def test_stream_errors_and_the_per_key_cap(server: Server, key: str,
                                           photos: dict[str, np.ndarray]) -> None:
    server.start(concurrency=0, INBETWEEN_MAX_EVENT_STREAMS_PER_KEY="2")
    url = f"{server.url}/v2/video/generations/events"
    auth = {"Authorization": f"Bearer {key}"}
    missing = httpx.get(url, params={"generation_id": "nope"}, headers=auth, timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["name"] == "NotFound"
    assert httpx.get(url, params={"generation_id": "x"}, timeout=10).status_code == 401
    assert httpx.get(url, headers=auth, timeout=10).json()["error"]["field"] == "generation_id"
    generation_id = Client(server, key).submit(_body(photos))
    with _stream(server, key, generation_id) as one, _stream(server, key, generation_id) as two:
        assert one.status_code == two.status_code == 200
        third = httpx.get(url, params={"generation_id": generation_id}, headers=auth, timeout=10)
        assert third.status_code == 429 and third.headers["Retry-After"]
        assert "INBETWEEN_MAX_EVENT_STREAMS_PER_KEY" in third.json()["error"]["message"]

    def reopened() -> bool:
        with _stream(server, key, generation_id) as again:
            return again.status_code == 200

    wait_for(reopened, 30, "a closed stream's slot to be given back")


def test_a_client_leaving_wait_mode_does_not_cancel(server: Server, key: str,
                                                    photos: dict[str, np.ndarray]) -> None:
    server.start(concurrency=1)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.url}/v2/video/generations", json=_body(photos),
                   headers={"Authorization": f"Bearer {key}", "Prefer": "wait=60"},
                   timeout=httpx.Timeout(0.5, connect=5))
    client = Client(server, key)

    def listed() -> str | None:
        page = httpx.get(f"{server.url}/v2/video/generations/list", headers=client.headers,
                         timeout=10).json()
        return page["data"][0]["id"] if page["data"] else None

    generation_id = wait_for(listed, 30, "the generation to be listed")
    assert client.wait(generation_id)["status"] == "completed"
