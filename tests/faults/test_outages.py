"""The database and the broker go away and come back while generations are queued and
running: the API keeps answering (503 with Retry-After while the store is down, never a 500,
never a hang past 15 s; /healthz says which part is down), running jobs keep rendering, and
when the part returns everything resumes by itself — every accepted generation completes
exactly once, one video each."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import encode
from tests.e2e.conftest import Server, run_cli
from tests.faults.conftest import Postgres, RabbitMQ, Redis, settle
from tests.helpers import kill_group, wait_for
from tests.receiver import Receiver, receiver


def _body(photos: dict[str, np.ndarray]) -> dict[str, Any]:
    import base64

    return {"model": "inbetween/keyframe", "prompt": "p", "resolution": "720p",
            "duration": 4, "generate_audio": False,
            "image_url": base64.b64encode(encode(photos["rocket"], "JPEG")).decode(),
            "last_image_url": base64.b64encode(encode(photos["chelsea"], "JPEG")).decode()}


class Calls:
    """Every answer the API gave, with how long it took."""

    def __init__(self, server: Server, key: str) -> None:
        self.server, self.headers = server, {"Authorization": f"Bearer {key}"}
        self.answers: list[tuple[str, int, float, httpx.Response]] = []

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        started = time.monotonic()
        answer = httpx.request(method, f"{self.server.url}{path}", headers=self.headers,
                               timeout=30, **kwargs)
        self.answers.append((f"{method} {path}", answer.status_code,
                             time.monotonic() - started, answer))
        return answer

    def submit(self, body: dict[str, Any]) -> httpx.Response:
        return self._call("POST", "/v2/video/generations", json=body)

    def get(self, generation_id: str) -> httpx.Response:
        return self._call("GET", "/v2/video/generations",
                          params={"generation_id": generation_id})

    def health(self) -> httpx.Response:
        return self._call("GET", "/healthz")

    def finished(self, ids: list[str]) -> list[dict[str, Any]] | None:
        bodies = []
        for generation_id in ids:
            answer = self.get(generation_id)
            if answer.status_code != 200:
                return None
            body = answer.json()
            if body["status"] not in ("completed", "error"):
                return None
            bodies.append(body)
        return bodies

    def check_no_other_5xx(self) -> None:
        for what, status, seconds, answer in self.answers:
            assert status < 500 or status == 503, (what, status, answer.text)
            assert seconds < 15, (what, seconds)
            if status == 503:
                assert answer.headers.get("Retry-After"), what
                if what != "GET /healthz":
                    assert answer.json()["error"]["name"] == "InfrastructureError"


def _videos(data_dir: Path) -> list[str]:
    return sorted(p.name for p in (data_dir / "files").glob("*.mp4"))


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as found:
        yield found


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        kill_group(process)


def test_postgresql_stops_while_jobs_run_and_comes_back(
    server: Server, postgres_server: Postgres, photos: dict[str, np.ndarray],
) -> None:
    env = {"INBETWEEN_DATABASE_URL": postgres_server.url, "INBETWEEN_LEASE_SECONDS": "3"}
    created = run_cli("keys", "create", "--name", "f", "--data-dir", str(server.data_dir),
                      env=env)
    assert created.returncode == 0, created.stderr
    calls = Calls(server, created.stdout.strip().splitlines()[-1])
    server.start(concurrency=1, **env)
    ids = [calls.submit(_body(photos)).json()["id"] for _ in range(3)]
    wait_for(lambda: calls.get(ids[0]).json()["status"] == "generating", 60,
             "the first job to run")
    postgres_server.stop()
    down = calls.health()
    assert down.status_code == 503 and down.json()["status"] == "degraded"
    assert down.json()["store"] == "down" and down.json()["storage"] == "ok"
    assert calls.submit(_body(photos)).status_code == 503
    assert calls.get(ids[1]).status_code == 503
    settle(6)  # the outage lasts while the first job renders
    postgres_server.start()
    wait_for(lambda: calls.health().status_code == 200, 30, "the store to be back")
    bodies = wait_for(lambda: calls.finished(ids), 180, "every job to finish")
    assert [b["status"] for b in bodies] == ["completed"] * 3, bodies
    tokens = sorted(b["video"]["url"].rsplit("/", 1)[1] for b in bodies)
    assert _videos(server.data_dir) == tokens  # one video each, nothing twice
    calls.check_no_other_5xx()


def test_a_locked_sqlite_database_answers_503_in_time(
    server: Server, key: str, photos: dict[str, np.ndarray],
) -> None:
    server.start(concurrency=1)
    calls = Calls(server, key)
    first = calls.submit(_body(photos)).json()["id"]
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        db = sqlite3.connect(server.data_dir / "inbetween.db", timeout=30,
                             isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        locked.set()
        release.wait(30)
        db.execute("COMMIT")
        db.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    assert locked.wait(30)
    try:
        answer = calls.get(first)  # waits the store's 10 s, then 503 (not a hang)
        assert answer.status_code == 503, answer.text
        assert calls.health().json()["store"] == "down"
    finally:
        release.set()
        holder.join()
    later = calls.submit(_body(photos))
    assert later.status_code == 200
    bodies = wait_for(lambda: calls.finished([first, later.json()["id"]]), 120, "both jobs")
    assert [b["status"] for b in bodies] == ["completed", "completed"]
    assert len(_videos(server.data_dir)) == 2
    calls.check_no_other_5xx()


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_the_broker_is_killed_and_restarted_empty(
    broker: str, server: Server, photos: dict[str, np.ndarray],
    started: list[subprocess.Popen[bytes]], tmp_path: Path, request: pytest.FixtureRequest,
) -> None:
    broker_server: Redis | RabbitMQ = request.getfixturevalue(f"{broker}_server")
    hook = request.getfixturevalue("hook")
    env = {"INBETWEEN_BROKER_URL": broker_server.url, "INBETWEEN_LEASE_SECONDS": "3",
           "INBETWEEN_REQUEUE_AFTER_SECONDS": "3", "INBETWEEN_DATA_DIR": str(server.data_dir),
           "INBETWEEN_KEYFRAME_CREDITS_PER_SECOND": "1", "INBETWEEN_FETCH_ALLOW": "127.0.0.0/8",
           "INBETWEEN_WEBHOOK_POLL_SECONDS": "0.1"}
    body = {**_body(photos), "webhook_url": hook.url,
            "webhook_events": ["started", "completed", "error"]}
    created = run_cli("keys", "create", "--name", "f", env=env)
    assert created.returncode == 0, created.stderr
    calls = Calls(server, created.stdout.strip().splitlines()[-1])
    with (tmp_path / "worker.log").open("wb") as log:  # the child keeps its own fd
        started.append(subprocess.Popen(
            [sys.executable, "-m", "inbetween", "worker", "--concurrency", "1"],
            env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True))
    server.start(concurrency=0, **env)
    ids = [calls.submit(body).json()["id"] for _ in range(3)]
    wait_for(lambda: calls.get(ids[0]).json()["status"] == "generating", 60,
             "a worker to take a job")
    broker_server.kill()  # queued messages are gone with it
    during = [calls.submit(body) for _ in range(2)]  # accepted, stored, not lost
    assert [a.status_code for a in during] == [200, 200]
    ids += [a.json()["id"] for a in during]
    health = calls.health()
    assert health.status_code == 503 and health.json()["broker"] == "down"
    settle(6)
    broker_server.start()  # empty: the reaper re-sends from the store
    bodies = wait_for(lambda: calls.finished(ids), 180, "every job to finish")
    assert [b["status"] for b in bodies] == ["completed"] * 5, bodies
    tokens = sorted(b["video"]["url"].rsplit("/", 1)[1] for b in bodies)
    assert _videos(server.data_dir) == tokens
    today = time.strftime("%Y-%m-%d", time.gmtime())
    usage = httpx.get(f"{server.url}/v2/usage", params={"from": today, "to": today},
                      headers=calls.headers, timeout=10).json()["total"]
    assert (usage["generations"], usage["cost_usd"]) == (5, 20.0)  # one charge each
    wait_for(lambda: len(hook.hits) >= 10, 60, "the webhooks")
    sent = {(h.json["data"]["id"], h.json["type"]) for h in hook.hits}
    assert sent == {(i, t) for i in ids for t in ("generation.started",
                                                  "generation.completed")}
    assert len({h.id for h in hook.hits}) == 10  # one message each, whatever the re-runs
    calls.check_no_other_5xx()
