"""Loopback servers that speak each upstream provider's protocol as ../shared/docs/UPSTREAMS.md
describes it (paths, headers, status codes, bodies), with their failure modes, and record
every request they receive."""

from __future__ import annotations

import datetime
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


def _iso(timestamp: float) -> str:
    """A UTC ISO-8601 time as the upstreams write it (dates relative to now, never fixed)."""
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


GOOGLE_KEY = "goog-test-key-7f3a"
FAL_KEY = "fal-test-key-19bc"
AIMLAPI_KEY = "aiml-test-key-c0de"
KEYS = (GOOGLE_KEY, FAL_KEY, AIMLAPI_KEY)
DROP = object()  # close the connection without answering
Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Req:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def reply(status: int, body: Any, **headers: str) -> Reply:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()


class Loopback:
    """One HTTP server on 127.0.0.1; ``host`` is the name its URL uses (a second name for the
    same machine makes "another host" for redirect and key-scoping tests)."""

    def __init__(self, route: Callable[[Req], Reply | object], host: str = "127.0.0.1") -> None:
        self.route, self.requests = route, list[Req]()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                req = Req(self.command, parts.path, parse_qs(parts.query),
                          {k.lower(): v for k, v in self.headers.items()},
                          self.rfile.read(length) if length else b"")
                outer.requests.append(req)
                answer = outer.route(req)
                if answer is DROP:
                    self.close_connection = True
                    return
                assert isinstance(answer, tuple)
                status, headers, body = answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def got(self, method: str, path_start: str = "") -> list[Req]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_start)]


@dataclass
class Storage:
    """A CDN on another host name: serves the video, takes fal uploads."""

    video: bytes
    server: Loopback = field(init=False)
    uploads: list[Req] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server = Loopback(self.route, host="localhost")

    def route(self, req: Req) -> Reply:
        if req.method == "POST" and req.path == "/files/upload":
            if req.headers.get("authorization") != "Bearer fal-storage-token":
                return reply(401, {"detail": "bad storage token"})
            self.uploads.append(req)
            return reply(200, {"access_url": f"{self.server.url}/files/up{len(self.uploads)}"})
        if req.method == "GET" and req.path.startswith("/files/"):
            return 200, {"Content-Type": "video/mp4"}, self.video
        return reply(404, {"detail": "no such file"})


@dataclass
class Google:
    """The Gemini API's Veo surface: predictLongRunning, operations, file download."""

    storage: Storage
    submit_replies: list[Reply | object] = field(default_factory=list)  # then success
    done_after: int = 1  # polls answered `done: false` first
    outcome: str = "video"  # video | filtered | empty | error | never
    server: Loopback = field(init=False)
    polls: int = 0

    def __post_init__(self) -> None:
        self.server = Loopback(self.route)

    @property
    def submissions(self) -> list[Req]:
        return self.server.got("POST", "/v1beta/models/")

    def route(self, req: Req) -> Reply | object:
        if req.headers.get("x-goog-api-key") != GOOGLE_KEY:
            return reply(403, {"error": {"code": 403, "message": "API key not valid",
                                         "status": "PERMISSION_DENIED"}})
        if req.method == "POST" and req.path.endswith(":predictLongRunning"):
            if self.submit_replies:
                return self.submit_replies.pop(0)
            model = req.path.split("/")[-1].split(":")[0]
            return reply(200, {"name": f"models/{model}/operations/op{len(self.submissions)}"})
        if req.method == "GET" and "/operations/" in req.path:
            self.polls += 1
            name = req.path.removeprefix("/v1beta/")
            if self.outcome == "never" or self.polls <= self.done_after:
                return reply(200, {"name": name, "done": False, "metadata": {}})
            if self.outcome == "error":
                return reply(200, {"name": name, "done": True, "error": {
                    "code": 13, "message": "internal failure", "status": "INTERNAL"}})
            if self.outcome == "filtered":
                result: dict[str, Any] = {"raiMediaFilteredCount": 1, "raiMediaFilteredReasons": [
                    "The video was blocked by our safety filters."]}
            elif self.outcome == "empty":
                result = {}
            else:
                result = {"generatedSamples": [{"video": {
                    "uri": f"{self.server.url}/v1beta/files/vid1:download?alt=media",
                    "encoding": "video/mp4"}}]}
            return reply(200, {"name": name, "done": True,
                               "response": {"generateVideoResponse": result}})
        if req.method == "GET" and req.path.startswith("/v1beta/files/"):
            return 302, {"Location": f"{self.storage.server.url}/files/veo.mp4"}, b""
        return reply(404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})


