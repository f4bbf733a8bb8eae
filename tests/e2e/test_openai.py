"""The OpenAI-style `/v1/videos` API, driven by the real `openai` SDK (and curl, as the docs
show) against a real `inbetween serve` on loopback: create (a file as the first frame,
`extra_body` for the last), poll, retrieve, list with pagination, download every variant,
delete; the same ids on v2; the SDK's typed errors carry the field in `param`."""

from __future__ import annotations

import asyncio
import base64
import io
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from inbetween.media.images import decode_image, fit_to_canvas
from tests.conftest import data_url, encode, psnr
from tests.e2e.conftest import Server
from tests.helpers import decode_mp4, require_module

openai = require_module("openai", "the test extra is not installed (pip install '.[test]'; "
                        "`make test` installs it)")

# the SDK marks client.videos.* deprecated (its Sora notice); exactly that warning is allowed
pytestmark = pytest.mark.filterwarnings(
    "ignore:The Sora API is scheduled to permanently shut down:DeprecationWarning")

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openai-api.md"


@pytest.fixture
def sdk() -> Iterator[Callable[[Server, str], Any]]:
    """Makes `openai.OpenAI` clients for a server and key (retries off), closed at the end."""
    made: list[Any] = []

    def make(server: Server, key: str) -> Any:
        made.append(openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0))
        return made[-1]

    yield make
    for client in made:
        client.close()


def test_the_sdk_creates_polls_lists_downloads_and_deletes(
    server: Server, key: str, photos: dict[str, np.ndarray], tmp_path: Path,
    sdk: Callable[[Server, str], Any],
) -> None:
    server.start(concurrency=1)
    first_jpeg = encode(photos["chelsea"], "JPEG")
    (tmp_path / "first.jpg").write_bytes(first_jpeg)
    client = sdk(server, key)
    with (tmp_path / "first.jpg").open("rb") as first:
        video = client.videos.create_and_poll(
            model="inbetween/keyframe", prompt="the cat becomes a rocket", seconds="4",
            size="1280x720", input_reference=first,
            extra_body={"last_frame": data_url(photos["rocket"]), "generate_audio": False,
                        "seed": 7})
    assert (video.status, video.object, video.seconds, video.size, video.progress) == (
        "completed", "video", "4", "1280x720", 100)
    assert video.model == "inbetween/keyframe" and video.error is None
    assert video.completed_at is not None and video.completed_at >= video.created_at
    assert video.expires_at is None and video.remixed_from_video_id is None
    assert client.videos.retrieve(video.id).status == "completed"
    v2 = httpx.get(f"{server.url}/v2/video/generations", params={"generation_id": video.id},
                   headers={"Authorization": f"Bearer {key}"}, timeout=10).json()
    assert v2["status"] == "completed" and v2["meta"]["seed"] == 7  # the same job on v2

    out = tmp_path / "clip.mp4"
    client.videos.download_content(video.id).write_to_file(out)
    clip = decode_mp4(out)
    assert (clip.width, clip.height, clip.frame_count, clip.audio) == (1280, 720, 96, None)
    assert psnr(clip.first, fit_to_canvas(decode_image(first_jpeg, "f", 10**8),
                                          1280, 720)) >= 35
    assert psnr(clip.last, fit_to_canvas(photos["rocket"], 1280, 720)) >= 35
    thumbnail = Image.open(io.BytesIO(
        client.videos.download_content(video.id, variant="thumbnail").read()))
    assert thumbnail.format == "JPEG" and max(thumbnail.size) <= 640
    sheet = Image.open(io.BytesIO(
        client.videos.download_content(video.id, variant="spritesheet").read()))
    assert sheet.format == "JPEG" and sheet.size == (5 * 256, 2 * 144)
    ranged = httpx.get(f"{server.url}/v1/videos/{video.id}/content", timeout=10,
                       headers={"Authorization": f"Bearer {key}", "Range": "bytes=0-99"})
    assert ranged.status_code == 206 and len(ranged.content) == 100

    # two more (JSON with the reference object, and the multipart nested field), then pages
    body = {"model": "inbetween/keyframe", "prompt": "p", "seconds": 4,
            "input_reference": {"image_url": data_url(photos["coffee"])},
            "last_frame": data_url(photos["astronaut"])}
    second = client.post("/videos", body=body, cast_to=openai.types.Video)
    third = client.videos.create(
        model="inbetween/keyframe", prompt="p", seconds="4",
        extra_body={"input_reference[image_url]": data_url(photos["coffee"]),
                    "last_frame": data_url(photos["astronaut"])})
    assert third.status in ("queued", "in_progress")
    first_page = client.videos.list(limit=2)
    assert [v.id for v in first_page.data] == [third.id, second.id]
    assert first_page.has_more and first_page.last_id == second.id
    assert [v.id for v in client.videos.list(limit=2)] == [third.id, second.id, video.id]
    assert [v.id for v in client.videos.list(limit=1, order="asc")] == [
        video.id, second.id, third.id]

    deleted = client.videos.delete(third.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (third.id, True, "video.deleted")
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(third.id)


def test_the_async_sdk(server: Server, key: str, photos: dict[str, np.ndarray]) -> None:
    server.start(concurrency=1)

    async def run() -> None:
        client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)
        video = await client.videos.create_and_poll(
            model="inbetween/keyframe", prompt="p", seconds="4",
            input_reference=("first.png", encode(photos["rocket"]), "image/png"),
            extra_body={"last_frame": base64.b64encode(encode(photos["chelsea"])).decode()})
        assert video.status == "completed"
        content = await client.videos.download_content(video.id)
        assert content.read()[4:8] == b"ftyp"
        assert (await client.videos.delete(video.id)).deleted
        await client.close()

    asyncio.run(run())


