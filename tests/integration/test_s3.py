"""S3 artifact storage against an S3-compatible server on loopback (moto's server mode)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from inbetween.storage.s3 import S3Artifacts
from tests.conftest import data_url
from tests.integration.conftest import Api


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="videos")
    yield endpoint
    server.stop()


def test_s3_store_put_redirect_delete(s3_endpoint: str, tmp_path: Path) -> None:
    store = S3Artifacts("s3://videos/clips", endpoint_url=s3_endpoint, presign_seconds=60)
    source = tmp_path / "x.mp4"
    source.write_bytes(b"\x00\x00\x00\x18ftypmp42 video bytes")
    store.put(source, "abc.mp4")
    assert not source.exists()  # moved, as the local store does
    assert store.local_path("abc.mp4") is None
    url = store.redirect_url("abc.mp4")
    assert url is not None and "X-Amz-Signature=" in url and "/clips/abc.mp4" in url
    assert httpx.get(url).content == b"\x00\x00\x00\x18ftypmp42 video bytes"
    assert store.redirect_url("missing.mp4") is None
    store.delete("abc.mp4")
    assert store.redirect_url("abc.mp4") is None
    public = S3Artifacts("s3://videos", endpoint_url=s3_endpoint,
                         public_base_url="https://cdn.example.com/")
    source.write_bytes(b"v")
    public.put(source, "p.mp4")
    assert public.redirect_url("p.mp4") == "https://cdn.example.com/p.mp4"


def test_bad_storage_url_is_refused() -> None:
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        S3Artifacts("https://videos/clips")


def test_generation_stored_in_s3_is_served_by_redirect(
    make_api: Callable[..., Api], s3_endpoint: str, photos: dict[str, np.ndarray]
) -> None:
    api = make_api(concurrency=1, storage_url="s3://videos/out", s3_endpoint_url=s3_endpoint,
                   presign_seconds=120)
    body = {"model": "inbetween/keyframe", "prompt": "p", "resolution": "720p", "duration": 4,
            "image_url": data_url(photos["rocket"]), "last_image_url": data_url(photos["rocket"])}
    generation_id = api.post(body).json()["id"]
    result = api.wait_finished(generation_id)
    assert result["status"] == "completed"
    url = result["video"]["url"].removeprefix("http://testserver")
    assert url.startswith("/files/")  # the server's own, never-expiring URL
    redirect = api.client.get(url, follow_redirects=False)
    assert redirect.status_code == 302
    video = httpx.get(redirect.headers["location"])
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert not list((api.settings.data_dir / "files").glob("*.mp4"))  # nothing kept locally
    api.client.delete("/v2/video/generations", params={"generation_id": generation_id},
                      headers=api.auth)
    assert api.client.get(url, follow_redirects=False).status_code == 404
