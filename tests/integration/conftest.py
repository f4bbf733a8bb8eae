from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from inbetween.api import create_app
from inbetween.keys import create_key
from inbetween.settings import Settings
from inbetween.store import open_store
from tests.conftest import data_url
from tests.helpers import wait_for


def url_body(**overrides: object) -> dict[str, Any]:
    """A valid POST body with URL images (nothing is fetched while jobs stay queued)."""
    body: dict[str, Any] = {"model": "inbetween/keyframe", "prompt": "p",
                            "image_url": "https://example.com/a.jpg",
                            "last_image_url": "https://example.com/b.jpg"}
    body.update(overrides)
    return body


def keyframe_body(photos: dict[str, np.ndarray], **overrides: object) -> dict[str, Any]:
    """A valid POST body for a short, silent keyframe clip with Base64 images."""
    body: dict[str, Any] = {"model": "inbetween/keyframe", "prompt": "a slow push in",
                            "image_url": data_url(photos["astronaut"], "JPEG"),
                            "last_image_url": data_url(photos["astronaut"]),
                            "resolution": "720p", "duration": 4, "generate_audio": False}
    body.update(overrides)
    return body


@dataclass
class Api:
    client: TestClient
    key: str
    settings: Settings

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def post(self, body: dict[str, Any], key: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return self.client.post("/v2/video/generations", json=body, headers=headers)

    def get(self, generation_id: str, key: str | None = None) -> Any:
        headers = {"Authorization": f"Bearer {key or self.key}"}
        return self.client.get("/v2/video/generations", params={"generation_id": generation_id},
                               headers=headers)

    def new_key(self, name: str = "other") -> str:
        store = open_store(self.settings)
        plaintext, _ = create_key(store, name)
        store.engine.dispose()
        return plaintext

    def wait_finished(self, generation_id: str, timeout: float = 120) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            body: dict[str, Any] = self.get(generation_id).json()
            return body if body["status"] in ("completed", "error") else None

        return wait_for(done, timeout, f"generation {generation_id} to finish")


@pytest.fixture
def make_api(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Api]]:
    clients: list[TestClient] = []

    def make(**overrides: object) -> Api:
        settings = make_settings(**overrides)
        store = open_store(settings)
        key, _ = create_key(store, "test")
        store.engine.dispose()
        client = TestClient(create_app(settings), raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return Api(client, key, settings)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    """An app that only accepts and stores jobs (concurrency 0)."""
    return make_api()