def test_the_sdk_raises_typed_errors_naming_the_field(
    server: Server, key: str, photos: dict[str, np.ndarray], sdk: Callable[[Server, str], Any],
) -> None:
    server.start(concurrency=0)
    client = sdk(server, key)
    frames = {"input_reference": ("a.png", encode(photos["rocket"]), "image/png")}
    last = {"last_frame": data_url(photos["chelsea"])}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"size": "640x480", "extra_body": last}, "size"),
        ({"model": "sora-2", "extra_body": last}, "model"),
        ({"seconds": "12", "extra_body": last}, "seconds"),
        ({}, "last_frame"),
        ({"extra_body": {**last, "generate_audio": "maybe"}}, "generate_audio"),
    ]
    for options, field in cases:
        with pytest.raises(openai.BadRequestError) as caught:
            client.videos.create(prompt="p", **frames, **options)
        assert caught.value.param == field, (options, caught.value.body)
        assert caught.value.type == "invalid_request_error"
        assert caught.value.body["field"] == field  # ours beside OpenAI's
    with pytest.raises(openai.BadRequestError) as no_first:
        client.videos.create(prompt="p", extra_body=last)
    assert no_first.value.param == "input_reference"
    with pytest.raises(openai.BadRequestError) as unknown:
        client.videos.create(prompt="p", **frames, extra_body={**last, "colour": "red"})
    assert unknown.value.param == "colour"
    with pytest.raises(openai.AuthenticationError) as bad_key:
        sdk(server, "ib_wrong").videos.list()
    assert bad_key.value.body["name"] == "Unauthorized"
    mine = client.videos.create(prompt="p", model="inbetween/keyframe", **frames,
                                extra_body=last)
    assert mine.status == "queued"
    other = httpx.post(f"{server.url}/v1/videos", timeout=10, headers={
        "Authorization": f"Bearer {key}"}, json={"prompt": "p"})  # JSON without frames
    assert other.json()["error"]["param"] == "input_reference"
    from inbetween.keys import create_key
    from inbetween.settings import Settings
    from inbetween.store import open_store

    store = open_store(Settings(data_dir=server.data_dir))
    stranger, _ = create_key(store, "stranger")
    store.engine.dispose()
    with pytest.raises(openai.NotFoundError):
        sdk(server, stranger).videos.retrieve(mine.id)
    with pytest.raises(openai.NotFoundError):  # no content before completion either
        client.videos.download_content(mine.id)
    route = httpx.get(f"{server.url}/v1/nothing", headers={"Authorization": f"Bearer {key}"},
                      timeout=10).json()["error"]
    assert (route["type"], route["name"]) == ("invalid_request_error", "NotFound")


def test_the_curl_example_in_the_docs_works(
    server: Server, key: str, photos: dict[str, np.ndarray], tmp_path: Path,
) -> None:
    server.start(concurrency=0)
    (tmp_path / "first.jpg").write_bytes(encode(photos["rocket"], "JPEG"))
    (tmp_path / "last.jpg").write_bytes(encode(photos["chelsea"], "JPEG"))
    text = DOCS.read_text()
    command = re.search(r"## With curl\n.*?```sh\n(.*?)```", text, re.S)
    assert command is not None
    answer = subprocess.run(["bash", "-c", command.group(1)], cwd=tmp_path, text=True,
                            capture_output=True, timeout=60, check=True,
                            env={"INBETWEEN_BASE_URL": server.url, "INBETWEEN_API_KEY": key,
                                 "PATH": "/usr/bin:/bin"})
    import json

    made = json.loads(answer.stdout)
    assert (made["object"], made["status"], made["seconds"], made["size"]) == (
        "video", "queued", "4", "1280x720")
