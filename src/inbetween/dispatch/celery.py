"""Celery dispatch: the API enqueues generation ids; `inbetween worker` runs them.

The job store stays the source of truth. A task only *claims* its generation if it is still
queued, so a redelivered message, or one for a job that already ran, completed or was
deleted, does nothing. Late acknowledgement and a prefetch of one: a worker holds at most
the job it runs. A worker that dies stops renewing its lease; the reaper of an API process
puts the job back in the queue and sends a new message, whatever the broker does with the
unacknowledged one (Redis redelivers only after its visibility timeout).

Jobs for each diffusion engine go to that engine's own queue (``inbetween.wan-flf2v``,
``inbetween.ltx2``, ``inbetween.wan2.2-flf2v``), so that only workers offering that engine
(``INBETWEEN_WORKER_ENGINES``, e.g. GPU machines) receive them; all other jobs go to
``inbetween``.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from celery import Celery

from inbetween.log import event
from inbetween.settings import Settings
from inbetween.store.base import JobStore

__all__ = ["TASK", "CeleryDispatcher", "make_celery", "run_worker"]

TASK = "inbetween.run_generation"
QUEUE = "inbetween"
log = logging.getLogger("inbetween.dispatch")


def make_celery(settings: Settings) -> Celery:
    app = Celery("inbetween", broker=settings.broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        # a submission never waits long for a broker that is down (the reaper re-sends)
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0,
                                   "interval_step": 0.5, "interval_max": 1},
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app


def queue_for(engine: str) -> str:
    """The broker queue of jobs that need ``engine`` locally."""
    from inbetween.engines.registry import DIFFUSION

    return f"{QUEUE}.{engine.removeprefix('inbetween/')}" if engine in DIFFUSION else QUEUE


def worker_queues(settings: Settings) -> list[str]:
    """The queues a worker with these settings consumes."""
    from inbetween.engines.registry import DIFFUSION, offered_engines

    offered = offered_engines(settings)
    queues = [QUEUE] if any(engine not in DIFFUSION for engine in offered) else []
    return queues + [queue_for(engine) for engine in offered if engine in DIFFUSION]


class CeleryDispatcher:
    """Sends each queued generation's id to the workers through the broker, on the queue of
    the engine it needs."""

    def __init__(self, settings: Settings, store: JobStore | None = None) -> None:
        self.app = make_celery(settings)
        self.settings, self.store = settings, store

    def notify(self, generation_id: str | None = None) -> None:
        """Send the job to the workers; a broker that does not answer is logged, not raised:
        the job is safe in the store and the reaper sends it again later
        (INBETWEEN_REQUEUE_AFTER_SECONDS)."""
        if generation_id is None:
            return
        try:
            self.app.send_task(TASK, args=[generation_id], queue=self._queue(generation_id))
        except Exception as e:
            event(log, "dispatch.deferred", level=logging.WARNING, job=generation_id,
                  error=f"{type(e).__name__}: {e}"[:300])

    def _queue(self, generation_id: str) -> str:
        from inbetween.engines.registry import route
        from inbetween.errors import InvalidRequest

        job = self.store.get(generation_id) if self.store is not None else None
        if job is None:
            return QUEUE
        try:
            chosen = route(job.request, self.settings)
        except InvalidRequest:
            return QUEUE  # it will fail with a clear error wherever it runs
        return QUEUE if chosen.chain else queue_for(chosen.engine)

    def ping(self) -> None:
        """Raise when the broker cannot be reached."""
        with self.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)

    def close(self) -> None:
        self.app.close()


_worker: Any = None


def _process_worker(settings: Settings) -> Any:
    """This worker process's Worker, built on first use (after the pool has forked)."""
    global _worker
    if _worker is None:
        from inbetween.engines.registry import build_engines
        from inbetween.storage import open_artifacts
        from inbetween.store import open_store
        from inbetween.worker import Worker

        _worker = Worker(settings, open_store(settings), open_artifacts(settings),
                         build_engines(settings),
                         worker_id=f"{socket.gethostname()}-{os.getpid()}")
    return _worker


def run_worker(settings: Settings, concurrency: int) -> None:
    """Run a Celery worker with ``concurrency`` processes, each taking one job at a time."""
    app = make_celery(settings)
    if settings.diffusion_compile:
        from celery.signals import worker_process_init

        # each pool process loads and compiles its diffusion models before taking a job
        app.conf.worker_proc_alive_timeout = 3600.0

        @worker_process_init.connect(weak=False)  # type: ignore[untyped-decorator]
        def warm(**_kwargs: Any) -> None:
            from inbetween.engines.diffusion.checks import warm_engines

            warm_engines(_process_worker(settings).engines, settings)

    @app.task(name=TASK)  # type: ignore[untyped-decorator]
    def run_generation(generation_id: str) -> None:
        worker = _process_worker(settings)
        ran = worker.run_once(generation_id)
        if not ran:
            event(log, "job.skipped", job=generation_id,
                  reason="not queued (running elsewhere, finished or deleted)")

    from celery.signals import worker_process_init

    @worker_process_init.connect(weak=False)  # type: ignore[untyped-decorator]
    def send_webhooks(**_kwargs: Any) -> None:
        # each pool process also sends due webhook deliveries (claims keep every attempt to
        # one sender); started after the fork, so no thread is ever forked
        from inbetween.store import open_store
        from inbetween.webhooks.sender import webhook_sender

        webhook_sender(settings, open_store(settings)).start()

    app.worker_main(["worker", f"--concurrency={concurrency}", "--loglevel=INFO",
                     f"--queues={','.join(worker_queues(settings))}", "--without-gossip",
                     "--without-mingle",
                     f"--hostname=inbetween-{socket.gethostname()}-{os.getpid()}"])
