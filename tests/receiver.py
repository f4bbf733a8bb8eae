"""A webhook receiver on loopback: records every POST (headers and body) and answers each
attempt as scripted — a status, or a delay longer than the sender waits."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.helpers import running


@dataclass
class Hit:
    headers: dict[str, str]
    body: bytes

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


@dataclass
class Receiver:
    url: str
    script: list[int | float] = field(default_factory=list)
    """Answers of the next POSTs, in order: an int is a status, a float a delay in seconds
    (the receiver answers nothing before it); once used up, 200."""
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> int | float:
        with self.lock:
            return self.script.pop(0) if self.script else 200

    def of_type(self, kind: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.json["type"] == kind]


@contextmanager
def receiver(script: list[int | float] | None = None) -> Iterator[Receiver]:
    state = Receiver("", list(script or []))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answer = state.answer()
            with state.lock:
                state.hits.append(Hit({k.lower(): v for k, v in self.headers.items()}, body))
            if isinstance(answer, float):
                time.sleep(answer)  # the sender gives up before this
                answer = 200
            try:
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:  # the sender stopped waiting
                pass

        def log_message(self, *args: object) -> None:
            return

    with running(Handler) as port:
        state.url = f"http://127.0.0.1:{port}/hook"
        yield state
