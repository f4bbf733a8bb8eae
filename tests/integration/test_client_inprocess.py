"""The SDK's non-streaming calls through an in-process transport (no sockets)."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np

from inbetween.client import AsyncClient, ConflictError, NotFoundError
from tests.conftest import encode
from tests.integration.conftest import Api


def test_async_client_in_process(api: Api, photos: dict[str, np.ndarray]) -> None:
    transport = httpx.ASGITransport(app=api.client.app)

    async def run() -> None:
        async with AsyncClient("http://testserver", api.key, transport=transport) as client:
            assert "uploads" in await client.features()
            first = encode(photos["astronaut"], "JPEG")
            queued = await client.submit(first, photos["coffee"], "p", resolution="720p",
                                         idempotency_key="same")
            replay = await client.submit(first, photos["coffee"], "p", resolution="720p",
                                         idempotency_key="same")
            assert replay.id == queued.id
            try:
                await client.submit(first, photos["coffee"], "other", idempotency_key="same")
            except ConflictError as e:
                assert e.status == 409
            else:
                raise AssertionError("reusing an Idempotency-Key must be a 409")
            got = await client.get(queued.id)
            assert got.status == "queued" and got.meta is not None
            assert got.meta.queue_position == 1
            page = await client.list(limit=1)
            assert [g.id for g in page.data] == [queued.id] and page.next_cursor is None
            deleted = await client.delete(queued.id)
            assert deleted.id == queued.id
            try:
                await client.get(queued.id)
            except NotFoundError as e:
                assert e.name == "NotFound"
            else:
                raise AssertionError("a deleted generation must be gone")

    asyncio.run(run())
