"""The Python SDK and the client CLI against a live server over loopback, a strict
contract-only server, and a proxy that drops or holds the reply to a submission."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from inbetween.client import (
    AsyncClient,
    Client,
    GenerationFailed,
    InputError,
    InvalidRequestError,
    NotFoundError,
    Progress,
    SubmitUncertain,
    UnsupportedFeature,
    WaitTimeout,
)
from tests.conftest import data_url, encode
from tests.e2e.conftest import Server, run_cli
from tests.e2e.loopback import ContractServer, Proxy, running
from tests.helpers import decode_mp4, wait_for

FAST = {"resolution": "720p", "duration": 4}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """One real server (one job at a time) for the whole module, and a key."""
    root = tmp_path_factory.mktemp("live")
    server = Server(root / "data", root)
    made = run_cli("keys", "create", "--name", "sdk", "--data-dir", str(server.data_dir))
    assert made.returncode == 0, made.stderr
    server.start(concurrency=1)
    yield server, made.stdout.strip().splitlines()[-1]
    server.kill()


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory,
           photos: dict[str, np.ndarray]) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("frames")
    first, last = folder / "first.jpg", folder / "last.png"
    first.write_bytes(encode(photos["astronaut"], "JPEG"))
    last.write_bytes(encode(photos["coffee"], "PNG"))
    return first, last


@pytest.fixture(scope="module")
def small_mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real 1-second MP4 for the contract-only server to hand out."""
    from inbetween.media.video import encode_mp4

    path = tmp_path_factory.mktemp("mp4") / "clip.mp4"
    ramp = [np.full((180, 320, 3), 10 * i, np.uint8) for i in range(24)]
    encode_mp4(path, ramp, width=320, height=180, fps=24, frame_count=24)
    return path.read_bytes()


def _client(live: tuple[Server, str], **options: Any) -> Client:
    server, key = live
    return Client(server.url, key, **options)


