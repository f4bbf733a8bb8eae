"""The distributed topology as separate processes: an API, two Celery workers, PostgreSQL and
a broker (Redis, and RabbitMQ) — the same code as the single-process default."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from inbetween.jobs.models import Delivery
from tests.conftest import encode
from tests.e2e.conftest import Client, Server, run_cli
from tests.helpers import kill_group, require_module, wait_for
from tests.receiver import receiver

BROKERS = {"redis": "redis://127.0.0.1:6379/15", "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//"}


@pytest.fixture(params=list(BROKERS))
def broker_url(request: pytest.FixtureRequest) -> str:
    from kombu import Connection

    url = BROKERS[request.param]
    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
            connection.default_channel.queue_purge("inbetween")
    except Exception as e:
        if "NOT_FOUND" in str(e) or "404" in str(e):  # no queue yet: nothing to purge
            return url
        if os.environ.get("INBETWEEN_REQUIRE_SERVICES"):
            raise
        pytest.skip(f"no {request.param} broker at {url} ({type(e).__name__})")
    return url


@pytest.fixture
def s3_env() -> Iterator[dict[str, str]]:
    """An S3-compatible server (moto) on loopback, with a bucket, as every process sees it."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "INBETWEEN_STORAGE_URL": "s3://videos/clips",
           "INBETWEEN_S3_ENDPOINT_URL": f"http://{host}:{port}"}
    boto3.client("s3", endpoint_url=env["INBETWEEN_S3_ENDPOINT_URL"], region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test").create_bucket(
        Bucket="videos")
    yield env
    server.stop()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        kill_group(process)


def _start_workers(count: int, env: dict[str, str], tmp_path: Path,
                   workers: list[subprocess.Popen[bytes]]) -> list[Path]:
    """``count`` `inbetween worker` processes, each in its own process group, logging to a
    file each."""
    logs = []
    for i in range(count):
        path = tmp_path / f"worker-{i}.log"
        with path.open("wb") as log:  # the child keeps its own fd
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "inbetween", "worker", "--concurrency", "1"],
                env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True))
        logs.append(path)
    return logs


def _body(photos: dict[str, np.ndarray], resolution: str, duration: int) -> dict[str, object]:
    return {"model": "inbetween/keyframe", "prompt": "p", "resolution": resolution,
            "duration": duration,
            "image_url": base64.b64encode(encode(photos["rocket"], "JPEG")).decode(),
            "last_image_url": base64.b64encode(encode(photos["chelsea"], "JPEG")).decode()}


def _key(env: dict[str, str]) -> str:
    created = run_cli("keys", "create", "--name", "celery", env=env)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def test_jobs_run_once_each_spread_over_two_workers(
    tmp_path: Path, server: Server, postgres_url: str, broker_url: str, s3_env: dict[str, str],
    workers: list[subprocess.Popen[bytes]], photos: dict[str, np.ndarray],
) -> None:
    env = {"INBETWEEN_DATABASE_URL": postgres_url, "INBETWEEN_BROKER_URL": broker_url,
           "INBETWEEN_DATA_DIR": str(server.data_dir), "INBETWEEN_LEASE_SECONDS": "3",
           "INBETWEEN_FETCH_ALLOW": "127.0.0.0/8", "INBETWEEN_WEBHOOK_POLL_SECONDS": "0.05",
           "INBETWEEN_WEBHOOK_RETRY_SECONDS": ",".join(["0.3"] * 9), **s3_env}
    key = _key(env)
    logs = _start_workers(2, env, tmp_path, workers)
    server.start(concurrency=0, **env)
    client = Client(server, key)
    with receiver([500] * 8) as hook:  # the first attempts fail: retries from any process
        body = {**_body(photos, "720p", 4), "webhook_url": hook.url,
                "webhook_events": ["started", "completed"]}
        ids = [client.submit(body) for _ in range(10)]
        results = [client.wait(generation_id, timeout=240) for generation_id in ids]
        assert [r["status"] for r in results] == ["completed"] * 10, results
        ran_on = {r["meta"]["details"]["worker"] for r in results}
        assert len(ran_on) == 2, ran_on  # both workers took jobs
        from inbetween.settings import Settings
        from inbetween.store import open_store

        store = open_store(Settings(data_dir=server.data_dir, database_url=postgres_url))
        assert [store.get(i).attempts for i in ids] == [1] * 10  # type: ignore[union-attr]

        def settled() -> list[Delivery] | None:
            rows = [d for i in ids for d in store.deliveries(i)]
            return rows if len(rows) == 20 and all(d.status != "pending" for d in rows) \
                else None

        rows = wait_for(settled, 60, "every delivery")
        assert {d.status for d in rows} == {"delivered"}, rows
        store.engine.dispose()
        # one started and one completed message a generation; each attempt sent once, by
        # whichever of the three processes (API, two workers) claimed it
        assert sorted(d.type for d in rows) == ["generation.completed"] * 10 + [
            "generation.started"] * 10
        sent = Counter(hit.id for hit in hook.hits)
        assert sent == {d.id: d.attempts for d in rows}
        assert sum(d.attempts for d in rows) == 20 + 8
    logged = "".join(path.read_text() for path in logs)
    assert all(generation_id in logged for generation_id in ids)  # workers log their jobs
    # the videos are in S3, served through the API's own URL by a redirect
    video = httpx.get(results[0]["video"]["url"], follow_redirects=True, timeout=30)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert not list((server.data_dir / "files").glob("*.mp4"))


