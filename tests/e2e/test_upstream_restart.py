"""A worker killed after its upstream submission: the restarted server resumes the recorded
handle, the provider receives exactly one submission, and the job completes."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from tests.conftest import data_url
from tests.e2e.conftest import Client, Server
from tests.helpers import wait_for
from tests.upstreams import KEYS, upstreams


def test_sigkill_after_submission_never_submits_twice(
    server: Server, key: str, photos: dict[str, np.ndarray], veo_mp4: bytes, tmp_path: Path,
) -> None:
    with upstreams(veo_mp4) as ups:
        hold = threading.Event()
        hold.set()  # fal keeps the job IN_QUEUE until released
        ups.fal.hold = hold
        env = {**ups.env("fal"), "INBETWEEN_LEASE_SECONDS": "2"}
        server.start(concurrency=1, **env)
        client = Client(server, key)
        generation_id = client.submit({
            "model": "google/veo-3.1-first-last-image-to-video", "prompt": "a slow push in",
            "image_url": data_url(photos["astronaut"], "JPEG"),
            "last_image_url": data_url(photos["coffee"]), "resolution": "720p",
            "duration": 4})
        wait_for(lambda: ups.fal.polls or None, 60, "the upstream job to be polled")
        waiting = client.get(generation_id)
        assert waiting["status"] == "generating" and waiting["meta"]["provider"] == "fal"
        server.kill()  # no cleanup: the lease just stops being renewed
        assert len(ups.fal.submissions) == 1
        polls_before = ups.fal.polls
        server.start(concurrency=1, **env)
        wait_for(lambda: ups.fal.polls > polls_before or None, 60,
                 "the restarted server to resume polling")
        hold.clear()
        done = client.wait(generation_id)
        assert done["status"] == "completed", done
        assert len(ups.fal.submissions) == 1  # resumed, never resubmitted
        assert done["meta"]["attempts"][-1]["outcome"] == "completed"
        logs = "".join(p.read_text() for p in tmp_path.glob("serve-*"))
        assert "upstream.submitted" in logs
        for secret in KEYS:
            assert secret not in logs
