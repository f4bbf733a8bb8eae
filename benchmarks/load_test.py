"""A bounded load test on loopback: many clients polling, some submitting, for a fixed time,
against a real `inbetween serve` — and the same load tool against a minimal FastAPI app, the
ceiling of the stack (uvicorn + FastAPI + one sync route) on this machine.

    .venv/bin/python benchmarks/load_test.py [--seconds 30] [--pollers 200] [--submitters 20]

The server runs with --concurrency 0 (jobs are stored, not generated: this measures the API),
rate limits raised, on a fresh data dir. Any non-2xx answer counts as an error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

MINIMAL_APP = '''
from fastapi import FastAPI
app = FastAPI()

@app.get("/v2/video/generations")
def poll(generation_id: str) -> dict[str, object]:
    return {"id": generation_id, "status": "queued", "progress": 0, "video": None,
            "error": None, "meta": None}
'''


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serving(args: list[str], ready_path: str, **popen: Any) -> Iterator[str]:
    """Run ``python -m ARGS --port P`` until the block ends; yields its base URL once
    ``ready_path`` answers."""
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", *args, "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **popen)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{base}{ready_path}", process)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=60)


def _wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


async def _load(base: str, key: str, generation_id: str, seconds: float, pollers: int,
                submitters: int) -> dict[str, list[float] | int]:
    latencies: dict[str, list[float]] = {"poll": [], "submit": []}
    errors = {"poll": 0, "submit": 0}
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": "inbetween/keyframe", "prompt": "load test",
            "image_url": "https://example.com/a.jpg", "last_image_url": "https://example.com/b.jpg"}
    limits = httpx.Limits(max_connections=pollers + submitters)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits,
                                 timeout=30) as client:

        async def poll() -> None:
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    response = await client.get("/v2/video/generations",
                                                params={"generation_id": generation_id})
                    ok = 200 <= response.status_code < 300
                except httpx.HTTPError:
                    ok = False
                latencies["poll"].append(time.perf_counter() - started)
                errors["poll"] += not ok

        async def submit() -> None:
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    response = await client.post("/v2/video/generations", json=body)
                    ok = 200 <= response.status_code < 300
                except httpx.HTTPError:
                    ok = False
                latencies["submit"].append(time.perf_counter() - started)
                errors["submit"] += not ok

        await asyncio.gather(*[poll() for _ in range(pollers)],
                             *[submit() for _ in range(submitters)])
    return {"poll": latencies["poll"], "submit": latencies["submit"],
            "poll_errors": errors["poll"], "submit_errors": errors["submit"]}


def _report(name: str, samples: list[float], errors: int, seconds: float) -> float:
    if not samples:
        print(f"{name:<22} no requests")
        return 0.0
    ordered = sorted(samples)
    rate = len(samples) / seconds
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{name:<22} {rate:>8.0f} req/s  p50 {statistics.median(ordered) * 1000:>6.1f} ms  "
          f"p99 {p99 * 1000:>7.1f} ms  errors {errors}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--pollers", type=int, default=200)
    parser.add_argument("--submitters", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "INBETWEEN_DATA_DIR": f"{tmp}/data", "INBETWEEN_LOG_LEVEL": "WARNING",
               "INBETWEEN_RATE_SUBMIT_PER_SECOND": "1000000",
               "INBETWEEN_RATE_POLL_PER_SECOND": "1000000",
               "INBETWEEN_MAX_UNFINISHED_PER_KEY": "100000000"}
        created = subprocess.run([sys.executable, "-m", "inbetween", "keys", "create", "--name",
                                  "load"], env=env, capture_output=True, text=True, check=True)
        key = created.stdout.strip().splitlines()[-1]
        with _serving(["inbetween", "serve", "--concurrency", "0"], "/healthz",
                      env=env) as base:
            first = httpx.post(f"{base}/v2/video/generations", headers={
                "Authorization": f"Bearer {key}"}, json={
                "model": "inbetween/keyframe", "prompt": "p",
                "image_url": "https://example.com/a.jpg",
                "last_image_url": "https://example.com/b.jpg"}).json()["id"]
            result = asyncio.run(_load(base, key, first, args.seconds, args.pollers,
                                       args.submitters))
        print(f"{args.pollers} pollers + {args.submitters} submitters, {args.seconds:g} s, "
              f"{os.cpu_count()} cores, loopback")
        polls = _report("inbetween GET", result["poll"], result["poll_errors"],  # type: ignore[arg-type]
                        args.seconds)
        _report("inbetween POST", result["submit"], result["submit_errors"],  # type: ignore[arg-type]
                args.seconds)
        app_file = Path(tmp) / "minimal_app.py"
        app_file.write_text(MINIMAL_APP)
        with _serving(["uvicorn", "minimal_app:app", "--log-level", "warning"],
                      "/v2/video/generations?generation_id=x", cwd=tmp) as base:
            ceiling = asyncio.run(_load(base, key, "x", args.seconds, args.pollers, 0))
        top = _report("minimal FastAPI GET", ceiling["poll"], ceiling["poll_errors"],  # type: ignore[arg-type]
                      args.seconds)
        if top:
            print(f"inbetween polls at {polls / top:.0%} of the ceiling")


if __name__ == "__main__":
    main()
