"""A client of the hosted API, unchanged, against a real inbetween server over loopback."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from inbetween.media.images import fit_to_canvas
from tests.conftest import encode, psnr
from tests.e2e.conftest import Client, Server
from tests.helpers import decode_mp4

CASES = [  # aspect, resolution, duration, audio, size
    ("16:9", "720p", 8, True, (1280, 720)),
    ("9:16", "720p", 6, False, (720, 1280)),
    ("16:9", "1080p", 4, False, (1920, 1080)),
    ("9:16", "1080p", 4, True, (1080, 1920)),
    ("16:9", "720p", 6, True, (1280, 720)),
    ("9:16", "720p", 8, False, (720, 1280)),
]


def test_generations_end_to_end(server: Server, key: str, photos: dict[str, np.ndarray],
                                tmp_path: Path) -> None:
    server.start(concurrency=1)
    client = Client(server, key)
    first_bytes = encode(photos["astronaut"], "PNG")
    last_bytes = encode(photos["coffee"], "JPEG", quality=92)
    first_rgb = np.asarray(Image.open(io.BytesIO(first_bytes)).convert("RGB"))
    last_rgb = np.asarray(Image.open(io.BytesIO(last_bytes)).convert("RGB"))
    ids = []
    for aspect, resolution, duration, audio, _ in CASES:
        ids.append(client.submit({
            "model": "google/veo-3.1-first-last-image-to-video",
            "prompt": "A woman looks into the camera, then the scene becomes a cup of coffee",
            "image_url": "data:image/png;base64," + base64.b64encode(first_bytes).decode(),
            "last_image_url": base64.b64encode(last_bytes).decode(),
            "aspect_ratio": aspect, "resolution": resolution, "duration": duration,
            "generate_audio": audio,
        }))
    for generation_id, (_aspect, _res, duration, audio, (w, h)) in zip(ids, CASES, strict=True):
        body = client.wait(generation_id)
        assert body["status"] == "completed", body
        url = body["video"]["url"]
        assert url.startswith(server.url + "/files/")
        response = httpx.get(url, timeout=60)  # no key
        assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
        path = tmp_path / f"{generation_id}.mp4"
        path.write_bytes(response.content)
        video = decode_mp4(path)
        assert (video.width, video.height) == (w, h)
        assert (video.codec, video.pix_fmt, video.fps) == ("h264", "yuv420p", 24.0)
        assert video.frame_count == duration * 24 and video.video_seconds == duration
        if audio:
            assert video.audio is not None and video.audio["codec_aac"] == 1.0
            assert (video.audio["sample_rate"], video.audio["channels"]) == (48000, 2)
            assert abs(video.audio["seconds"] - duration) < 0.05
        else:
            assert video.audio is None
        assert psnr(video.first, fit_to_canvas(first_rgb, w, h)) >= 35
        assert psnr(video.last, fit_to_canvas(last_rgb, w, h)) >= 35


def test_bad_input_never_500s_and_unknown_ids_404(server: Server, key: str) -> None:
    server.start(concurrency=0)
    headers = {"Authorization": f"Bearer {key}"}
    url = f"{server.url}/v2/video/generations"
    for raw in (b"", b"{", b"null", b'{"model": 1}', b"\xff\xfe", b'{"prompt": "' + b"x" * 10_000
                + b'"}'):
        response = httpx.post(url, content=raw, headers={**headers,
                              "Content-Type": "application/json"}, timeout=30)
        assert response.status_code == 400, (raw[:20], response.text)
        assert response.json()["error"]["name"] == "InvalidRequest"
    response = httpx.get(url, params={"generation_id": "nope"}, headers=headers, timeout=30)
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/docs", "/openapi.json", "/healthz"])
def test_public_routes(server: Server, path: str) -> None:
    server.start(concurrency=0)
    assert httpx.get(server.url + path, timeout=30).status_code == 200
