"""A real `inbetween serve` process on loopback, and the CLI run as a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import free_port, wait_for


def run_cli(*args: str, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `inbetween ARGS` (as `python -m inbetween`) and capture its output."""
    return subprocess.run([sys.executable, "-m", "inbetween", *args], capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "200", **(env or {})},
                          timeout=timeout,
                          check=False)


class Server:
    """Starts, stops and kills `inbetween serve` on a data dir that outlives each process."""

    def __init__(self, data_dir: Path, log_dir: Path) -> None:
        self.data_dir, self.log_dir = data_dir, log_dir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / f"serve-{self.starts}.out"

    def start(self, concurrency: int = 1, **env: str) -> None:
        assert self.process is None
        self.starts += 1
        environment = {**os.environ, "INBETWEEN_LOG_LEVEL": "INFO", **env}
        with self.stdout_path.open("wb") as out, \
                (self.log_dir / f"serve-{self.starts}.err").open("wb") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "inbetween", "serve", "--port", str(self.port),
                 "--data-dir", str(self.data_dir), "--concurrency", str(concurrency)],
                stdout=out, stderr=err, env=environment,
            )
        wait_for(self._ready, 60, "the server to answer /healthz")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            log = (self.log_dir / f"serve-{self.starts}.err").read_text()
            raise AssertionError(f"server exited with {self.process.returncode}:\n{log}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self) -> None:
        """SIGTERM, as a service manager would; running jobs go back to the queue."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as in a crash or an OOM kill."""
        self._end(signal.SIGKILL)

    def _end(self, sig: int) -> None:
        if self.process is not None:
            self.process.send_signal(sig)
            self.process.wait(timeout=60)
            self.process = None


class Client:
    """The hosted API's client loop, written with httpx, as a user would."""

    def __init__(self, server: Server, key: str) -> None:
        self.server = server
        self.headers = {"Authorization": f"Bearer {key}"}

    def submit(self, body: dict[str, Any]) -> str:
        response = httpx.post(f"{self.server.url}/v2/video/generations", json=body,
                              headers=self.headers, timeout=60)
        assert response.status_code == 200, response.text
        generation_id: str = response.json()["id"]
        return generation_id

    def get(self, generation_id: str) -> dict[str, Any]:
        response = httpx.get(f"{self.server.url}/v2/video/generations",
                             params={"generation_id": generation_id}, headers=self.headers,
                             timeout=30)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait(self, generation_id: str, timeout: float = 240) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            body = self.get(generation_id)
            assert body["status"] in ("queued", "generating", "completed", "error")
            return body if body["status"] in ("completed", "error") else None

        return wait_for(finished, timeout, f"generation {generation_id}", interval=0.2)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path / "data", tmp_path)
    yield s
    s.kill()


@pytest.fixture
def key(server: Server) -> str:
    """A key made with the CLI before the server has ever run."""
    result = run_cli("keys", "create", "--name", "e2e", "--data-dir", str(server.data_dir))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]
