"""Celery dispatch: the API enqueues generation ids; `inbetween worker` runs them.

The job store stays the source of truth. A task only *claims* its generation if it is still
queued, so a redelivered message, or one for a job that already ran, completed or was
deleted, does nothing. Late acknowledgement and a prefetch of one: a worker holds at most
the job it runs. A worker that dies stops renewing its lease; the reaper of an API process
puts the job back in the queue and sends a new message, whatever the broker does with the
unacknowledged one (Redis redelivers only after its visibility timeout).
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from celery import Celery

from inbetween.log import event
from inbetween.settings import Settings

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
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
    )
    return app


class CeleryDispatcher:
    """Sends each queued generation's id to the workers through the broker."""

    def __init__(self, settings: Settings) -> None:
        self.app = make_celery(settings)

    def notify(self, generation_id: str | None = None) -> None:
        if generation_id is not None:
            self.app.send_task(TASK, args=[generation_id], queue=QUEUE)

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

    @app.task(name=TASK)  # type: ignore[untyped-decorator]
    def run_generation(generation_id: str) -> None:
        worker = _process_worker(settings)
        ran = worker.run_once(generation_id)
        if not ran:
            event(log, "job.skipped", job=generation_id,
                  reason="not queued (running elsewhere, finished or deleted)")

    app.worker_main(["worker", f"--concurrency={concurrency}", "--loglevel=INFO",
                     f"--queues={QUEUE}", "--without-gossip", "--without-mingle",
                     f"--hostname=inbetween-{socket.gethostname()}-{os.getpid()}"])