@dataclass
class Fal:
    """fal's queue (submit, status with queue position and logs, result, cancel) and its
    storage token step; uploads go to ``storage``."""

    storage: Storage
    submit_replies: list[Reply | object] = field(default_factory=list)
    queued_polls: int = 1
    running_polls: int = 1
    hold: threading.Event | None = None  # while set: stay IN_QUEUE (position 2)
    completed_error: tuple[str, str] | None = None  # (error, error_type) on COMPLETED
    queue: Loopback = field(init=False)
    rest: Loopback = field(init=False)
    polls: int = 0
    cancelled: bool = False

    def __post_init__(self) -> None:
        self.queue, self.rest = Loopback(self.route_queue), Loopback(self.route_rest)

    @property
    def submissions(self) -> list[Req]:
        return [r for r in self.queue.got("POST") if "/requests/" not in r.path]

    def route_rest(self, req: Req) -> Reply:
        if req.headers.get("authorization") != f"Key {FAL_KEY}":
            return reply(401, {"detail": "Invalid key"})
        if req.method == "POST" and req.path == "/storage/auth/token":
            assert req.query.get("storage_type") == ["fal-cdn-v3"]
            return reply(200, {"token": "fal-storage-token", "token_type": "Bearer",
                               "base_url": self.storage.server.url,
                               "expires_at": _iso(time.time() + 3600)})
        return reply(404, {"detail": "Not Found"})

    def route_queue(self, req: Req) -> Reply | object:
        if req.headers.get("authorization") != f"Key {FAL_KEY}":
            return reply(401, {"detail": "Invalid key"})
        base = self.queue.url
        if req.method == "POST" and "/requests/" not in req.path:
            if self.submit_replies:
                return self.submit_replies.pop(0)
            rid = str(uuid.uuid4())
            model = req.path.lstrip("/")
            root = f"{base}/{model}/requests/{rid}"
            return reply(200, {"request_id": rid, "status_url": f"{root}/status",
                               "response_url": root, "cancel_url": f"{root}/cancel"})
        if req.method == "PUT" and req.path.endswith("/cancel"):
            self.cancelled = True
            return reply(202, {"status": "CANCELLATION_REQUESTED"})
        if req.method == "GET" and req.path.endswith("/status"):
            self.polls += 1
            if self.hold is not None and self.hold.is_set():
                return reply(202, {"status": "IN_QUEUE", "queue_position": 2})
            if self.polls <= self.queued_polls:
                return reply(202, {"status": "IN_QUEUE", "queue_position": 2})
            logs = [{"message": "Loading model", "level": "INFO", "source": "user",
                     "timestamp": _iso(time.time() - 1)},
                    {"message": "Generating video", "level": "INFO", "source": "user",
                     "timestamp": _iso(time.time())}]
            if self.polls <= self.queued_polls + self.running_polls:
                return reply(202, {"status": "IN_PROGRESS", "logs": logs[:1]})
            body: dict[str, Any] = {"status": "COMPLETED", "logs": logs, "metrics": {}}
            if self.completed_error:
                body["error"], body["error_type"] = self.completed_error
            return reply(200, body)
        if req.method == "GET" and "/requests/" in req.path:
            return reply(200, {"video": {"url": f"{self.storage.server.url}/files/out.mp4",
                                         "content_type": "video/mp4", "file_name": "out.mp4",
                                         "file_size": len(self.storage.video)}})
        return reply(404, {"detail": "Not Found"})


@dataclass
class Aimlapi:
    """The hosted API as an upstream: POST, then GET with generation_id."""

    storage: Storage
    server: Loopback = field(init=False)
    polls: int = 0

    def __post_init__(self) -> None:
        self.server = Loopback(self.route)

    @property
    def submissions(self) -> list[Req]:
        return self.server.got("POST", "/v2/video/generations")

    def route(self, req: Req) -> Reply:
        if req.headers.get("authorization") != f"Bearer {AIMLAPI_KEY}":
            return reply(401, {"error": {"name": "Unauthorized", "message": "bad key"}})
        if req.method == "POST" and req.path == "/v2/video/generations":
            return reply(200, {"id": f"{uuid.uuid4()}:google/veo-3.1-first-last-image-to-video",
                               "status": "queued"})
        if req.method == "GET" and req.path == "/v2/video/generations":
            gid = req.query["generation_id"][0]
            self.polls += 1
            status = ["queued", "generating"][self.polls - 1] if self.polls < 3 else "completed"
            video = {"url": f"{self.storage.server.url}/files/aiml.mp4"} \
                if status == "completed" else None
            return reply(200, {"id": gid, "status": status, "video": video, "error": None,
                               "meta": {"usage": {"credits_used": 120000}}})
        return reply(404, {"error": {"name": "NotFound", "message": "no"}})


@dataclass
class Upstreams:
    storage: Storage
    google: Google
    fal: Fal
    aimlapi: Aimlapi

    def env(self, providers: str = "google,fal,aimlapi") -> dict[str, str]:
        """INBETWEEN_… settings pointing at these servers, with keys for ``providers``."""
        values = {
            "INBETWEEN_GOOGLE_BASE_URL": self.google.server.url,
            "INBETWEEN_FAL_QUEUE_URL": self.fal.queue.url,
            "INBETWEEN_FAL_REST_URL": self.fal.rest.url,
            "INBETWEEN_AIMLAPI_BASE_URL": self.aimlapi.server.url,
            "INBETWEEN_FETCH_ALLOW": "127.0.0.0/8,::1/128",
            "INBETWEEN_UPSTREAM_POLL_SECONDS": "0.05",
        }
        keys = {"google": ("INBETWEEN_GOOGLE_API_KEY", GOOGLE_KEY),
                "fal": ("INBETWEEN_FAL_KEY", FAL_KEY),
                "aimlapi": ("INBETWEEN_AIMLAPI_KEY", AIMLAPI_KEY)}
        for name in filter(None, providers.split(",")):
            values[keys[name][0]] = keys[name][1]
        return values

    def settings(self, providers: str = "google,fal,aimlapi") -> dict[str, object]:
        """The same, as Settings keyword arguments."""
        return {k.removeprefix("INBETWEEN_").lower(): v for k, v in self.env(providers).items()}


@contextmanager
def upstreams(video: bytes) -> Iterator[Upstreams]:
    with ExitStack() as stack:
        storage = Storage(video)
        stack.callback(storage.server.close)
        google, fal, aiml = Google(storage), Fal(storage), Aimlapi(storage)
        for server in (google.server, fal.queue, fal.rest, aiml.server):
            stack.callback(server.close)
        yield Upstreams(storage, google, fal, aiml)
