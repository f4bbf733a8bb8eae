"""A full disk (ENOSPC, injected where the video is written and where it is stored) ends the
job as `StorageFull` saying what is full, with no partial file kept or served, and the server
keeps answering. An S3 server that goes away while a video is stored: the store step retries
with backoff and completes when it returns (one object); if it never returns the job goes
back to the queue and, after its last attempt, ends as `StorageUnavailable`."""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inbetween import pipeline
from inbetween.jobs.models import Stage
from inbetween.storage import local
from inbetween.store import open_store
from tests.conftest import data_url
from tests.faults.conftest import S3, settle
from tests.helpers import wait_for
from tests.integration.conftest import Api


def _body(photos: dict[str, np.ndarray]) -> dict[str, Any]:
    return {"model": "inbetween/keyframe", "prompt": "p", "resolution": "720p",
            "duration": 4, "generate_audio": False,
            "image_url": data_url(photos["rocket"], "JPEG"),
            "last_image_url": data_url(photos["chelsea"], "JPEG")}


def _full(path: Path) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


def test_a_full_disk_while_encoding_or_storing_ends_as_storage_full(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = make_api(concurrency=1)
    encode = pipeline.encode_mp4

    def encode_until_full(path: Path, *args: Any, **kwargs: Any) -> None:
        path.write_bytes(b"\x00\x00\x00\x18ftypisom")  # part of a file, then the disk fills
        raise _full(path)

    monkeypatch.setattr(pipeline, "encode_mp4", encode_until_full)
    done = api.wait_finished(api.post(_body(photos)).json()["id"])
    assert done["status"] == "error" and done["error"]["name"] == "StorageFull"
    message = done["error"]["message"]
    assert "no space left on device" in message and ".part.mp4" in message
    assert done["video"] is None and done["meta"]["usage"]["credits_used"] == 0
    files, tmp = api.settings.files_dir, api.settings.tmp_dir
    assert list(files.glob("*")) == [] and list(tmp.glob("*.mp4")) == []  # nothing partial
    assert api.client.get("/healthz").status_code == 200  # the server keeps answering

    monkeypatch.setattr(pipeline, "encode_mp4", encode)
    replace = os.replace

    def full_when_storing_the_video(source: Any, target: Any) -> None:
        if str(target).endswith(".mp4"):
            raise _full(Path(target))
        replace(source, target)

    monkeypatch.setattr(local.os, "replace", full_when_storing_the_video)
    stored = api.wait_finished(api.post(_body(photos)).json()["id"])
    assert stored["error"]["name"] == "StorageFull"
    assert list(files.glob("*")) == []  # the thumbnail and preview went with it
    monkeypatch.setattr(local.os, "replace", replace)
    ok = api.wait_finished(api.post(_body(photos)).json()["id"])
    assert ok["status"] == "completed"  # once there is space, jobs complete again


def _stage(api: Api, job: str) -> Stage | None:
    store = open_store(api.settings)
    try:
        found = store.get(job)
        return found.stage if found else None
    finally:
        store.engine.dispose()


def test_s3_going_away_while_storing(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray], s3_server: S3,
) -> None:
    bucket = f"videos-{uuid.uuid4().hex[:8]}"  # moto keeps buckets across tests
    s3_server.client().create_bucket(Bucket=bucket)
    api = make_api(concurrency=1, storage_url=f"s3://{bucket}/v",
                   s3_endpoint_url=s3_server.env["INBETWEEN_S3_ENDPOINT_URL"],
                   storage_retry_seconds=",".join(["1"] * 30), max_attempts=2)
    s3_server.stop()  # down before the video is ready to be stored
    job = api.post(_body(photos)).json()["id"]
    wait_for(lambda: _stage(api, job) is Stage.STORING, 60, "the job to reach storing")
    settle(5)  # the outage lasts; the worker keeps retrying
    assert api.get(job).json()["status"] == "generating"
    s3_server.start()
    done = api.wait_finished(job)
    assert done["status"] == "completed", done
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert sorted(k.rsplit(".", 1)[-1] for k in keys) == ["jpg", "mp4", "webp"]


def test_s3_that_never_comes_back_ends_as_storage_unavailable(
    make_api: Callable[..., Api], photos: dict[str, np.ndarray], s3_server: S3,
) -> None:
    bucket = f"videos-{uuid.uuid4().hex[:8]}"
    s3_server.client().create_bucket(Bucket=bucket)
    api = make_api(concurrency=1, storage_url=f"s3://{bucket}/v",
                   s3_endpoint_url=s3_server.env["INBETWEEN_S3_ENDPOINT_URL"],
                   storage_retry_seconds="0.2,0.2", max_attempts=2)
    s3_server.stop()
    done = api.wait_finished(api.post(_body(photos)).json()["id"])
    assert done["status"] == "error" and done["error"]["name"] == "StorageUnavailable"
    assert "after 3 tries" in done["error"]["message"]
    assert "gave up after 2 attempts" in done["error"]["message"]  # requeued once first
    s3_server.start()
    assert "Contents" not in s3_server.client().list_objects_v2(Bucket=bucket)
