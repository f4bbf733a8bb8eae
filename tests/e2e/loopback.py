"""Loopback servers for the client's tests: a strict server that speaks only the hosted API's
contract (../shared/spec), and a proxy that can drop or hold the reply to a submission."""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

SPEC_FIELDS = {"model", "prompt", "image_url", "last_image_url", "aspect_ratio", "duration",
               "resolution", "generate_audio", "provider"}
REQUIRED = {"model", "prompt", "image_url", "last_image_url"}


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class ContractServer:
    """Only `POST` and `GET /v2/video/generations`, as the spec describes them; each GET
    moves a job one step: queued → generating → completed (a real MP4 it serves itself)."""

    video: bytes
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    jobs: dict[str, int] = field(default_factory=dict)
    fail_with: dict[str, Any] | None = None  # finish every job as this error instead

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        self.requests.append(Received(method, parts.path, dict(handler.headers), body))
        if method == "POST" and parts.path == "/v2/video/generations":
            return self._create(handler, body)
        if method == "GET" and parts.path == "/v2/video/generations":
            gid = parse_qs(parts.query).get("generation_id", [""])[0]
            return self._get(handler, gid)
        if method == "GET" and parts.path.startswith("/media/"):
            return _send(handler, 200, self.video, "video/mp4")
        return _send(handler, 404, b'{"message": "Not Found"}')

    def _create(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        try:
            data = json.loads(body)
        except ValueError:
            return _send(handler, 400, b'{"message": "invalid JSON"}')
        if not isinstance(data, dict) or not set(data) >= REQUIRED or set(data) - SPEC_FIELDS:
            return _send(handler, 400, json.dumps({"error": {
                "name": "BadRequest", "message": f"fields: {sorted(data)}"}}).encode())
        gid = str(uuid.uuid4())
        self.jobs[gid] = 0
        return _send(handler, 200, json.dumps({"id": gid, "status": "queued"}).encode())

    def _get(self, handler: BaseHTTPRequestHandler, gid: str) -> None:
        if gid not in self.jobs:
            return _send(handler, 404, b'{"error": {"name": "NotFound", "message": "no"}}')
        self.jobs[gid] += 1
        step = self.jobs[gid]
        body: dict[str, Any] = {"id": gid, "status": ["queued", "generating"][min(step, 2) - 1]
                                if step < 3 else "completed", "video": None, "error": None,
                                "meta": None}
        if step >= 3 and self.fail_with is not None:
            body.update(status="error", error=self.fail_with)
        elif step >= 3:
            body["video"] = {"url": f"{self.url}/media/{gid}.mp4"}
            body["meta"] = {"usage": {"credits_used": 120000}}
        return _send(handler, 200, json.dumps(body).encode())

    @property
    def submissions(self) -> list[Received]:
        return [r for r in self.requests
                if r.method == "POST" and r.path == "/v2/video/generations"]


@dataclass
class Proxy:
    """Forwards everything to ``target``; the reply to a submission can be dropped (the
    connection closed without an answer) or held until ``release`` is set."""

    target: str
    mode: str = "pass"  # pass | drop-once | hold
    url: str = ""
    forwarded_submissions: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        headers = {k: v for k, v in handler.headers.items()
                   if k.lower() not in ("host", "content-length", "connection")}
        with httpx.Client(timeout=120) as client:
            answer = client.request(method, f"{self.target}{handler.path}", content=body,
                                    headers=headers)
        if method == "POST" and urlsplit(handler.path).path == "/v2/video/generations":
            self.forwarded_submissions += 1
            if self.mode == "drop-once":
                self.mode = "pass"
                handler.close_connection = True
                return  # the server made the generation; the client never hears of it
            if self.mode == "hold":
                self.held.set()
                self.release.wait(120)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            _send(handler, answer.status_code, answer.content,
                  answer.headers.get("content-type", "application/json"))


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes,
          content_type: str = "application/json") -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@contextmanager
def running(app: ContractServer | Proxy) -> Iterator[str]:
    """Serve ``app`` on a loopback port; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            app.handle(self, "GET")

        def do_POST(self) -> None:
            app.handle(self, "POST")

        def do_DELETE(self) -> None:
            app.handle(self, "DELETE")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    app.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app.url
    finally:
        server.shutdown()
        server.server_close()
