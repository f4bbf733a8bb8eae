"""Run one generation end to end: claim → fetch → render → encode → store → finish.

Knows nothing of HTTP. The job's lease is renewed by a heartbeat thread while it runs; if
the lease is lost (another worker took the job over) the run stops and writes nothing.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from inbetween.engines.base import Engine, EngineRequest
from inbetween.engines.registry import claimable_models, route
from inbetween.errors import DeadlineExceeded, InfrastructureError, InvalidRequest, JobFailure
from inbetween.jobs.models import (
    FPS,
    Generation,
    ImageInput,
    JobWarning,
    Outcome,
    Stage,
    Status,
)
from inbetween.log import event
from inbetween.media.fetch import FetchPolicy, fetch_bytes
from inbetween.media.images import check_image
from inbetween.media.preview import PreviewTap
from inbetween.metrics import metric_stage
from inbetween.pipeline import load_image, render_to_file
from inbetween.settings import Settings
from inbetween.storage.base import ArtifactStore, delete_video
from inbetween.storage.retrying import RetryingArtifacts, storage_full
from inbetween.store.base import JobStore, deadline_message
from inbetween.upstream.prices import local_price
from inbetween.upstream.providers import Provider, build_providers
from inbetween.upstream.runner import UpstreamRunner

__all__ = ["Interrupted", "Worker"]

log = logging.getLogger("inbetween.worker")
OUTAGE_SECONDS = 600.0
"""How long a finished job waits for an unreachable job store to write its result."""
Clock = Callable[[], float]


class Interrupted(Exception):
    """The run must stop: the lease was lost, or the process is shutting down."""


_STAGE_LOGS = {
    Stage.QUEUED: "waiting in the upstream provider's queue",
    Stage.FETCHING: "fetching and decoding the first and last images",
    Stage.ANALYSING: "matching the two frames: camera motion and optical flow",
    Stage.RENDERING: "rendering and encoding the frames",
    Stage.ENCODING: "encoding the video",
    Stage.AUDIO: "finishing the sound track",
    Stage.STORING: "storing the video, its thumbnail and its preview",
}


class _Lease:
    """Keeps a job's lease alive from a background thread, records progress and logs."""

    def __init__(self, worker: Worker, job: Generation) -> None:
        self.worker, self.job_id, self.deadline_at = worker, job.id, job.deadline_at
        self._deadline_message = deadline_message(job)
        self.lost = False
        self._done = threading.Event()
        self._last_progress = -1
        self._last_stage: Stage | None = None
        self.upstream = False  # an upstream provider runs the job (for the stage metrics)
        self.stage_seconds: dict[str, float] = {}
        self._stage_started = worker.clock()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{job.id}", daemon=True)
        self._thread.start()

    def _renew(self, stage: Stage | None = None, progress: int | None = None) -> None:
        w = self.worker
        try:
            ok = w.store.renew(self.job_id, w.worker_id, w.settings.lease_seconds, w.clock(),
                               stage=stage, progress=progress)
        except InfrastructureError as e:  # keep trying until the lease runs out
            event(log, "lease.renew_failed", level=logging.WARNING, job=self.job_id, error=str(e))
            return
        if not ok:
            self.lost = True

    def _beat(self) -> None:
        interval = self.worker.settings.lease_seconds / 3
        while not self._done.wait(interval):
            self._renew()

    def log(self, message: str, level: str = "info") -> None:
        """Add a line to the job's log in the store (live events show it)."""
        w = self.worker
        try:
            if not w.store.append_log(self.job_id, w.worker_id, level, message, w.clock()):
                self.lost = True
        except InfrastructureError as e:  # a lost log line is not worth failing the job
            event(log, "job.log_failed", level=logging.WARNING, job=self.job_id, error=str(e))

    def update(self, stage: Stage, progress: int) -> None:
        """Record stage and progress (when either moved); raise Interrupted if we must stop."""
        moved = stage is not self._last_stage or progress != self._last_progress
        if stage is not self._last_stage:
            self.time_stage()
            self._last_stage = stage
            self.log(_STAGE_LOGS.get(stage, stage.value))
        if moved:
            self._last_progress = progress
            self._renew(stage=stage, progress=progress)
        if self.lost:
            raise Interrupted("lease lost")
        if self.worker.stopping.is_set():
            raise Interrupted("shutting down")
        self.check_deadline()

    def time_stage(self) -> None:
        """Add the time since the last stage change to that stage's total."""
        now = self.worker.clock()
        if self._last_stage is not None:
            name = metric_stage(self._last_stage, self.upstream)
            if name is not None:
                self.stage_seconds[name] = self.stage_seconds.get(name, 0.0) + (
                    now - self._stage_started)
        self._stage_started = now

    def check_deadline(self) -> None:
        """DeadlineExceeded once the job's Cancel-After deadline has passed."""
        if self.deadline_at is not None and self.worker.clock() >= self.deadline_at:
            self.log("the deadline set by Cancel-After has passed: stopping", "error")
            raise DeadlineExceeded(self._deadline_message)

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` (no longer than the deadline), or less when the process is
        stopping (then Interrupted)."""
        if self.deadline_at is not None:
            seconds = max(0.0, min(seconds, self.deadline_at - self.worker.clock()))
        if self.worker.stopping.wait(seconds):
            raise Interrupted("shutting down")
        if self.lost:
            raise Interrupted("lease lost")
        self.check_deadline()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


class Worker:
    """Claims and runs jobs from a JobStore."""

    def __init__(
        self,
        settings: Settings,
        store: JobStore,
        artifacts: ArtifactStore,
        engines: Mapping[str, Engine],
        *,
        worker_id: str | None = None,
        clock: Clock = time.time,
        stopping: threading.Event | None = None,
        providers: dict[str, Provider] | None = None,
    ) -> None:
        self.settings, self.store = settings, store
        self.worker_id = worker_id or f"{uuid.uuid4().hex[:12]}"
        self.clock = clock
        self.stopping = stopping or threading.Event()
        # storing a video outlasts short outages of S3 or the videos folder
        self.artifacts: ArtifactStore = RetryingArtifacts(
            artifacts, settings.storage_schedule, self.stopping.wait)
        self.engines = engines
        self.tmp_dir = settings.tmp_dir
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.models = claimable_models(settings)  # INBETWEEN_WORKER_ENGINES
        self.upstream = UpstreamRunner(settings, store, self.artifacts,
                                       build_providers(settings) if providers is None
                                       else providers, self.worker_id, clock)
        self.fetch_policy = FetchPolicy.of(settings)

    def run_once(self, generation_id: str | None = None) -> bool:
        """Claim and run the oldest queued job (or ``generation_id`` if it is still queued:
        a job that runs or ran elsewhere is never run twice); False when there was none."""
        job = self.store.claim(self.worker_id, self.settings.lease_seconds, self.clock(),
                               generation_id, self.models)
        if job is None:
            return False
        self.run(job)
        return True

    def run(self, job: Generation) -> None:
        """Run a claimed job to its end (or give it back when interrupted)."""
        event(log, "job.started", job=job.id, worker=self.worker_id, attempt=job.attempts)
        self._remove_partials(job.id)
        tmp = self.tmp_dir / f"{job.id}.{self.worker_id}.part.mp4"
        lease = _Lease(self, job)
        try:
            outcome = self._outcome(job, tmp, lease)
        except Interrupted as e:
            event(log, "job.interrupted", job=job.id, reason=str(e))
            if not lease.lost:
                self.store.release(job.id, self.worker_id, self.clock())
            return
        except InfrastructureError as e:
            if job.attempts < self.settings.max_attempts:
                event(log, "job.released", level=logging.WARNING, job=job.id, error=str(e))
                self._through_outage(lambda: self.store.release(job.id, self.worker_id,
                                                                self.clock()))
                return
            outcome = Outcome(Status.ERROR, error_name=e.name, error_message=(
                f"{e.message} (gave up after {job.attempts} attempts; the server's storage or "
                "database is failing: ask its operator to check the logs)"))
        finally:
            lease.stop()
            tmp.unlink(missing_ok=True)
        lease.time_stage()
        outcome = dataclasses.replace(outcome, stage_seconds=dict(lease.stage_seconds))
        # the result is written when the store answers again; if the reaper put the job
        # back meanwhile, the finish is refused and the job runs again: never both
        if not self._through_outage(lambda: self.store.finish(job.id, self.worker_id, outcome,
                                                              self.clock())) \
                and not self._finished_as(job.id, outcome):
            event(log, "job.lease_lost", level=logging.WARNING, job=job.id)
            if outcome.video_token:
                delete_video(self.artifacts, outcome.video_token)
            return
        event(log, "job.finished", job=job.id, status=outcome.status.value,
              error=outcome.error_name)

    def _finished_as(self, job_id: str, outcome: Outcome) -> bool:
        """Whether the store already holds ``outcome`` for the job: a finish that committed
        but whose answer was lost (the connection dropped) looks like a lost lease when it
        is tried again."""
        try:
            stored = self.store.get(job_id)
        except InfrastructureError:
            return False
        return (stored is not None and stored.status is outcome.status
                and stored.video_token == outcome.video_token
                and stored.error_name == outcome.error_name)

    def _through_outage(self, write: Callable[[], bool]) -> bool:
        """``write`` to the store, tried again every second while the store cannot be
        reached (for up to OUTAGE_SECONDS, or until this process stops); False when the
        lease was lost or the store never came back."""
        deadline = time.monotonic() + OUTAGE_SECONDS
        while True:
            try:
                return write()
            except InfrastructureError as e:
                if time.monotonic() > deadline or self.stopping.is_set():
                    event(log, "job.store_unreachable", level=logging.ERROR, error=str(e))
                    return False
                event(log, "job.store_retry", level=logging.WARNING, error=str(e))
                self.stopping.wait(1.0)

    def _outcome(self, job: Generation, tmp: Path, lease: _Lease) -> Outcome:
        try:
            return self._generate(job, tmp, lease)
        except (JobFailure, InvalidRequest) as e:  # InvalidRequest: e.g. a provider removed
            return Outcome(Status.ERROR, error_name=e.name, error_message=e.message)
        except (Interrupted, InfrastructureError):
            raise
        except OSError as e:
            if e.errno != errno.ENOSPC:
                return self._engine_failed(job, e)
            failure = storage_full(e, self.tmp_dir)
            event(log, "job.disk_full", level=logging.ERROR, job=job.id, error=failure.message)
            return Outcome(Status.ERROR, error_name=failure.name,
                           error_message=failure.message)
        except Exception as e:
            return self._engine_failed(job, e)

    @staticmethod
    def _engine_failed(job: Generation, e: Exception) -> Outcome:
        event(log, "job.engine_failed", level=logging.ERROR, exc=True, job=job.id)
        return Outcome(Status.ERROR, error_name="EngineError",
                       error_message=f"the engine failed: {type(e).__name__}: {e}")

    def _generate(self, job: Generation, tmp: Path, lease: _Lease) -> Outcome:
        chosen = route(job.request, self.settings)
        lease.update(Stage.FETCHING, 1)
        first_input, last_input = self.store.inputs(job.id)
        if not chosen.chain:
            return self._local(job, tmp, lease, chosen.engine, chosen.warnings,
                               first_input, last_input)
        lease.upstream = True
        # an upstream provider gets the images as they were sent (checked, not re-encoded)
        first_bytes = self._input_bytes(first_input, "image_url")
        last_bytes = self._input_bytes(last_input, "last_image_url")
        return self.upstream.run(
            job, chosen, lease, first_bytes, last_bytes, tmp,
            local=lambda notes: self._local(  # the bytes already fetched, not fetched again
                job, tmp, lease, chosen.engine, chosen.warnings + notes,
                ImageInput(data=first_bytes), ImageInput(data=last_bytes)))

    def _local(self, job: Generation, tmp: Path, lease: _Lease, engine_name: str,
               notes: tuple[JobWarning, ...], first_input: ImageInput,
               last_input: ImageInput) -> Outcome:
        req = job.request
        engine = self.engines[engine_name]
        # 1. fetch and decode the inputs
        first = self._load(first_input, "image_url")
        last = self._load(last_input, "last_image_url")
        # 2. analyse, render and encode, streaming
        width, height = req.size
        engine_request = EngineRequest(
            prompt=req.prompt, width=width, height=height, fps=FPS,
            frame_count=req.frame_count, seed=job.seed, generate_audio=req.generate_audio,
            negative_prompt=req.negative_prompt,
        )
        lease.log(f"inputs decoded: first {first.shape[1]}×{first.shape[0]}, "
                  f"last {last.shape[1]}×{last.shape[0]}; output {width}×{height}, "
                  f"{req.frame_count} frames at {FPS} fps, engine {engine.name}")
        tap = PreviewTap(req.frame_count, FPS)
        rendered = render_to_file(
            engine, engine_request, first, last, tmp,
            crf=self.settings.video_crf, preset=self.settings.video_preset,
            x264_params=self.settings.video_x264_params, report=lease.update,
            tap=tap,
        )
        warnings = notes + rendered.warnings
        for warning in warnings:
            lease.log(f"{warning.code}: {warning.message}", "warning")
        # 3. store the video and its previews
        lease.update(Stage.STORING, 96)
        token = secrets.token_urlsafe(24)
        try:
            self._store_previews(tap, tmp, token)
            self.artifacts.put(tmp, f"{token}.mp4")
        except BaseException:  # nothing of a video that was not stored whole is kept
            try:
                delete_video(self.artifacts, token)
            except Exception as e:  # the store is failing: what it holds is not served
                event(log, "job.cleanup_failed", level=logging.WARNING, job=job.id,
                      error=f"{type(e).__name__}: {e}"[:300])
            raise
        lease.log("video stored")
        return Outcome(
            Status.COMPLETED,
            engine=engine.name,
            video_token=token,
            warnings=warnings,
            details={**rendered.details, "worker": self.worker_id},
            credits_used=round(req.duration * local_price(
                self.settings.prices, engine.name, req.generate_audio,
                engine.credits_per_second), 6),
        )

    def _store_previews(self, tap: PreviewTap, video: Path, token: str) -> None:
        thumbnail, preview = video.with_suffix(".jpg"), video.with_suffix(".webp")
        try:
            tap.write(thumbnail, preview)
            self.artifacts.put(thumbnail, f"{token}.jpg")
            self.artifacts.put(preview, f"{token}.webp")
        finally:
            thumbnail.unlink(missing_ok=True)
            preview.unlink(missing_ok=True)

    def _input_bytes(self, source: ImageInput, field: str) -> bytes:
        data = source.data if source.data is not None else fetch_bytes(
            str(source.url), field, self.fetch_policy)
        check_image(data, field, self.settings.max_pixels)
        return data

    def _load(self, source: ImageInput, field: str) -> np.ndarray:
        return load_image(source, field, max_pixels=self.settings.max_pixels,
                          policy=self.fetch_policy)

    def _remove_partials(self, job_id: str) -> None:
        """Delete temporary files left by earlier attempts whose workers died."""
        for stale in self.tmp_dir.glob(f"{job_id}.*.part.*"):
            stale.unlink(missing_ok=True)