def test_importing_the_client_loads_no_server_dependency() -> None:
    code = ("import sys, inbetween; inbetween.Client; inbetween.AsyncClient; "
            "import inbetween.client.cli; "
            "heavy = {'fastapi', 'starlette', 'sqlalchemy', 'cv2', 'av', 'numpy', 'alembic', "
            "'uvicorn', 'scipy', 'PIL', 'sse_starlette', 'inbetween.api', 'inbetween.store'}; "
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_sdk_submit_wait_get_list_download_delete(
    live: tuple[Server, str], frames: tuple[Path, Path], tmp_path: Path
) -> None:
    first, last = frames
    with _client(live) as client:
        assert client.features() == {"events", "uploads", "list", "wait", "idempotency",
                                     "webhooks", "deadlines", "budgets", "openai"}
        body = client.request_body(first, last.read_bytes(), "x")
        again = client.request_body(first, last.read_bytes(), "x")
        assert body["image_url"].startswith(f"{client.base_url}/v2/uploads/")
        assert (body["image_url"], body["last_image_url"]) == (
            again["image_url"], again["last_image_url"])  # uploaded once, reused
        queued = client.submit(first, last.read_bytes(), "a slow push in", **FAST, seed=7)
        assert queued.status == "queued" and queued.id
        seen: list[Progress] = []
        done = client.wait(queued.id, on_progress=seen.append)
        assert done.status == "completed" and done.video is not None
        assert done.video.thumbnail_url and done.video.preview_url
        assert done.meta is not None and done.meta.seed == 7
        assert seen[0].status == "queued" or seen[0].status == "generating"
        assert any(p.stage == "rendering" for p in seen)
        percents = [p.progress or 0 for p in seen]
        assert percents == sorted(percents) and any(0 < p < 100 for p in percents)
        assert client.get(queued.id).status == "completed"
        assert queued.id in [g.id for g in client.list(limit=100).data]
        listed = next(g for g in client.iter_generations() if g.id == queued.id)
        assert listed.request is not None and listed.request["seed"] == 7
        saved = client.download(done, tmp_path / "out" / "clip.mp4")
        video = decode_mp4(saved)
        assert (video.width, video.height, video.frame_count) == (1280, 720, 96)
        assert video.audio is not None and video.audio["channels"] == 2
        assert [p.name for p in saved.parent.iterdir()] == ["clip.mp4"]  # no temp file left
        assert client.download(queued.id, tmp_path / "by-id.mp4").read_bytes() == \
            saved.read_bytes()
        client.delete(queued.id)
        with pytest.raises(NotFoundError):
            client.get(queued.id)


def test_sdk_takes_pil_numpy_and_data_urls_and_runs_async(
    live: tuple[Server, str], photos: dict[str, np.ndarray]
) -> None:
    server, key = live

    async def run() -> str:
        async with AsyncClient(server.url, key) as client:
            generation = await client.generate(
                Image.fromarray(photos["chelsea"]), photos["rocket"], "the cat becomes a rocket",
                **FAST, generate_audio=False)
            return generation.status

    assert asyncio.run(run()) == "completed"
    with _client(live) as client:
        queued = client.submit(data_url(photos["coffee"]), data_url(photos["astronaut"], "JPEG"),
                               "from a data URL", **FAST)
        assert client.wait(queued.id, timeout=240).status == "completed"


def test_sdk_errors(live: tuple[Server, str], frames: tuple[Path, Path]) -> None:
    first, last = frames
    with _client(live) as client:
        with pytest.raises(InvalidRequestError) as bad:
            client.submit(first, last, "x", duration=5)
        assert bad.value.status == 400 and bad.value.field == "duration"
        assert bad.value.allowed == [4, 6, 8]
        with pytest.raises(InputError, match="cannot read the image"):
            client.submit("no/such/file.png", last, "x")
        with pytest.raises(InputError, match="RGB uint8"):
            client.submit(np.zeros((8, 8), np.float32), last, "x")
        with pytest.raises(GenerationFailed) as failed:
            client.generate("http://127.0.0.1:9/first.jpg", last, "x", **FAST)
        assert failed.value.generation.error is not None
        assert failed.value.generation.error.name == "ImageFetchError"
        slow = client.submit(first, last, "a long one", resolution="1080p", duration=8)
        with pytest.raises(WaitTimeout) as late:
            client.wait(slow.id, timeout=0.05)
        assert late.value.generation_id == slow.id
        client.delete(slow.id)
    with pytest.raises(InputError, match="INBETWEEN_API_KEY"):
        Client("http://127.0.0.1:9", api_key=None)


def test_a_dropped_reply_is_retried_without_a_second_generation(
    live: tuple[Server, str], frames: tuple[Path, Path]
) -> None:
    server, key = live
    prompt = f"dropped reply {uuid.uuid4()}"
    proxy = Proxy(server.url, mode="drop-once")
    with running(proxy), Client(proxy.url, key) as client:
        generation = client.submit(*frames, prompt, **FAST)
    assert proxy.forwarded_submissions == 2  # the server saw the submission twice…
    with _client(live) as direct:
        same = [g for g in direct.iter_generations() if (g.request or {}).get("prompt") == prompt]
        assert [g.id for g in same] == [generation.id]  # …and made one generation
        direct.delete(generation.id)


def test_contract_only_server_polls_inlines_and_never_retries_an_uncertain_submit(
    frames: tuple[Path, Path], small_mp4: bytes, tmp_path: Path
) -> None:
    contract = ContractServer(small_mp4)
    with running(contract), Client(contract.url, "k", poll_interval=0.01) as client:
        assert client.features() == frozenset()
        seen: list[Progress] = []
        done = client.generate(*frames, "p", on_progress=seen.append)
        assert done.status == "completed" and [p.status for p in seen] == [
            "queued", "generating", "completed"]
        assert decode_mp4(client.download(done, tmp_path / "c.mp4")).frame_count == 24
        sent = json.loads(contract.submissions[0].body)
        assert sent["image_url"].startswith("data:image/jpeg;base64,")
        assert sent["last_image_url"].startswith("data:image/png;base64,")
        assert "Idempotency-Key" not in contract.submissions[0].headers
        assert not [r for r in contract.requests if r.path.startswith("/v2/uploads")]
        with pytest.raises(UnsupportedFeature):
            client.list()
        contract.fail_with = {"name": "ContentFiltered", "message": "blocked"}
        with pytest.raises(GenerationFailed, match="ContentFiltered: blocked"):
            client.generate(*frames, "p")
    contract = ContractServer(small_mp4)
    with running(contract):
        proxy = Proxy(contract.url, mode="drop-once")
        with running(proxy), Client(proxy.url, "k") as client, \
                pytest.raises(SubmitUncertain) as uncertain:
            client.submit(*frames, "p")
        assert uncertain.value.request["prompt"] == "p"
        assert len(contract.submissions) == 1  # never sent twice


def test_connect_errors_are_retried_then_raised(frames: tuple[Path, Path]) -> None:
    import httpx

    with Client("http://127.0.0.1:9", "k", max_retries=1) as client, \
            pytest.raises(httpx.ConnectError):
        client.submit(*frames, "p")


# -- the CLI ----------------------------------------------------------------------------------

def _cli(live: tuple[Server, str] | None, *args: str, journal: Path,
         **env: str) -> subprocess.CompletedProcess[str]:
    base = {"INBETWEEN_JOURNAL": str(journal)}
    if live is not None:
        base |= {"INBETWEEN_BASE_URL": live[0].url, "INBETWEEN_API_KEY": live[1]}
    return run_cli(*args, env={**base, **env}, timeout=300)


def test_cli_submit_wait_download_and_output_modes(
    live: tuple[Server, str], frames: tuple[Path, Path], tmp_path: Path
) -> None:
    first, last = (str(f) for f in frames)
    journal = tmp_path / "journal"
    out = tmp_path / "clip.mp4"
    plain = _cli(live, "submit", first, last, "-p", "a slow push in", "--resolution", "720p",
                 "--duration", "4", "-o", str(out), journal=journal)
    assert plain.returncode == 0, plain.stderr
    generation_id = plain.stdout.strip()
    assert str(uuid.UUID(generation_id)) == generation_id  # the id alone on stdout
    assert "rendering" in plain.stderr and "%" in plain.stderr and "saved" in plain.stderr
    assert decode_mp4(out).frame_count == 96
    [entry] = [json.loads(p.read_text()) for p in journal.glob("*.json")]
    assert (entry["id"], entry["state"], entry["output"]) == (generation_id, "done", str(out))

    as_json = _cli(live, "submit", first, last, "-p", "json mode", "--resolution", "720p",
                   "--duration", "4", "--no-audio", "--wait", "--json", journal=journal)
    assert as_json.returncode == 0, as_json.stderr
    events = [json.loads(line) for line in as_json.stderr.splitlines()]
    assert {e["event"] for e in events} == {"progress"}
    assert events[-1]["status"] == "completed"

    status = _cli(live, "status", generation_id, journal=journal)
    assert json.loads(status.stdout)["status"] == "completed"
    listing = _cli(live, "list", "--json", journal=journal)
    assert generation_id in [json.loads(line)["id"] for line in listing.stdout.splitlines()]
    again = tmp_path / "again.mp4"
    assert _cli(live, "download", generation_id, "-o", str(again),
                journal=journal).returncode == 0
    assert again.read_bytes() == out.read_bytes()
    assert _cli(live, "delete", generation_id, journal=journal).returncode == 0
    gone = _cli(live, "status", generation_id, journal=journal)
    assert gone.returncode == 2 and "NotFound" in gone.stderr


def test_cli_draws_a_progress_bar_on_a_terminal(
    live: tuple[Server, str], frames: tuple[Path, Path], tmp_path: Path
) -> None:
    leader, follower = pty.openpty()
    env = {**os.environ, "INBETWEEN_BASE_URL": live[0].url, "INBETWEEN_API_KEY": live[1],
           "INBETWEEN_JOURNAL": str(tmp_path / "j"), "COLUMNS": "100", "TERM": "xterm"}
    with subprocess.Popen(
        [sys.executable, "-m", "inbetween", "submit", *(str(f) for f in frames), "-p", "tty",
         "--resolution", "720p", "--duration", "4", "--wait"],
        stdout=subprocess.PIPE, stderr=follower, env=env,
    ) as process:
        os.close(follower)
        screen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the command ended
                break
            if not chunk:
                break
            screen += chunk
        stdout, _ = process.communicate(timeout=300)
    assert process.returncode == 0
    os.close(leader)
    text = screen.decode("utf-8", "replace")
    assert "\x1b[" in text and "━" in text and "100%" in text  # rich's bar, redrawn in place
    assert len(stdout.decode().split()) == 1  # still only the id on stdout


def test_cli_exit_codes(live: tuple[Server, str], frames: tuple[Path, Path], tmp_path: Path,
                        small_mp4: bytes) -> None:
    first, last = (str(f) for f in frames)
    journal = tmp_path / "journal"
    bad = _cli(live, "submit", first, last, "-p", "x", "--duration", "5", journal=journal)
    assert bad.returncode == 2 and "duration" in bad.stderr and bad.stdout == ""
    missing = _cli(live, "submit", "nope.png", last, "-p", "x", journal=journal)
    assert missing.returncode == 2 and "no such image file" in missing.stderr
    failed = _cli(live, "submit", "http://127.0.0.1:9/a.jpg", last, "-p", "x", "--wait",
                  "--resolution", "720p", "--duration", "4", journal=journal)
    assert failed.returncode == 3 and "ImageFetchError" in failed.stderr
    slow = _cli(live, "submit", first, last, "-p", "slow", journal=journal)
    timed_out = _cli(live, "wait", slow.stdout.strip(), "--timeout", "0.2", journal=journal)
    assert timed_out.returncode == 4 and "did not finish" in timed_out.stderr
    _cli(live, "delete", slow.stdout.strip(), journal=journal)
    contract = ContractServer(small_mp4)
    with running(contract):
        proxy = Proxy(contract.url, mode="drop-once")
        with running(proxy):
            uncertain = _cli(None, "submit", first, last, "-p", "x", "--base-url", proxy.url,
                             "--api-key", "k", "--json", journal=tmp_path / "j2")
    assert uncertain.returncode == 5, uncertain.stderr
    assert json.loads(uncertain.stderr.splitlines()[-1])["exit_code"] == 5
    [entry] = [json.loads(p.read_text()) for p in (tmp_path / "j2").glob("*.json")]
    assert entry["state"] == "uncertain" and entry["id"] is None
    assert len(contract.submissions) == 1


def test_resume_after_the_cli_was_killed_downloads_exactly_once(
    live: tuple[Server, str], frames: tuple[Path, Path], tmp_path: Path
) -> None:
    server, key = live
    journal, out = tmp_path / "journal", tmp_path / "resumed.mp4"
    prompt = f"killed while waiting {uuid.uuid4()}"
    proxy = Proxy(server.url, mode="hold")
    with running(proxy):
        env = {**os.environ, "INBETWEEN_JOURNAL": str(journal), "INBETWEEN_API_KEY": key}
        with subprocess.Popen(
            [sys.executable, "-m", "inbetween", "submit", *(str(f) for f in frames),
             "-p", prompt, "--resolution", "720p", "--duration", "4", "-o", str(out),
             "--base-url", proxy.url], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ) as process:
            assert proxy.held.wait(60), "the submission never reached the proxy"
            process.send_signal(signal.SIGKILL)  # the server has the job; the CLI is gone
            process.wait(timeout=30)
        proxy.release.set()
    [entry] = [json.loads(p.read_text()) for p in journal.glob("*.json")]
    assert entry["id"] is None and entry["state"] == "pending"
    resumed = _cli(live, "resume", journal=journal)
    assert resumed.returncode == 0, resumed.stderr
    generation_id = resumed.stdout.strip()
    with _client(live) as client:
        same = [g.id for g in client.iter_generations()
                if (g.request or {}).get("prompt") == prompt]
    assert same == [generation_id]  # the re-sent submission found the first generation
    assert decode_mp4(out).frame_count == 96
    first_download = out.stat().st_mtime_ns
    again = _cli(live, "resume", journal=journal)
    assert again.returncode == 0 and "nothing to resume" in again.stderr
    assert out.stat().st_mtime_ns == first_download  # downloaded exactly once
    wait_for(lambda: not list(tmp_path.glob(".resumed.mp4.*")) or None, 5, "no temp files")


def test_resume_without_a_key_says_so(tmp_path: Path) -> None:
    from inbetween.client.journal import Journal

    Journal(tmp_path / "journal").new(base_url="http://127.0.0.1:9", first="/a.png",
                                      last="/b.png", prompt="p", model="m", options={},
                                      output=None)
    env = {"INBETWEEN_JOURNAL": str(tmp_path / "journal"), "INBETWEEN_API_KEY": ""}
    resumed = run_cli("resume", env=env)
    assert resumed.returncode == 2 and "INBETWEEN_API_KEY" in resumed.stderr
    assert "Traceback" not in resumed.stderr
