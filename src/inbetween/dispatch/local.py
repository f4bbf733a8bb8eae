"""The in-process worker pool (default dispatch) and the lease reaper.

Each pool thread claims jobs from the store; a submission wakes an idle thread at once, and
idle threads also look every ``poll_seconds`` (for jobs submitted by other processes or put
back by a reaper). The reaper requeues jobs whose lease expired — in any process.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from inbetween.errors import InfrastructureError
from inbetween.jobs.models import Generation
from inbetween.log import event
from inbetween.store.base import JobStore
from inbetween.worker import Worker

__all__ = ["LocalPool", "Reaper"]

log = logging.getLogger("inbetween.dispatch")


class LocalPool:
    """``concurrency`` threads, each running one Worker loop."""

    def __init__(self, make_worker: Callable[[threading.Event], Worker], concurrency: int,
                 poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self.draining = threading.Event()  # finish what runs, claim nothing new
        self.stopping = threading.Event()  # interrupt what runs
        self._wake = threading.Condition()
        self._pending = 0
        self._workers = [make_worker(self.stopping) for _ in range(concurrency)]
        self._threads = [
            threading.Thread(target=self._loop, args=(w,), name=f"worker-{i}", daemon=True)
            for i, w in enumerate(self._workers)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def notify(self, generation_id: str | None = None) -> None:
        """A job was queued: wake one idle worker now (any worker takes any job)."""
        with self._wake:
            self._pending += 1
            self._wake.notify()

    def _loop(self, worker: Worker) -> None:
        while not self.draining.is_set():
            try:
                busy = worker.run_once()
            except InfrastructureError as e:
                event(log, "pool.store_error", level=logging.WARNING, error=str(e))
                busy = False
            except Exception:
                event(log, "pool.worker_crashed", level=logging.ERROR, exc=True)
                busy = False
            if not busy:
                with self._wake:
                    if self._pending == 0 and not self.draining.is_set():
                        self._wake.wait(self.poll_seconds)
                    self._pending = max(0, self._pending - 1)

    def stop(self, grace: float = 0.0) -> None:
        """Drain: let running jobs finish for up to ``grace`` seconds, then interrupt the
        rest (they go back to the queue at once) and join the threads."""
        self.draining.set()
        with self._wake:
            self._wake.notify_all()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.stopping.set()
        for thread in self._threads:
            thread.join()


class Reaper:
    """Every ``interval`` seconds, requeue generating jobs whose lease has expired, send again
    jobs queued longer than ``requeue_after`` (their broker message may be lost), end jobs
    past their Cancel-After deadline (queued ones at once, generating ones ``deadline_grace``
    seconds later if their worker has not stopped them itself), and run ``cleanup``, e.g. the
    retention policy."""

    def __init__(self, store: JobStore, *, interval: float, max_attempts: int,
                 on_requeue: Callable[[str], None], clock: Callable[[], float] = time.time,
                 cleanup: Callable[[], int] | None = None,
                 on_expired: Callable[[Generation], object] | None = None,
                 deadline_grace: float = 30.0, requeue_after: float | None = None) -> None:
        self.store, self.interval, self.max_attempts = store, interval, max_attempts
        self.on_requeue, self.clock, self.cleanup = on_requeue, clock, cleanup
        self.on_expired, self.deadline_grace = on_expired, deadline_grace
        self.requeue_after = requeue_after
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reaper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def reap_once(self) -> None:
        result = self.store.reap(self.clock(), self.max_attempts)
        for job_id in result.requeued:
            event(log, "job.requeued", level=logging.WARNING, job=job_id, reason="lease expired")
            self.on_requeue(job_id)
        for job_id in result.failed:
            event(log, "job.failed", level=logging.ERROR, job=job_id, error="WorkerLost")
        if self.requeue_after is not None:  # messages a restarted broker may have lost
            for job_id in self.store.redispatch(self.clock(), self.requeue_after):
                event(log, "job.redispatched", level=logging.WARNING, job=job_id,
                      reason=f"queued over {self.requeue_after:g} s without a worker")
                self.on_requeue(job_id)
        for job in self.store.expire(self.clock(), self.deadline_grace):
            event(log, "job.failed", level=logging.WARNING, job=job.id, error="DeadlineExceeded")
            if self.on_expired is not None:  # e.g. cancel its upstream job
                self.on_expired(job)
        if self.cleanup is not None and (deleted := self.cleanup()):
            event(log, "retention.deleted", count=deleted)

    def _loop(self) -> None:
        while True:
            try:
                self.reap_once()
            except InfrastructureError as e:
                event(log, "reaper.store_error", level=logging.WARNING, error=str(e))
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
