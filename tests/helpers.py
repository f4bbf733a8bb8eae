"""Test helpers that are not fixtures: decoding MP4s, waiting on conditions, loopback servers."""

from __future__ import annotations

import http.server
import importlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import av
import numpy as np
import pytest

T = TypeVar("T")


@dataclass
class Decoded:
    first: np.ndarray
    last: np.ndarray
    frame_count: int
    fps: float
    width: int
    height: int
    pix_fmt: str
    codec: str
    video_seconds: float
    audio: dict[str, float] | None


def decode_mp4(path: Path | str) -> Decoded:
    """Decode every frame of an MP4 (keeping the first and last, as RGB) and its audio."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = None
        if container.streams.audio:
            a = container.streams.audio[0]
            samples = sum(f.samples for f in container.decode(a))
            audio = {
                "sample_rate": float(a.codec_context.sample_rate),
                "channels": float(a.codec_context.channels),
                "seconds": samples / a.codec_context.sample_rate,
                "codec_aac": float(a.codec_context.name == "aac"),
            }
            container.seek(0)
        count, first, last = 0, None, None
        for frame in container.decode(video):
            last = frame.to_ndarray(format="rgb24")
            if first is None:
                first = last
            count += 1
        assert first is not None and last is not None, "no video frames"
        return Decoded(
            first=first,
            last=last,
            frame_count=count,
            fps=float(video.average_rate),
            width=video.codec_context.width,
            height=video.codec_context.height,
            pix_fmt=video.codec_context.pix_fmt,
            codec=video.codec_context.name,
            video_seconds=count / float(video.average_rate),
            audio=audio,
        )


def wait_for(condition: Callable[[], T | None], timeout: float, what: str,
             interval: float = 0.05) -> T:
    """Poll ``condition`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def require_module(name: str, reason: str) -> ModuleType:
    """``import name``. When it cannot be imported the test (or, at module level, the whole
    module) is skipped with ``reason`` — unless INBETWEEN_REQUIRE_SERVICES is set (CI), where
    it fails instead: CI installs every extra, so a missing one must never pass silently."""
    __tracebackhide__ = True  # a skip or failure is reported at the caller's line
    if not os.environ.get("INBETWEEN_REQUIRE_SERVICES"):
        module: ModuleType = pytest.importorskip(name, reason=reason)
        return module
    try:
        return importlib.import_module(name)
    except ImportError as e:
        raise ImportError(f"{name} cannot be imported ({e}), and INBETWEEN_REQUIRE_SERVICES "
                          f"needs it: {reason}") from e


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process started with ``start_new_session=True`` and everything it started
    (its process group), if it still runs, and reap it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    """A loopback server's base URL and the requests it received (path, headers)."""

    url: str
    port: int
    requests: list[tuple[str, dict[str, str]]]


Route = tuple[int, str, bytes] | Callable[[http.server.BaseHTTPRequestHandler], None]


@contextmanager
def serve(routes: dict[str, Route]) -> Iterator[Served]:
    """A real HTTP server on loopback. A route is ``(status, content_type, body)`` (for a
    3xx status, ``content_type`` is the Location) or a function writing the response."""
    requests: list[tuple[str, dict[str, str]]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append((self.path, dict(self.headers.items())))
            route = routes.get(self.path, (404, "text/plain", b"nope"))
            if callable(route):
                route(self)
                return
            status, content_type, body = route
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", content_type)
            else:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    with running(Handler) as port:
        yield Served(f"http://127.0.0.1:{port}", port, requests)


@contextmanager
def running(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[int]:
    """``handler`` served on a free loopback port (yielded) from a thread, stopped after."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def static_server(routes: dict[str, Route]) -> Iterator[str]:
    """``serve``, yielding only the base URL."""
    with serve(routes) as served:
        yield served.url


def load_script(path: Path) -> ModuleType:
    """A script that is no package module (``benchmarks/*.py``), imported from ``path``
    under its file name (registered in ``sys.modules``, as dataclasses need)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
