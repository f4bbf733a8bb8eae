"""INBETWEEN_SIGNED_URLS: video URLs carry an expiring signature that is checked."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import numpy as np

from inbetween.signing import UrlSigner
from tests.conftest import data_url
from tests.integration.conftest import Api


def _finished_url(api: Api, photos: dict[str, np.ndarray]) -> str:
    body = {"model": "inbetween/keyframe", "prompt": "p", "resolution": "720p", "duration": 4,
            "image_url": data_url(photos["rocket"]), "last_image_url": data_url(photos["rocket"])}
    generation_id = api.post(body).json()["id"]
    url: str = api.wait_finished(generation_id)["video"]["url"]
    return url.removeprefix("http://testserver")


def test_signed_urls_are_checked(make_api: Callable[..., Api],
                                 photos: dict[str, np.ndarray]) -> None:
    api = make_api(concurrency=1, signed_urls=True, url_secret="s3cret", signed_url_seconds=60)
    url = _finished_url(api, photos)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert set(query) == {"expires", "signature"}
    assert api.client.get(url).status_code == 200
    assert api.client.get(url, headers={"Range": "bytes=0-9"}).status_code == 206
    for bad in (parts.path,  # unsigned
                url.replace(query["signature"][0], "0" * 64),  # tampered signature
                url.replace(query["expires"][0], str(int(query["expires"][0]) + 3600))):
        response = api.client.get(bad)
        assert response.status_code == 403, bad
        assert response.json()["error"]["name"] == "Forbidden"
    token = parts.path.removeprefix("/files/").removesuffix(".mp4")
    expired = UrlSigner(b"s3cret", 60).sign(token, now=0)  # expired in 1970
    assert api.client.get(f"{parts.path}?{expired}").status_code == 403


def test_the_secret_is_kept_in_the_data_dir(make_api: Callable[..., Api]) -> None:
    api = make_api(signed_urls=True)
    secret_file = api.settings.data_dir / "url-secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600
    again = UrlSigner.from_settings(api.settings)  # another process on this machine
    assert again.secret == secret_file.read_bytes().strip() and len(again.secret) == 64


def test_unsigned_by_default(make_api: Callable[..., Api],
                             photos: dict[str, np.ndarray]) -> None:
    api = make_api(concurrency=1)
    assert "?" not in _finished_url(api, photos)
