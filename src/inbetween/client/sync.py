"""``Client``: the blocking client, a thin wrapper that runs an ``AsyncClient`` on a private
event loop in a background thread (so it works inside programs that run their own loop)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

from inbetween.client.aio import DEFAULT_MODEL, AsyncClient, ImageLike, ProgressCallback
from inbetween.client.models import Generation, Page

__all__ = ["Client"]

T = TypeVar("T")


class Client:
    """Blocking twin of ``AsyncClient`` (same arguments, same methods, same errors).

    ``on_progress`` callbacks run on the client's background thread.
    """

    def __init__(self, base_url: str | None = None, api_key: str | None = None,
                 **options: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever,
                                        name="inbetween-client", daemon=True)
        self._thread.start()
        try:
            self.aio: AsyncClient = self._run(_make(base_url, api_key, options))
        except BaseException:
            self._stop()
            raise

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._loop.is_running():
            self._run(self.aio.aclose())
            self._stop()

    def _stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    @property
    def base_url(self) -> str:
        return self.aio.base_url

    def features(self) -> frozenset[str]:
        return self._run(self.aio.features())

    def submit(self, first: ImageLike, last: ImageLike, prompt: str, *,
               model: str = DEFAULT_MODEL, idempotency_key: str | None = None,
               **options: Any) -> Generation:
        return self._run(self.aio.submit(first, last, prompt, model=model,
                                         idempotency_key=idempotency_key, **options))

    def request_body(self, first: ImageLike, last: ImageLike, prompt: str, *,
                     model: str = DEFAULT_MODEL, **options: Any) -> dict[str, Any]:
        return self._run(self.aio.request_body(first, last, prompt, model=model, **options))

    def submit_body(self, body: dict[str, Any], *,
                    idempotency_key: str | None = None) -> Generation:
        return self._run(self.aio.submit_body(body, idempotency_key=idempotency_key))

    def generate(self, first: ImageLike, last: ImageLike, prompt: str, *,
                 timeout: float | None = None, on_progress: ProgressCallback | None = None,
                 **options: Any) -> Generation:
        return self._run(self.aio.generate(first, last, prompt, timeout=timeout,
                                           on_progress=on_progress, **options))

    def get(self, generation_id: str) -> Generation:
        return self._run(self.aio.get(generation_id))

    def list(self, limit: int = 20, after: str | None = None) -> Page:
        return self._run(self.aio.list(limit, after))

    def iter_generations(self, page_size: int = 100) -> Iterator[Generation]:
        after: str | None = None
        while True:
            page = self.list(page_size, after)
            yield from page.data
            if not page.next_cursor:
                return
            after = page.next_cursor

    def delete(self, generation_id: str) -> Generation:
        return self._run(self.aio.delete(generation_id))

    def wait(self, generation_id: str, timeout: float | None = None,
             on_progress: ProgressCallback | None = None) -> Generation:
        return self._run(self.aio.wait(generation_id, timeout, on_progress))

    def download(self, generation: Generation | str, path: str | Path) -> Path:
        return self._run(self.aio.download(generation, path))


async def _make(base_url: str | None, api_key: str | None,
                options: dict[str, Any]) -> AsyncClient:
    return AsyncClient(base_url, api_key, **options)
