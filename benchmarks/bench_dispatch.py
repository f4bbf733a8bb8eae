"""Dispatch latency and throughput: the in-process pool versus Celery on Redis and RabbitMQ.

Everything runs as real processes on this machine against PostgreSQL: `inbetween serve`
(with its pool, or with --concurrency 0 and a broker) and `inbetween worker` processes.

1. Latency: one job at a time (4 s, 720p); the time from the POST's answer to the first
   GET that shows `generating` (polled every 5 ms, so it includes up to 5 ms of polling).
2. Throughput: 12 jobs submitted at once; jobs per minute until all are done, with 1 and 2
   Celery workers (Redis).

    .venv/bin/python benchmarks/bench_dispatch.py [--samples 15]
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import httpx
import numpy as np
from PIL import Image

POSTGRES = os.environ.get("INBETWEEN_TEST_POSTGRES_URL",
                          "postgresql+psycopg://root@127.0.0.1:5432/test")
BROKERS = {"redis": "redis://127.0.0.1:6379/14", "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//"}


def _jpeg(seed: int) -> str:
    from skimage import data

    image = data.astronaut() if seed % 2 else data.rocket()
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="JPEG")
    return base64.b64encode(buffer.getvalue()).decode()


def _reset_database() -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(POSTGRES)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


@contextmanager
def topology(broker: str | None, workers: int) -> Iterator[tuple[str, str]]:
    _reset_database()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "INBETWEEN_DATA_DIR": f"{tmp}/data",
               "INBETWEEN_DATABASE_URL": POSTGRES, "INBETWEEN_LOG_LEVEL": "WARNING",
               "INBETWEEN_RATE_POLL_PER_SECOND": "100000", "INBETWEEN_POLL_SECONDS": "1"}
        if broker:
            env["INBETWEEN_BROKER_URL"] = BROKERS[broker]
            from kombu import Connection

            with Connection(BROKERS[broker]) as connection, suppress(Exception):
                connection.default_channel.queue_purge("inbetween")  # none yet: fine
        key = subprocess.run([sys.executable, "-m", "inbetween", "keys", "create", "--name",
                              "bench"], env=env, capture_output=True, text=True,
                             check=True).stdout.strip().splitlines()[-1]
        port = 18000 + os.getpid() % 1000
        processes = [subprocess.Popen(
            [sys.executable, "-m", "inbetween", "serve", "--port", str(port), "--concurrency",
             "0" if broker else "1"], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)]
        for _ in range(workers if broker else 0):
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "inbetween", "worker", "--concurrency", "1"], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            yield base, key
        finally:
            for process in processes:
                os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                process.wait(timeout=120)


def _body(seed: int) -> dict[str, object]:
    return {"model": "inbetween/keyframe", "prompt": "bench", "resolution": "720p",
            "duration": 4, "generate_audio": False, "image_url": _jpeg(seed),
            "last_image_url": _jpeg(seed + 1)}


def latency(base: str, key: str, samples: int) -> list[float]:
    headers = {"Authorization": f"Bearer {key}"}
    out = []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for i in range(samples + 1):  # the first warms the worker up, and is not counted
            generation_id = client.post("/v2/video/generations", json=_body(i)).json()["id"]
            submitted = time.perf_counter()
            started = None
            while True:
                status = client.get("/v2/video/generations",
                                    params={"generation_id": generation_id}).json()["status"]
                if started is None and status != "queued":
                    started = time.perf_counter()
                if status in ("completed", "error"):
                    break
                time.sleep(0.005)
            if i:
                out.append(started - submitted)  # type: ignore[operator]
    return out


def throughput(base: str, key: str, jobs: int = 12) -> float:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        started = time.perf_counter()
        ids = [client.post("/v2/video/generations", json=_body(i)).json()["id"]
               for i in range(jobs)]
        pending = set(ids)
        while pending:
            for generation_id in list(pending):
                body = client.get("/v2/video/generations",
                                  params={"generation_id": generation_id}).json()
                if body["status"] in ("completed", "error"):
                    pending.discard(generation_id)
            time.sleep(0.05)
        return jobs / (time.perf_counter() - started) * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; PostgreSQL; 4 s 720p clips without audio")
    for mode in (None, "redis", "rabbitmq"):
        with topology(mode, workers=1) as (base, key):
            values = sorted(latency(base, key, args.samples))
            p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
            p50 = statistics.median(values) * 1000
            print(f"submit→start  {mode or 'in-process':<11} p50 {p50:6.1f} ms"
                  f"  p99 {p99 * 1000:6.1f} ms  (n={len(values)})")
    for workers in (1, 2):
        with topology("redis", workers=workers) as (base, key):
            print(f"throughput    celery/redis {workers} worker(s): "
                  f"{throughput(base, key):5.1f} jobs/min")


if __name__ == "__main__":
    main()
