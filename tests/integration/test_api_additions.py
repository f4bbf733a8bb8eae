"""The playground issue's API additions, through the in-process app: listing, uploads,
previews, `Prefer: wait`, and the features advertised in the OpenAPI document. (The event
stream is tested on a real server: tests/e2e/test_events.py.)"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image

from inbetween.store import open_store
from tests.conftest import data_url, encode
from tests.helpers import wait_for
from tests.integration.conftest import Api, url_body


def _upload(api: Api, data: bytes, key: str | None = None, name: str = "f.png") -> Any:
    return api.client.post("/v2/uploads", files={"file": (name, data, "image/png")},
                           headers={"Authorization": f"Bearer {key or api.key}"})


def _error(response: Any, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


def test_openapi_advertises_the_features_and_documents_every_route(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    assert schema["info"]["x-inbetween-features"] == [
        "events", "uploads", "list", "wait", "idempotency", "webhooks", "deadlines", "budgets",
        "openai"]
    paths = schema["paths"]
    for path in ("/v2/video/generations/list", "/v2/video/generations/events", "/v2/uploads",
                 "/v2/uploads/{upload_id}", "/files/{token}.jpg", "/files/{token}.webp"):
        assert path in paths, path
    events = paths["/v2/video/generations/events"]["get"]
    assert "text/event-stream" in events["responses"]["200"]["content"]
    assert {"400", "401", "404", "429"} <= set(events["responses"])
    post = paths["/v2/video/generations"]["post"]
    assert any(p["name"] == "Prefer" and p["in"] == "header" for p in post["parameters"])


def test_listing_pages_newest_first_and_only_the_keys_own(api: Api) -> None:
    ids = [api.post(url_body(prompt=f"p{i}", seed=i, duration=4)).json()["id"]
           for i in range(5)]
    other = api.new_key()
    api.post(url_body(), key=other)
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, **({"after": after} if after else {})}
        page = api.client.get("/v2/video/generations/list", params=params, headers=api.auth)
        assert page.status_code == 200, page.text
        body = page.json()
        pages += 1
        assert len(body["data"]) <= 2
        seen += [item["id"] for item in body["data"]]
        after = body["next_cursor"]
        if after is None:
            break
    assert pages == 3 and seen == ids[::-1]
    first = api.client.get("/v2/video/generations/list", headers=api.auth).json()["data"][0]
    assert first["request"] == {"prompt": "p4", "aspect_ratio": "16:9", "resolution": "1080p",
                                "duration": 4, "generate_audio": True, "seed": 4}
    assert first["created_at"].endswith("Z") and first["status"] == "queued"
    assert first["meta"]["queue_position"] == 5  # the other key's job came later
    assert set(first) >= {"id", "status", "progress", "video", "error", "meta"}


@pytest.mark.parametrize("params, field", [
    ({"after": "not-a-cursor!"}, "after"),
    ({"after": "bm9wZQ"}, "after"),  # base64 of "nope"
    ({"limit": 0}, "limit"),
    ({"limit": 101}, "limit"),
    ({"limit": "ten"}, "limit"),
])
def test_listing_rejects_bad_parameters(api: Api, params: dict[str, Any], field: str) -> None:
    response = api.client.get("/v2/video/generations/list", params=params, headers=api.auth)
    assert _error(response)["field"] == field


def test_an_upload_is_used_by_url_whatever_its_host(
    api: Api, photos: dict[str, np.ndarray]
) -> None:
    png = encode(photos["astronaut"][:200, :300])
    uploaded = _upload(api, png)
    assert uploaded.status_code == 200, uploaded.text
    upload = uploaded.json()
    assert upload["url"] == f"http://testserver/v2/uploads/{upload['id']}"
    back = api.client.get(f"/v2/uploads/{upload['id']}", headers=api.auth)
    assert back.content == png and back.headers["content-type"] == "image/png"
    elsewhere = f"https://cdn.example.org/v2/uploads/{upload['id']}"  # never fetched
    created = api.post(url_body(image_url=elsewhere, last_image_url=upload["url"]))
    assert created.status_code == 200, created.text
    store = open_store(api.settings)
    first, last = store.inputs(created.json()["id"])
    store.engine.dispose()
    assert first.data == png and last.data == png and first.url is None


def test_uploads_belong_to_their_key(api: Api, photos: dict[str, np.ndarray]) -> None:
    upload = _upload(api, encode(photos["coffee"])).json()
    other = api.new_key()
    refused = api.post(url_body(last_image_url=upload["url"]), key=other)
    error = _error(refused)
    assert error["field"] == "last_image_url" and "no upload" in error["message"]
    hidden = api.client.get(f"/v2/uploads/{upload['id']}",
                            headers={"Authorization": f"Bearer {other}"})
    assert _error(hidden, 404)["name"] == "NotFound"
    unknown = api.post(url_body(image_url="/v2/uploads/0b5e3d56-1111-2222-3333-444455556666"))
    assert _error(unknown)["field"] == "image_url"


@pytest.mark.parametrize("data, words", [
    (b"GIF89a not really", "not a readable image"),
    (encode(np.zeros((32, 32, 3), np.uint8)), "at least 64×64"),
    (encode(np.zeros((64, 64, 3), np.uint8), "GIF"), "GIF images are not accepted"),
])
def test_uploads_are_checked_like_inputs(api: Api, data: bytes, words: str) -> None:
    error = _error(_upload(api, data))
    assert error["field"] == "file" and words in error["message"]


def test_an_upload_without_a_file_names_the_field(api: Api) -> None:
    response = api.client.post("/v2/uploads", data={"other": "x"}, headers=api.auth)
    assert _error(response)["field"] == "file"
    assert _error(api.client.post("/v2/uploads", files={"file": ("a", b"", "image/png")},
                                  headers=api.auth))["field"] == "file"


def test_unused_uploads_expire(make_api: Callable[..., Api],
                               photos: dict[str, np.ndarray]) -> None:
    # the reaper runs every lease/2 = 0.5 s and deletes uploads unused for ~0.04 s
    api = make_api(upload_ttl_hours=1e-5, lease_seconds=1.0)
    upload = _upload(api, encode(photos["coffee"])).json()

    def gone() -> bool:
        return api.client.get(f"/v2/uploads/{upload['id']}",
                              headers=api.auth).status_code == 404

    wait_for(gone, 30, "the upload to expire")
    error = _error(api.post(url_body(image_url=upload["url"])))
    assert error["field"] == "image_url" and "expire" in error["message"]
    assert not list((api.settings.files_dir).glob("upload-*"))


@pytest.mark.parametrize("prefer", ["wait=0", "wait=61", "wait=abc", "wait=", "respond-async",
                                    "wait=5, respond-async", "wait=1.5"])
def test_bad_prefer_headers_are_refused(api: Api, prefer: str) -> None:
    response = api.client.post("/v2/video/generations", json=url_body(),
                               headers={**api.auth, "Prefer": prefer})
    error = _error(response)
    assert error["field"] == "Prefer" and "1 to 60" in error["message"]


def test_wait_mode_answers_with_the_get_body_when_time_runs_out(api: Api) -> None:
    response = api.client.post("/v2/video/generations", json=url_body(),
                               headers={**api.auth, "Prefer": "wait=1"})
    assert response.status_code == 200
    assert response.headers["Preference-Applied"] == "wait=1"
    body = response.json()
    assert body["status"] == "queued" and body["meta"]["queue_position"] == 1
    assert set(body) == {"id", "status", "progress", "video", "error", "meta"}
    plain = api.post(url_body())
    assert set(plain.json()) == {"id", "status"} and "Preference-Applied" not in plain.headers


def _photo_body(photos: dict[str, np.ndarray], **overrides: object) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "inbetween/keyframe", "prompt": "a slow push in",
                            "image_url": data_url(photos["astronaut"], "JPEG"),
                            "last_image_url": data_url(photos["coffee"], "PNG"),
                            "resolution": "720p", "duration": 4}
    body.update(overrides)
    return body


def test_wait_mode_answers_when_the_generation_ends(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray]
) -> None:
    api = make_api(concurrency=1)
    done = api.client.post("/v2/video/generations", json=_photo_body(photos),
                           headers={**api.auth, "Prefer": "wait=60"})
    assert done.status_code == 200 and done.headers["Preference-Applied"] == "wait=60"
    body = done.json()
    assert body["status"] == "completed" and body["video"]["url"].endswith(".mp4")
    failed = api.client.post(
        "/v2/video/generations",
        json=_photo_body(photos, image_url="http://127.0.0.1:9/private.jpg"),
        headers={**api.auth, "Prefer": "wait=60"})
    assert failed.status_code == 200
    assert failed.json()["status"] == "error"
    assert failed.json()["error"]["name"] == "ImageFetchError"


def test_previews_are_small_animated_and_deleted_with_the_generation(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray]
) -> None:
    api = make_api(concurrency=1)
    generation_id = api.post(_photo_body(photos)).json()["id"]
    video = api.wait_finished(generation_id)["video"]
    token = video["url"].rsplit("/", 1)[1].removesuffix(".mp4")
    assert video["thumbnail_url"] == f"http://testserver/files/{token}.jpg"
    assert video["preview_url"] == f"http://testserver/files/{token}.webp"
    thumb = api.client.get(f"/files/{token}.jpg")  # no key needed, like the video
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    still = Image.open(io.BytesIO(thumb.content))
    assert still.format == "JPEG" and max(still.size) <= 640 and still.size[0] > still.size[1]
    preview = api.client.get(f"/files/{token}.webp")
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/webp"
    assert len(preview.content) <= 2 * 2**20
    animation = Image.open(io.BytesIO(preview.content))
    assert animation.format == "WEBP" and max(animation.size) <= 480
    assert getattr(animation, "n_frames", 1) >= 24  # 4 s at 8 fps = 32 frames
    first = np.asarray(animation.convert("RGB"), dtype=np.float32)
    animation.seek(animation.n_frames - 1)
    last = np.asarray(animation.convert("RGB"), dtype=np.float32)
    assert np.abs(first - last).mean() > 10  # it moves: astronaut → coffee
    api.client.delete("/v2/video/generations", params={"generation_id": generation_id},
                      headers=api.auth)
    for suffix in ("mp4", "jpg", "webp"):
        assert api.client.get(f"/files/{token}.{suffix}").status_code == 404
