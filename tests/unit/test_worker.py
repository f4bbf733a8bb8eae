"""The worker against the in-memory store and artifact store, with real and broken engines."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from inbetween.engines.base import Clip, EngineRequest, ProgressCallback
from inbetween.engines.keyframe import KeyframeEngine
from inbetween.errors import InfrastructureError
from inbetween.jobs.models import GenerationRequest, ImageInput, Status
from inbetween.jobs.service import submit
from inbetween.settings import Settings
from inbetween.storage import MemoryArtifacts
from inbetween.store import MemoryStore
from inbetween.worker import Worker
from tests.conftest import encode
from tests.helpers import decode_mp4


class BrokenEngine:
    name = "inbetween/keyframe"
    credits_per_second = 0.0

    def render(self, request: EngineRequest, first: np.ndarray, last: np.ndarray,
               on_progress: ProgressCallback | None = None) -> Clip:
        raise RuntimeError("out of cheese")


class FailingArtifacts(MemoryArtifacts):
    def put(self, source: Path, key: str) -> None:
        raise InfrastructureError("disk full")


@pytest.fixture
def setup(tmp_path: Path, photos: dict[str, np.ndarray]) -> Callable[..., tuple[
        MemoryStore, Worker, str]]:
    def make(engine: object = None, artifacts: MemoryArtifacts | None = None,
             **overrides: object) -> tuple[MemoryStore, Worker, str]:
        settings = Settings(data_dir=tmp_path / "d", **overrides)  # type: ignore[arg-type]
        store = MemoryStore()
        request = GenerationRequest(model="inbetween/keyframe", prompt="p", duration=4,
                                    resolution="720p", seed=3)
        job = submit(store, request, ImageInput(data=encode(photos["chelsea"])),
                     ImageInput(data=encode(photos["rocket"], "JPEG")), key_id="k")
        worker = Worker(settings, store, artifacts or MemoryArtifacts(),
                        {"inbetween/keyframe": engine or KeyframeEngine()})  # type: ignore[dict-item]
        return store, worker, job.id

    return make


def test_a_job_runs_to_completion(setup: Callable[..., tuple[MemoryStore, Worker, str]],
                                  tmp_path: Path) -> None:
    store, worker, job_id = setup()
    assert worker.run_once() and not worker.run_once()
    job = store.get(job_id)
    assert job is not None and job.status is Status.COMPLETED and job.progress == 100
    artifacts = worker.artifacts.inner  # type: ignore[attr-defined]
    assert isinstance(artifacts, MemoryArtifacts)
    (tmp_path / "v.mp4").write_bytes(artifacts.blobs[f"{job.video_token}.mp4"])
    assert decode_mp4(tmp_path / "v.mp4").frame_count == 96
    assert list(worker.tmp_dir.iterdir()) == []


def test_engine_failure_ends_the_job_with_a_reason(
    setup: Callable[..., tuple[MemoryStore, Worker, str]]
) -> None:
    store, worker, job_id = setup(engine=BrokenEngine())
    worker.run_once()
    job = store.get(job_id)
    assert job is not None and job.status is Status.ERROR
    assert job.error_name == "EngineError"
    assert job.error_message == "the engine failed: RuntimeError: out of cheese"


def test_infrastructure_failure_retries_then_gives_up(
    setup: Callable[..., tuple[MemoryStore, Worker, str]]
) -> None:
    store, worker, job_id = setup(artifacts=FailingArtifacts(), max_attempts=2,
                                  storage_retry_seconds="0.01,0.01")
    worker.run_once()
    job = store.get(job_id)
    assert job is not None and job.status is Status.QUEUED and job.attempts == 1
    worker.run_once()
    job = store.get(job_id)
    assert job is not None and job.status is Status.ERROR
    assert job.error_name == "StorageUnavailable" and "disk full" in (job.error_message or "")
    assert "after 3 tries" in (job.error_message or "")  # retried twice within each attempt


def test_shutdown_puts_the_running_job_back(
    setup: Callable[..., tuple[MemoryStore, Worker, str]]
) -> None:
    store, worker, job_id = setup()
    worker.stopping.set()  # as pool.stop() does: the job stops at its next progress report
    worker.run_once()
    job = store.get(job_id)
    assert job is not None and (job.status, job.lease_owner) == (Status.QUEUED, None)


def test_a_worker_that_lost_its_lease_writes_nothing(
    setup: Callable[..., tuple[MemoryStore, Worker, str]]
) -> None:
    store, worker, job_id = setup()
    taken = threading.Event()
    real_renew = store.renew

    def renew(*args: object, **kwargs: object) -> bool:
        if not taken.is_set():  # the lease expires and another worker takes the job over
            taken.set()
            store.reap(now=1e12, max_attempts=5)
            store.claim("other-worker", 30.0, now=1e12)
        return real_renew(*args, **kwargs)  # type: ignore[arg-type]

    store.renew = renew  # type: ignore[method-assign]
    worker.run_once()
    job = store.get(job_id)
    assert job is not None and job.status is Status.GENERATING
    assert job.lease_owner == "other-worker"
    artifacts = worker.artifacts.inner  # type: ignore[attr-defined]
    assert isinstance(artifacts, MemoryArtifacts) and artifacts.blobs == {}
