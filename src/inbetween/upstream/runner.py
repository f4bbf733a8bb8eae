"""Run one generation through the upstream chain, never billing twice.

The job store records where the job is upstream (``Generation.upstream``): before the
submission is sent (phase ``submitting``), and the provider's handle before the first poll
(phase ``submitted``). A job claimed again — lease expiry, broker redelivery, a restart —
resumes polling that handle and never submits again; one that died while its submission was
in flight ends as ``UpstreamUncertain`` rather than risk a second paid job. The chain moves on
only when a submission provably started nothing (``UpstreamFailure.fallback``).
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import av

from inbetween.engines.registry import Route
from inbetween.errors import (
    DeadlineExceeded,
    ImageFetchError,
    JobFailure,
    UpstreamError,
    UpstreamFailure,
    UpstreamTimeout,
    UpstreamUncertain,
)
from inbetween.jobs.models import Generation, JobWarning, Outcome, Stage, Status
from inbetween.log import event
from inbetween.media.fetch import FetchPolicy, fetch_to_file
from inbetween.media.preview import previews_from_video
from inbetween.settings import Settings
from inbetween.storage.base import ArtifactStore
from inbetween.store.base import JobStore
from inbetween.upstream.prices import price_per_second
from inbetween.upstream.providers import Provider

__all__ = ["Lease", "UpstreamRunner"]

log = logging.getLogger("inbetween.upstream")


class Lease(Protocol):
    def update(self, stage: Stage, progress: int) -> None: ...

    def log(self, message: str, level: str = "info") -> None: ...

    def pause(self, seconds: float) -> None: ...


@dataclass
class UpstreamRunner:
    settings: Settings
    store: JobStore
    artifacts: ArtifactStore
    providers: dict[str, Provider]
    worker_id: str
    clock: Callable[[], float]

    def run(self, job: Generation, route: Route, lease: Lease, first: bytes, last: bytes,
            tmp: Path, local: Callable[[tuple[JobWarning, ...]], Outcome]) -> Outcome:
        state: dict[str, Any] = dict(job.upstream or {})
        attempts: list[dict[str, Any]] = list(state.get("attempts", []))
        fast = job.request.model.endswith("-fast")
        if state.get("phase") == "submitted":  # claimed again: resume, never resubmit
            provider = self.providers.get(state["provider"])
            if provider is None:
                return self._fail(job, state, attempts, UpstreamError(
                    f"provider {state['provider']} is no longer configured on this server; "
                    "its job may still finish there"), lease)
            lease.log(f"resuming the {provider.name} job submitted earlier (not resubmitted)")
            return self._follow(job, provider, state, attempts, lease, tmp)
        if state.get("phase") == "submitting":  # died while the submission was in flight
            lost = UpstreamUncertain(
                f"the worker stopped while submitting to {state.get('provider')}; the job may "
                "or may not have started there, so it was not submitted again")
            attempts.append(_attempt(state.get("provider"), state.get("model"), lost))
            return self._fail(job, state, attempts, lost, lease)
        if not attempts:
            attempts = [{"provider": name, "model": None, "outcome": "skipped", "reason": why,
                         "http_status": None} for name, why in route.skipped]
        failure: UpstreamFailure | None = None
        for name in route.chain:
            if name == "local":
                attempts.append({"provider": "local", "model": route.engine,
                                 "outcome": "started", "reason": None, "http_status": None})
                self._save(job, {"provider": "local", "attempts": attempts})
                note = JobWarning("upstream_fallback", "every upstream provider failed, so the "
                                  f"local engine {route.engine} made this video (the operator "
                                  "put `local` in INBETWEEN_PROVIDER_CHAIN)")
                return local((note,))
            provider = self.providers[name]
            model = provider.model(fast)
            state = {"provider": name, "model": model, "phase": "submitting",
                     "attempts": attempts, "seed_honoured": provider.honours_seed}
            self._save(job, state)
            lease.update(Stage.QUEUED, 5)
            lease.log(f"submitting to {name} ({model})")
            try:
                handle = provider.submit(job.request, model, first, last)
            except UpstreamFailure as e:
                failure = e
                attempts.append(_attempt(name, model, e))
                lease.log(f"{name}: {e.name}: {e.message}", "warning")
                event(log, "upstream.submit_failed", level=logging.WARNING, job=job.id,
                      provider=name, error=e.name, status=e.http_status)
                self._save(job, {"attempts": attempts, "provider": name, "model": model,
                                 "phase": "failed"})
                if e.fallback:
                    continue
                return self._fail(job, state, attempts, e, lease)
            state.update(phase="submitted", handle=handle, submitted_at=self.clock())
            self._save(job, state)  # before the first poll
            event(log, "upstream.submitted", job=job.id, provider=name, model=model)
            return self._follow(job, provider, state, attempts, lease, tmp)
        assert failure is not None, "an empty chain runs locally"
        tried = "; ".join(f"{a['provider']}: {a['reason']}" for a in attempts)
        final = type(failure)(f"no upstream provider could take the job: {tried}",
                              http_status=failure.http_status)
        return self._fail(job, state, attempts, final, lease)

    # -- following a submitted job --------------------------------------------------------
    def _follow(self, job: Generation, provider: Provider, state: dict[str, Any],
                attempts: list[dict[str, Any]], lease: Lease, tmp: Path) -> Outcome:
        try:
            return self._poll_until_done(job, provider, state, attempts, lease, tmp)
        except DeadlineExceeded as e:  # the job's own deadline (Cancel-After)
            cancelled = self._cancel(provider, state["handle"])
            failure = DeadlineExceeded(
                f"{e.message} " + (f"The {provider.name} job was cancelled." if cancelled else
                                   f"{provider.name} cannot cancel a job it has started: it "
                                   "may still complete and be billed there."))
            attempts.append(_attempt(provider.name, state["model"], failure))
            return self._fail(job, state, attempts, failure, lease)

    def _poll_until_done(self, job: Generation, provider: Provider, state: dict[str, Any],
                         attempts: list[dict[str, Any]], lease: Lease, tmp: Path) -> Outcome:
        handle = state["handle"]
        deadline = float(state["submitted_at"]) + self.settings.upstream_timeout_seconds
        steps = 0
        while True:
            if self.clock() > deadline:
                cancelled = self._cancel(provider, handle)
                failure = UpstreamTimeout(
                    f"{provider.name} did not finish within "
                    f"{self.settings.upstream_timeout_seconds:g} s "
                    f"(INBETWEEN_UPSTREAM_TIMEOUT_SECONDS); "
                    + ("the upstream job was cancelled" if cancelled else
                       "it cannot be cancelled there and may still complete and be billed"))
                attempts.append(_attempt(provider.name, state["model"], failure))
                return self._fail(job, state, attempts, failure, lease)
            try:
                poll = provider.poll(handle)
            except UpstreamFailure as e:  # the job started: no fallback
                attempts.append(_attempt(provider.name, state["model"], e))
                return self._fail(job, state, attempts, e, lease)
            seen = int(state.get("logs_seen", 0))
            for level, message in poll.logs[seen:]:
                lease.log(f"{provider.name}: {message}", level if level in (
                    "info", "warning", "error", "debug") else "info")
            changed = len(poll.logs) != seen or poll.queue_position != state.get(
                "queue_position")
            state["logs_seen"], state["queue_position"] = len(poll.logs), poll.queue_position
            if changed:
                self._save(job, state)
            if poll.state == "done":
                break
            if poll.state == "queued":
                lease.update(Stage.QUEUED, 10)
            else:
                steps += 1
                lease.update(Stage.RENDERING, min(90, 10 + 5 * steps))
            lease.pause(self.settings.upstream_poll_seconds)
        assert poll.video_url is not None
        return self._store(job, provider, state, attempts, lease, tmp, poll.video_url)

    def _store(self, job: Generation, provider: Provider, state: dict[str, Any],
               attempts: list[dict[str, Any]], lease: Lease, tmp: Path, url: str) -> Outcome:
        req = job.request
        lease.update(Stage.STORING, 92)
        lease.log(f"{provider.name} finished; copying its video into this server's storage")
        policy = dataclasses.replace(FetchPolicy.from_settings(
            self.settings.fetch_allow, self.settings.upstream_max_mb,
            self.settings.fetch_connect_seconds, total_timeout=600.0),
            limit_name="INBETWEEN_UPSTREAM_MAX_MB")
        warnings = provider.warnings(req)
        token = secrets.token_urlsafe(24)
        thumbnail, preview = tmp.with_suffix(".jpg"), tmp.with_suffix(".webp")
        try:
            problem = None
            try:
                fetch_to_file(url, tmp, "video", policy, headers_for=provider.download_headers,
                              accept="video/mp4,video/*")
                _check_video(tmp, req.size, req.duration)
                if provider.name == "google" and not req.generate_audio:
                    _drop_audio(tmp)
                # decodes every frame once: a file that does not decode fails here
                previews_from_video(tmp, thumbnail, preview)
            except (ImageFetchError, UpstreamError) as e:
                problem = e.message
            except (av.error.FFmpegError, ValueError) as e:
                problem = f"the provider's file does not decode: {e}"
            if problem is not None:
                failure = UpstreamError(f"{provider.name}'s video could not be kept: {problem}")
                attempts.append(_attempt(provider.name, state["model"], failure))
                return self._fail(job, state, attempts, failure, lease)
            self.artifacts.put(thumbnail, f"{token}.jpg")
            self.artifacts.put(preview, f"{token}.webp")
        finally:
            thumbnail.unlink(missing_ok=True)
            preview.unlink(missing_ok=True)
        self.artifacts.put(tmp, f"{token}.mp4")
        attempts.append({"provider": provider.name, "model": state["model"],
                         "outcome": "completed", "reason": None, "http_status": None})
        state.update(phase="done", attempts=attempts, queue_position=None)
        self._save(job, state)
        for warning in warnings:
            lease.log(f"{warning.code}: {warning.message}", "warning")
        price = price_per_second(self.settings.prices, provider.name, state["model"],
                                 req.generate_audio or provider.name == "google")
        return Outcome(Status.COMPLETED, engine=state["model"], video_token=token,
                       warnings=warnings, credits_used=round(price * req.duration, 6),
                       details={"provider": provider.name, "worker": self.worker_id,
                                "upstream_model": state["model"]})

    # -- helpers --------------------------------------------------------------------------
    def _fail(self, job: Generation, state: dict[str, Any], attempts: list[dict[str, Any]],
              failure: JobFailure, lease: Lease) -> Outcome:
        self._save(job, {**state, "phase": "done", "attempts": attempts,
                         "queue_position": None})
        lease.log(f"{failure.name}: {failure.message}", "error")
        event(log, "upstream.failed", level=logging.WARNING, job=job.id,
              provider=state.get("provider"), error=failure.name)
        return Outcome(Status.ERROR, error_name=failure.name, error_message=failure.message)

    def _save(self, job: Generation, state: dict[str, Any]) -> None:
        self.store.set_upstream(job.id, self.worker_id, state, self.clock())

    @staticmethod
    def _cancel(provider: Provider, handle: dict[str, str]) -> bool:
        try:
            return provider.cancel(handle)
        except UpstreamFailure:
            return False


def _attempt(provider: object, model: object, failure: JobFailure) -> dict[str, Any]:
    return {"provider": provider, "model": model, "outcome": failure.name,
            "reason": failure.message, "http_status": getattr(failure, "http_status", None)}


def _check_video(path: Path, size: tuple[int, int], seconds: int) -> None:
    """The provider's file must be an H.264 MP4 of the requested size and length (from its
    headers; its frames are decoded once, for the previews)."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise UpstreamError("the provider's file has no video stream")
            stream = container.streams.video[0]
            codec, width, height = stream.codec_context.name, stream.width, stream.height
            duration = (float(stream.duration * stream.time_base)
                        if stream.duration and stream.time_base else
                        (container.duration or 0) / 1_000_000)
    except av.error.FFmpegError as e:
        raise UpstreamError(f"the provider's file does not decode: {e}") from e
    if codec != "h264":
        raise UpstreamError(f"the provider's video is {codec}, not H.264")
    if (width, height) != size:
        raise UpstreamError(f"the provider's video is {width}×{height}, not {size[0]}×{size[1]}")
    if abs(duration - seconds) > 0.5:
        raise UpstreamError(f"the provider's video lasts {duration:.2f} s, not {seconds} s")


def _drop_audio(path: Path) -> None:
    """Remux ``path`` without its audio streams (the video is copied, not re-encoded)."""
    out_path = path.with_suffix(".noaudio.mp4")
    with av.open(str(path)) as source, av.open(str(out_path), "w", format="mp4") as out:
        video_in = source.streams.video[0]
        video_out = out.add_stream_from_template(video_in)
        for packet in source.demux(video_in):
            if packet.dts is None:
                continue
            packet.stream = video_out
            out.mux(packet)
    out_path.replace(path)
