"""``AsyncClient``: the asynchronous client of the v2 video-generations API (httpx).

It speaks the hosted API's contract to any server, and uses inbetween's additions when the
server advertises them in ``info.x-inbetween-features`` of its ``/openapi.json``:

- ``idempotency``: every submit carries an ``Idempotency-Key``, so connection errors, 5xx and
  429 are retried with the same key and body and can never start a second generation;
- ``uploads``: local images are uploaded once and named by URL (retries reuse the URL);
- ``events``: ``wait`` follows the live event stream instead of polling;
- ``list``: ``list()`` pages through the key's generations.

Against a contract-only server a submit is retried only when it provably never reached the
server (connection refused, connect time-out) or got 429; when it was sent and no answer came,
``SubmitUncertain`` is raised instead of risking a second, billed generation.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from inbetween.client.errors import (
    APIError,
    GenerationFailed,
    InbetweenClientError,
    ServerError,
    SubmitUncertain,
    UnsupportedFeature,
    WaitTimeout,
    api_error,
)
from inbetween.client.models import Generation, Page, Progress
from inbetween.client.settings import DEFAULT_BASE_URL, ClientSettings
from inbetween.media.sniff import image_mime

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_MODEL", "AsyncClient", "ImageLike", "InputError",
           "ProgressCallback", "image_bytes"]

DEFAULT_MODEL = "google/veo-3.1-first-last-image-to-video"
GENERATIONS = "/v2/video/generations"
ImageLike = Any
"""A path (``pathlib.Path``, or a ``str`` without an ``http(s)://``/``data:`` prefix),
``bytes``, a PIL image, a NumPy RGB ``uint8`` array, or an http(s)/data URL string."""
ProgressCallback = Callable[[Progress], None]
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class InputError(InbetweenClientError, ValueError):
    """A local input cannot be used (missing file, unsupported array…); nothing was sent."""


class AsyncClient:
    """Submit, follow and download generations. Use as ``async with AsyncClient() as c:``.

    ``base_url`` and ``api_key`` default to ``INBETWEEN_BASE_URL`` (else
    ``http://127.0.0.1:8000``) and ``INBETWEEN_API_KEY``. ``connect_timeout`` and
    ``read_timeout`` bound each HTTP call; ``wait_timeout`` (None: no limit) bounds ``wait``.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        wait_timeout: float | None = None,
        max_retries: int = 6,
        poll_interval: float = 1.0,
        max_poll_interval: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        env = ClientSettings.from_env()
        self.base_url = (base_url or env.base_url).rstrip("/")
        key = api_key or env.api_key
        if not key:
            raise InputError("no API key: pass api_key= or set INBETWEEN_API_KEY")
        self._auth = {"Authorization": f"Bearer {key}"}
        self.wait_timeout, self.max_retries = wait_timeout, max_retries
        self.poll_interval, self.max_poll_interval = poll_interval, max_poll_interval
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        # the key goes only to the API's own host: video downloads (possibly from S3 or a
        # CDN) use a second client that sends no Authorization header
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout,
                                       transport=transport)
        self._files = httpx.AsyncClient(timeout=timeout, transport=transport,
                                        follow_redirects=True)
        self._features: frozenset[str] | None = None
        self._uploaded: dict[str, str] = {}

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._files.aclose()

    # -- features ---------------------------------------------------------------------------
    async def features(self) -> frozenset[str]:
        """What the server adds to the contract (read once; any failure: nothing)."""
        if self._features is None:
            try:
                response = await self._http.get("/openapi.json")
                found = response.json()["info"].get("x-inbetween-features", [])
                self._features = frozenset(str(f) for f in found)
            except Exception:
                self._features = frozenset()
        return self._features

    # -- submit -------------------------------------------------------------------------------
    async def submit(self, first: ImageLike, last: ImageLike, prompt: str, *,
                     model: str = DEFAULT_MODEL, idempotency_key: str | None = None,
                     **options: Any) -> Generation:
        """Queue a generation; returns it as queued. Options: ``aspect_ratio``,
        ``duration``, ``resolution``, ``generate_audio``, ``provider``,
        ``negative_prompt``, ``seed``, ``webhook_url``, ``webhook_events`` (None values are
        left out)."""
        body = await self.request_body(first, last, prompt, model=model, **options)
        return await self.submit_body(body, idempotency_key=idempotency_key)

    async def request_body(self, first: ImageLike, last: ImageLike, prompt: str, *,
                           model: str = DEFAULT_MODEL, **options: Any) -> dict[str, Any]:
        """The POST body for these inputs (local images uploaded or inlined as Base64)."""
        features = await self.features()
        body: dict[str, Any] = {"model": model, "prompt": prompt,
                                "image_url": await self._image(first, features),
                                "last_image_url": await self._image(last, features)}
        body.update({k: v for k, v in options.items() if v is not None})
        return body

    async def submit_body(self, body: dict[str, Any], *,
                          idempotency_key: str | None = None) -> Generation:
        """POST ``body`` with the retry rules of the module docstring."""
        idempotent = "idempotency" in await self.features()
        headers = dict(self._auth)
        if idempotent:
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        for attempt in range(self.max_retries + 1):
            last_try = attempt == self.max_retries
            sent_at = time.time()
            try:
                response = await self._http.post(GENERATIONS, json=body, headers=headers)
            except _NOT_SENT:
                if last_try:
                    raise
                await self._backoff(attempt)
                continue
            except httpx.TransportError as e:  # sent; no (complete) answer came
                if not idempotent:
                    raise SubmitUncertain(body, sent_at, e) from e
                if last_try:
                    raise
                await self._backoff(attempt)
                continue
            retry = response.status_code == 429 or (idempotent and response.status_code >= 500)
            if retry and not last_try:
                await self._backoff(attempt, _retry_after(response))
                continue
            return Generation.from_json(self._json(response))
        raise AssertionError("unreachable")

    # -- read ---------------------------------------------------------------------------------
    async def get(self, generation_id: str) -> Generation:
        response = await self._call("GET", GENERATIONS, params={"generation_id": generation_id})
        return Generation.from_json(self._json(response))

    async def list(self, limit: int = 20, after: str | None = None) -> Page:
        """One page of this key's generations, newest first (needs the ``list`` feature)."""
        await self._require("list")
        params: dict[str, Any] = {"limit": limit}
        if after:
            params["after"] = after
        body = self._json(await self._call("GET", f"{GENERATIONS}/list", params=params))
        return Page([Generation.from_json(g) for g in body["data"]], body.get("next_cursor"))

    async def iter_generations(self, page_size: int = 100) -> AsyncIterator[Generation]:
        """Every generation of this key, newest first."""
        after: str | None = None
        while True:
            page = await self.list(page_size, after)
            for generation in page.data:
                yield generation
            if not page.next_cursor:
                return
            after = page.next_cursor

    async def delete(self, generation_id: str) -> Generation:
        """Cancel (if running) and delete a generation; returns it as it was."""
        response = await self._call("DELETE", GENERATIONS,
                                    params={"generation_id": generation_id})
        return Generation.from_json(self._json(response))

    # -- wait -----------------------------------------------------------------------------------
    async def wait(self, generation_id: str, timeout: float | None = None,
                   on_progress: ProgressCallback | None = None) -> Generation:
        """Until the generation ends: the completed Generation, or GenerationFailed;
        WaitTimeout after ``timeout`` seconds (default: the client's ``wait_timeout``)."""
        limit = timeout if timeout is not None else self.wait_timeout
        try:
            async with asyncio.timeout(limit):
                if "events" in await self.features():
                    generation = await self._follow(generation_id, on_progress)
                else:
                    generation = await self._poll(generation_id, on_progress)
        except TimeoutError:
            raise WaitTimeout(generation_id, limit or 0) from None
        if generation.status == "error":
            raise GenerationFailed(generation)
        return generation

    async def generate(self, first: ImageLike, last: ImageLike, prompt: str, *,
                       timeout: float | None = None,
                       on_progress: ProgressCallback | None = None,
                       **options: Any) -> Generation:
        """Submit and wait: the completed Generation."""
        generation = await self.submit(first, last, prompt, **options)
        return await self.wait(generation.id, timeout, on_progress)

    async def _poll(self, generation_id: str,
                    on_progress: ProgressCallback | None) -> Generation:
        delay = self.poll_interval
        last: Progress | None = None
        while True:
            generation = await self.get(generation_id)
            snapshot = generation.progress_snapshot()
            if on_progress is not None and snapshot != last:
                on_progress(snapshot)
                last = snapshot
            if generation.finished:
                return generation
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, self.max_poll_interval)

    async def _follow(self, generation_id: str,
                      on_progress: ProgressCallback | None) -> Generation:
        """Follow the event stream, reconnecting with Last-Event-ID; poll when refused."""
        last_id: str | None = None
        failures = 0
        while True:
            headers = {**self._auth, "Accept": "text/event-stream"}
            if last_id is not None:
                headers["Last-Event-ID"] = last_id
            try:
                async with self._http.stream(
                        "GET", f"{GENERATIONS}/events", params={"generation_id": generation_id},
                        headers=headers, timeout=httpx.Timeout(
                            None, connect=self._http.timeout.connect)) as response:
                    if response.status_code == 429:  # too many open streams: poll instead
                        return await self._poll(generation_id, on_progress)
                    if response.status_code >= 400:
                        await response.aread()
                        self._json(response)
                    async for name, event_id, data in _sse(response.aiter_lines()):
                        failures = 0
                        last_id = event_id or last_id
                        if name in ("status", "progress") and on_progress is not None:
                            on_progress(Progress.from_json(data))
                        elif name == "end":
                            if data.get("deleted"):
                                raise api_error(404, {"error": {
                                    "name": "NotFound",
                                    "message": "the generation was deleted"}})
                            generation = Generation.from_json(data)
                            if on_progress is not None:
                                on_progress(generation.progress_snapshot())
                            return generation
            except (httpx.TransportError, ServerError):
                failures += 1
                if failures > self.max_retries:
                    raise
            await self._backoff(min(failures, 4))

    # -- download -----------------------------------------------------------------------------
    async def download(self, generation: Generation | str, path: str | Path) -> Path:
        """Stream the video to ``path`` (through a temporary file in the same folder, renamed
        into place once its size is checked). Returns the path."""
        if isinstance(generation, str):
            generation = await self.get(generation)
        if generation.status == "error":
            raise GenerationFailed(generation)
        if generation.status != "completed" or generation.video is None:
            raise InbetweenClientError(
                f"generation {generation.id} is {generation.status}, not completed: "
                "wait for it first")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(self.max_retries + 1):
            try:
                await self._download_once(generation.video.url, target)
                return target
            except (httpx.TransportError, _Truncated, ServerError):
                if attempt == self.max_retries:
                    raise
                await self._backoff(attempt)
        raise AssertionError("unreachable")

    async def _download_once(self, url: str, target: Path) -> None:
        part = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            async with self._files.stream("GET", url) as response:
                if response.status_code >= 400:
                    await response.aread()
                    self._json(response)
                expected = response.headers.get("Content-Length")
                written = 0
                with part.open("wb") as out:
                    async for chunk in response.aiter_bytes(1 << 20):
                        out.write(chunk)
                        written += len(chunk)
                    out.flush()
                    os.fsync(out.fileno())
            if expected is not None and int(expected) != written:
                raise _Truncated(f"got {written} of {expected} bytes")
            if written == 0:
                raise _Truncated("the video is empty")
            os.replace(part, target)
        finally:
            part.unlink(missing_ok=True)

    # -- plumbing -----------------------------------------------------------------------------
    async def _require(self, feature: str) -> None:
        if feature not in await self.features():
            raise UnsupportedFeature(f"the server at {self.base_url} does not offer "
                                     f"{feature!r} (it speaks only the hosted API's contract)")

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A safe-to-repeat call, retried on connection errors, 5xx and 429."""
        for attempt in range(self.max_retries + 1):
            try:
                response = await self._http.request(method, url, headers=self._auth, **kwargs)
            except httpx.TransportError:
                if attempt == self.max_retries:
                    raise
                await self._backoff(attempt)
                continue
            if (response.status_code == 429 or response.status_code >= 500) \
                    and attempt < self.max_retries:
                await self._backoff(attempt, _retry_after(response))
                continue
            return response
        raise AssertionError("unreachable")

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if response.status_code >= 400:
            raise api_error(response.status_code, body, _retry_after(response))
        if not isinstance(body, dict):
            raise APIError(response.status_code, "BadResponse",
                           f"expected a JSON object, got {response.text[:200]!r}")
        return body

    async def _backoff(self, attempt: int, retry_after: float | None = None) -> None:
        delay = min(8.0, 0.25 * 2 ** attempt) * (0.75 + random.random() / 2)
        await asyncio.sleep(max(delay, retry_after or 0.0))

    async def _image(self, value: ImageLike, features: frozenset[str]) -> str:
        if isinstance(value, str) and value[:8].lower().startswith(
                ("http://", "https://", "data:")):
            return value
        data = image_bytes(value)
        mime = _mime(data)
        if "uploads" not in features:
            return f"data:{mime};base64,{base64.b64encode(data).decode()}"
        digest = hashlib.sha256(data).hexdigest()
        if digest not in self._uploaded:  # uploaded once; retries reuse the URL
            files = {"file": (f"image.{mime.split('/')[1]}", data, mime)}
            response = await self._call("POST", "/v2/uploads", files=files)
            self._uploaded[digest] = str(self._json(response)["url"])
        return self._uploaded[digest]


class _Truncated(Exception):
    pass


def image_bytes(value: ImageLike) -> bytes:
    """Encoded image bytes of a path, bytes, PIL image or NumPy RGB uint8 array."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str | os.PathLike):
        path = Path(value)
        try:
            return path.read_bytes()
        except OSError as e:
            raise InputError(f"cannot read the image {str(path)!r}: {e.strerror}") from e
    module = type(value).__module__
    if module.startswith("PIL."):
        return _png(value)
    if module == "numpy":
        shape: tuple[int, ...] = tuple(getattr(value, "shape", ()))
        dtype = str(getattr(value, "dtype", ""))
        if dtype != "uint8" or len(shape) != 3 or shape[2] != 3:
            raise InputError(f"a NumPy image must be RGB uint8 of shape (height, width, 3), "
                             f"not {dtype} {tuple(shape)}")
        from PIL import Image

        return _png(Image.fromarray(value))
    raise InputError(f"cannot use a {type(value).__name__} as an image: pass a path, bytes, a "
                     "PIL image, a NumPy RGB uint8 array, or an http(s)/data URL")


def _png(image: Any) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _mime(data: bytes) -> str:
    return image_mime(data) or "image/png"  # the server names what it cannot read


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return min(60.0, float(value)) if value is not None else None
    except ValueError:
        return None


async def _sse(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str | None, Any]]:
    """(event, id, parsed JSON data) of a Server-Sent Events body; comments skipped."""
    name, event_id, data = "message", None, list[str]()
    async for line in lines:
        if line == "":
            if data:
                yield name, event_id, json.loads("\n".join(data))
            name, event_id, data = "message", None, []
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                name = value
            elif field == "id":
                event_id = value
            elif field == "data":
                data.append(value)

