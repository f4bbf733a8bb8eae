"""Servers of our own for fault injection, on free loopback ports, so they can be killed and
started again without touching the machine's shared services: a Redis that keeps nothing
(`--save '' --appendonly no`: a restart loses what it held), a PostgreSQL cluster made with
initdb in a temporary directory, and moto's S3 server. A missing binary skips the test with
the reason — unless INBETWEEN_REQUIRE_SERVICES is set (CI), where it fails."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import key, server
from tests.helpers import free_port, wait_for
from tests.integration.conftest import make_api

# shared with the other suites: the in-process app, and a real `inbetween serve` with a key
__all__ = ["key", "make_api", "server"]


def _absent(binary: str) -> None:
    if os.environ.get("INBETWEEN_REQUIRE_SERVICES"):
        raise AssertionError(f"{binary} is not installed, and CI needs it")
    pytest.skip(f"{binary} is not installed")


def _need(binary: str) -> str:
    found = shutil.which(binary)
    if found is None:
        _absent(binary)
    assert found is not None
    return found


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root: run them as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class Redis:
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [_need("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self._up, 20, "redis to answer")

    def _up(self) -> bool:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: whatever it held is gone."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_server() -> Iterator[Redis]:
    server = Redis(free_port())
    server.start()
    yield server
    server.kill()


@dataclass
class RabbitMQ:
    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> None:
        """A fresh node (its database folder emptied): a restart after a kill holds
        nothing."""
        shutil.rmtree(self.folder / "mnesia", ignore_errors=True)
        binary = "/usr/lib/rabbitmq/bin/rabbitmq-server"
        if not Path(binary).exists():
            _absent(binary)
        env = {**os.environ, "RABBITMQ_NODENAME": f"inbetween-{self.port}@localhost",
               "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(free_port()),
               "RABBITMQ_MNESIA_BASE": str(self.folder / "mnesia"),
               "RABBITMQ_LOG_BASE": str(self.folder / "log"),
               "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.folder / "plugins"),
               "RABBITMQ_CONFIG_FILE": str(self.folder / "none")}
        with (self.folder / "out.log").open("ab") as out:
            self.process = subprocess.Popen([binary], env=env, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self._up, 60, "rabbitmq to accept connections")

    def _up(self) -> bool:
        from kombu import Connection  # type: ignore[attr-defined]

        try:
            with Connection(self.url, connect_timeout=1) as c:  # type: ignore[no-untyped-call]
                c.ensure_connection(max_retries=1)
            return True
        except Exception:
            return False

    def kill(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
            self.process = None


@pytest.fixture
def rabbitmq_server(tmp_path: Path) -> Iterator[RabbitMQ]:
    server = RabbitMQ(tmp_path / "rabbitmq", free_port())
    server.folder.mkdir()
    server.start()
    yield server
    server.kill()


@dataclass
class Postgres:
    folder: Path
    port: int
    logs: list[Path] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        self.folder.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        subprocess.run(_as_postgres([_need("initdb"), "-D", str(self.folder / "data"), "-A",
                                     "trust", "-U", "postgres", "--no-sync"]),
                       check=True, capture_output=True)

    def start(self) -> None:
        log = self.folder / f"pg-{len(self.logs)}.log"
        self.logs.append(log)
        subprocess.run(_as_postgres([
            _need("pg_ctl"), "-D", str(self.folder / "data"), "-l", str(log), "-w", "-o",
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start"]), check=True, capture_output=True)

    def stop(self) -> None:
        """Immediate shutdown, as a crash or a fail-over looks to its clients."""
        subprocess.run(_as_postgres([_need("pg_ctl"), "-D", str(self.folder / "data"), "-m",
                                     "immediate", "-w", "stop"]),
                       check=False, capture_output=True)


@pytest.fixture
def postgres_server() -> Iterator[Postgres]:
    _need("initdb")
    # not under pytest's tmp_path: as root, those folders are closed to the postgres user
    top = Path(tempfile.mkdtemp(prefix="inbetween-pg-"))
    top.chmod(0o755)
    server = Postgres(top / "cluster", free_port())
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(top, ignore_errors=True)


@dataclass
class S3:
    port: int
    server: Any = None

    @property
    def env(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_DEFAULT_REGION": "us-east-1", "INBETWEEN_STORAGE_URL": "s3://videos/v",
                "INBETWEEN_S3_ENDPOINT_URL": f"http://127.0.0.1:{self.port}"}

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.env["INBETWEEN_S3_ENDPOINT_URL"],
                            region_name="us-east-1", aws_access_key_id="test",
                            aws_secret_access_key="test")


@pytest.fixture
def s3_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[S3]:
    server = S3(free_port())
    server.start()
    for name, value in server.env.items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    yield server
    server.stop()


def settle(seconds: float) -> None:
    """Let an outage last (the fault's duration, not a synchronisation)."""
    time.sleep(seconds)