def test_a_killed_worker_job_completes_on_the_other(
    tmp_path: Path, server: Server, postgres_url: str, broker_url: str,
    workers: list[subprocess.Popen[bytes]], photos: dict[str, np.ndarray],
) -> None:
    from inbetween.settings import Settings
    from inbetween.store import open_store
    from tests.helpers import wait_for

    env = {"INBETWEEN_DATABASE_URL": postgres_url, "INBETWEEN_BROKER_URL": broker_url,
           "INBETWEEN_DATA_DIR": str(server.data_dir), "INBETWEEN_LEASE_SECONDS": "2"}
    key = _key(env)
    _start_workers(2, env, tmp_path, workers)
    server.start(concurrency=0, **env)
    client = Client(server, key)
    generation_id = client.submit(_body(photos, "1080p", 8))
    wait_for(lambda: client.get(generation_id)["progress"] >= 20, 120, "the job to render")
    store = open_store(Settings(data_dir=server.data_dir, database_url=postgres_url))
    owner = store.get(generation_id).lease_owner  # type: ignore[union-attr]
    assert owner is not None
    victim = next(w for w in workers if os.getpgid(int(owner.rsplit("-", 1)[1])) == w.pid)
    os.killpg(victim.pid, signal.SIGKILL)  # the worker's whole process group
    victim.wait(timeout=30)
    result = client.wait(generation_id, timeout=180)
    assert result["status"] == "completed", result
    assert result["meta"]["details"]["worker"] != owner  # finished by the other worker
    assert store.get(generation_id).attempts == 2  # type: ignore[union-attr]
    store.engine.dispose()
    assert len(list((server.data_dir / "files").glob("*.mp4"))) == 1


def test_delete_reaches_a_job_running_in_a_worker(
    tmp_path: Path, server: Server, postgres_url: str, broker_url: str,
    workers: list[subprocess.Popen[bytes]], photos: dict[str, np.ndarray],
) -> None:
    from tests.helpers import wait_for

    env = {"INBETWEEN_DATABASE_URL": postgres_url, "INBETWEEN_BROKER_URL": broker_url,
           "INBETWEEN_DATA_DIR": str(server.data_dir)}
    key = _key(env)
    (log_path,) = _start_workers(1, env, tmp_path, workers)
    server.start(concurrency=0, **env)
    client = Client(server, key)
    generation_id = client.submit(_body(photos, "1080p", 8))
    wait_for(lambda: client.get(generation_id)["progress"] >= 20, 120, "the job to render")
    deleted = httpx.delete(f"{server.url}/v2/video/generations",
                           params={"generation_id": generation_id}, headers=client.headers)
    assert deleted.status_code == 200 and deleted.json()["status"] == "generating"
    wait_for(lambda: "job.interrupted" in log_path.read_text(), 10, "the worker to stop")
    assert "lease lost" in log_path.read_text()
    wait_for(lambda: not list((server.data_dir / "tmp").glob("*.part.mp4")), 5,
             "the partial file to be removed")
    assert not list((server.data_dir / "files").glob("*.mp4"))
    assert httpx.get(f"{server.url}/v2/video/generations", params={
        "generation_id": generation_id}, headers=client.headers).status_code == 404


def test_each_job_goes_to_a_worker_that_offers_its_engine(
    tmp_path: Path, server: Server, postgres_url: str, broker_url: str,
    workers: list[subprocess.Popen[bytes]], photos: dict[str, np.ndarray],
) -> None:
    require_module("diffusers", "the diffusion extra is not installed "
                   "(pip install '.[diffusion]'; `make test` installs it)")
    from tests.wan_tiny import save_tiny_wan

    model = save_tiny_wan(tmp_path / "tiny-wan")
    env = {"INBETWEEN_DATABASE_URL": postgres_url, "INBETWEEN_BROKER_URL": broker_url,
           "INBETWEEN_DATA_DIR": str(server.data_dir), "INBETWEEN_WAN_MODEL": str(model),
           "INBETWEEN_DIFFUSION_STEPS": "2", "INBETWEEN_DIFFUSION_MAX_AREA": "4096",
           "INBETWEEN_DIFFUSION_MAX_FRAMES": "9"}
    key = _key(env)
    for folder in ("cpu", "gpu"):
        (tmp_path / folder).mkdir()
    (cpu_log,) = _start_workers(1, {**env, "INBETWEEN_WORKER_ENGINES": "keyframe"},
                                tmp_path / "cpu", workers)
    server.start(concurrency=0, **env)
    client = Client(server, key)
    wan = client.submit({**_body(photos, "720p", 4), "model": "inbetween/wan-flf2v"})
    keyframe = client.submit(_body(photos, "720p", 4))
    assert client.wait(keyframe, timeout=240)["status"] == "completed"
    assert client.get(wan)["status"] == "queued"  # no worker offers wan-flf2v yet
    (gpu_log,) = _start_workers(1, {**env, "INBETWEEN_WORKER_ENGINES": "wan-flf2v"},
                                tmp_path / "gpu", workers)
    done = client.wait(wan, timeout=240)
    assert done["status"] == "completed" and done["meta"]["engine"] == "inbetween/wan-flf2v"
    assert wan in gpu_log.read_text() and wan not in cpu_log.read_text()
    assert "inbetween.wan-flf2v" in gpu_log.read_text()  # the queue it consumes
