"""The `inbetween` command as a user runs it."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np

from inbetween.media.images import fit_to_canvas
from tests.conftest import encode, psnr
from tests.e2e.conftest import Server, run_cli
from tests.helpers import decode_mp4, wait_for


def test_keys_create_honours_data_dir_env(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "nested"
    result = run_cli("keys", "create", "--name", "alice",
                     env={"INBETWEEN_DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("ib_") and len(key) > 40 and " " not in key
    assert (data_dir / "inbetween.db").is_file()
    listed = run_cli("keys", "list", env={"INBETWEEN_DATA_DIR": str(data_dir)})
    assert "alice" in listed.stdout and key not in listed.stdout  # only the hash is stored
    assert key.encode() not in (data_dir / "inbetween.db").read_bytes()


def test_serve_creates_and_prints_a_first_key_once(server: Server) -> None:
    server.start(concurrency=0)
    line = wait_for(
        lambda: next((ln for ln in server.stdout_path.read_text().splitlines()
                      if "Bearer " in ln), None), 30, "the first key to be printed")
    key = line.split("Bearer ", 1)[1].strip()
    response = httpx.get(f"{server.url}/v2/video/generations", params={"generation_id": "x"},
                         headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert response.status_code == 404  # authenticated; the id is unknown
    server.stop()
    server.start(concurrency=0)
    assert "Bearer " not in server.stdout_path.read_text()


def test_generate_writes_a_video(tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    (tmp_path / "a.png").write_bytes(encode(photos["rocket"]))
    (tmp_path / "b.png").write_bytes(encode(photos["astronaut"]))
    out = tmp_path / "out" / "clip.mp4"
    result = run_cli("generate", "--first", str(tmp_path / "a.png"), "--last",
                     str(tmp_path / "b.png"), "--prompt", "launch", "-o", str(out),
                     "--resolution", "720p", "--aspect-ratio", "9:16", "--duration", "4",
                     "--seed", "3", "--no-audio")
    assert result.returncode == 0, result.stderr
    assert "100%" in result.stderr and "wrote" in result.stderr
    video = decode_mp4(out)
    assert (video.width, video.height, video.frame_count, video.audio) == (720, 1280, 96, None)
    assert psnr(video.first, fit_to_canvas(photos["rocket"], 720, 1280)) >= 35
    assert psnr(video.last, fit_to_canvas(photos["astronaut"], 720, 1280)) >= 35
    assert [p.name for p in out.parent.iterdir()] == ["clip.mp4"]  # no partial left


def test_generate_rejects_bad_input_clearly(tmp_path: Path, photos: dict[str, np.ndarray]) -> None:
    (tmp_path / "a.png").write_bytes(encode(photos["rocket"]))
    (tmp_path / "not.png").write_bytes(b"hello")
    base = ["generate", "--first", str(tmp_path / "a.png"), "--prompt", "x", "-o",
            str(tmp_path / "o.mp4")]
    cases = {
        ("--last", str(tmp_path / "missing.png")): "--last: no such file",
        ("--last", str(tmp_path / "not.png")): "--last: not a readable image",
        ("--last", str(tmp_path / "a.png"), "--duration", "5"): "--duration 5 is not allowed; "
        "use one of: 4, 6, 8",
        ("--last", str(tmp_path / "a.png"), "--resolution", "4k"): "--resolution 4k is not",
    }
    for extra, message in cases.items():
        result = run_cli(*base, *extra)
        assert result.returncode == 2, result
        assert message in " ".join(result.stderr.split()), result.stderr
    assert not (tmp_path / "o.mp4").exists()


def test_help_explains_commands_and_env_vars() -> None:
    top = run_cli("--help")
    assert top.returncode == 0
    assert all(word in top.stdout for word in ("serve", "generate", "keys"))
    serve = run_cli("serve", "--help").stdout
    assert "INBETWEEN_PORT" in serve and "INBETWEEN_CONCURRENCY" in serve


def test_keys_revoke(tmp_path: Path) -> None:
    env = {"INBETWEEN_DATA_DIR": str(tmp_path / "d")}
    assert run_cli("keys", "create", "--name", "ci", env=env).returncode == 0
    revoked = run_cli("keys", "revoke", "ci", env=env)
    assert revoked.returncode == 0 and "revoked 1 key named 'ci'" in revoked.stdout
    assert "ci  (revoked)" in run_cli("keys", "list", env=env).stdout
    again = run_cli("keys", "revoke", "ci", env=env)
    assert again.returncode == 2 and "no live key is named 'ci'" in again.stderr


def test_generate_carries_a_moving_object_along_its_path(tmp_path: Path) -> None:
    """A pan with an object travelling most of the frame's width: in the middle frame of the
    MP4 the object is found once, at its path's midpoint (the engine's objects layer)."""
    import av
    import cv2

    from tests.moving import W, background, centroid, found_at, path, place, sprite

    thing = sprite()
    start, end = (110.0, 220.0), (520.0, 150.0)
    first, _ = place(background(0), thing, start)
    last, _ = place(background(1), thing, end)
    (tmp_path / "a.png").write_bytes(encode(first))
    (tmp_path / "b.png").write_bytes(encode(last))
    out = tmp_path / "clip.mp4"
    result = run_cli("generate", "--first", str(tmp_path / "a.png"), "--last",
                     str(tmp_path / "b.png"), "--prompt", "a ball flies past", "-o", str(out),
                     "--resolution", "720p", "--duration", "4", "--seed", "1", "--no-audio")
    assert result.returncode == 0, result.stderr
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 96
    # the 640×360 pair was scaled ×2 onto the 1280×720 canvas; frame 47.5 is t = 0.5
    middle = cv2.resize(cv2.addWeighted(frames[47], 0.5, frames[48], 0.5, 0), (W, 360),
                        interpolation=cv2.INTER_AREA)
    found = found_at(middle, background(0.5))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(found.astype(np.uint8))
    [blob] = [k for k in range(1, count) if stats[k, cv2.CC_STAT_AREA] > 500]  # once
    assert np.linalg.norm(centroid(labels == blob) - path(start, end, 0.5)) < 0.03 * W


def test_generate_carries_a_subject_over_a_smooth_sky(tmp_path: Path) -> None:
    """A head-sized subject crossing two thirds of the frame over a soft-cloud sky under a
    gentle pan (benchmarks/groundtruth.py "head over sky"): in the MP4's middle frame it is
    where the truth has it, once, and the sky is back where it was and will be (no ghost)."""
    import av
    import cv2
    from benchmarks.groundtruth import SMOOTH_CASES

    [case] = [c for c in SMOOTH_CASES if c.name == "head over sky"]
    renderer = case.renderer(1280, 720)
    (tmp_path / "a.png").write_bytes(encode(renderer.frame(0)))
    (tmp_path / "b.png").write_bytes(encode(renderer.frame(1)))
    out = tmp_path / "clip.mp4"
    result = run_cli("generate", "--first", str(tmp_path / "a.png"), "--last",
                     str(tmp_path / "b.png"), "--prompt", "a face crosses the sky", "-o",
                     str(out), "--resolution", "720p", "--duration", "4", "--seed", "1",
                     "--no-audio")
    assert result.returncode == 0, result.stderr
    with av.open(str(out)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 96
    middle = frames[47]
    # the true frame it shows (the engine eases its timing): the subject's path midpoint,
    # within 3 % of the frame's width (its 0.67-width path: t within 0.045 of 0.5)
    t = max(np.round(np.arange(0.4, 0.6001, 0.005), 3),
            key=lambda tt: psnr(middle, renderer.frame(float(tt))))
    assert abs(t - 0.5) <= 0.045
    truth = renderer.frame(float(t))
    subject = renderer.object_mask(0, float(t))
    # the subject, whole, there (a dissolve leaves sky there: ~13 dB; a textured face a few
    # pixels off its place scores low 20s)
    assert psnr(middle[subject], truth[subject]) > 20.0
    fade = cv2.addWeighted(frames[0], 0.5, frames[-1], 0.5, 0)
    assert psnr(fade[subject], truth[subject]) < 16.0
    around = cv2.dilate(subject.astype(np.uint8), np.ones((41, 41), np.uint8)) > 0
    ends = (renderer.object_mask(0, 0) | renderer.object_mask(0, 1)) & ~around
    assert psnr(middle[ends], truth[ends]) >= 25.0  # no ghost where it was or will be


def test_silent_generate_loads_neither_the_sound_stack_nor_the_server(tmp_path: Path) -> None:
    """`inbetween generate --no-audio` imports only what it uses (start-up is part of its
    time): no sound synthesis, no web framework, no database, no HTTP client, no asyncio."""
    import subprocess
    import sys

    first = np.full((72, 128, 3), 40, np.uint8)
    last = np.full((72, 128, 3), 200, np.uint8)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(encode(first, "png"))
    b.write_bytes(encode(last, "png"))
    code = (
        "import sys\n"
        "from inbetween.cli import main\n"
        f"sys.argv = ['inbetween', 'generate', '--first', {str(a)!r}, '--last', {str(b)!r},"
        f" '--prompt', 'x', '-o', {str(tmp_path / 'o.mp4')!r}, '--resolution', '720p',"
        " '--duration', '4', '--no-audio']\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "heavy = {'inbetween.media.audio', 'inbetween.media.speech', 'inbetween.media.ambience',"
        " 'fastapi', 'starlette', 'sqlalchemy', 'uvicorn', 'httpx', 'inbetween.api',"
        " 'inbetween.store', 'inbetween.worker', 'torch', 'scipy', 'pydantic_settings',"
        " 'asyncio'}\n"
        "print(sorted(heavy & set(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "o.mp4").stat().st_size > 0


def test_cli_sets_shows_and_removes_budgets(tmp_path: Path) -> None:
    env = {"INBETWEEN_DATA_DIR": str(tmp_path / "d")}
    made = run_cli("keys", "create", "--name", "team", "--budget-usd", "50",
                   "--budget-period", "day", env=env)
    assert made.returncode == 0 and "$50.00 a day budget" in made.stdout
    assert "budget $50.00 a day" in run_cli("keys", "list", env=env).stdout
    changed = run_cli("keys", "budget", "team", "--usd", "10", "--period", "total", env=env)
    assert changed.returncode == 0 and "$10.00 total" in changed.stdout
    assert "budget $10.00 total" in run_cli("keys", "list", env=env).stdout
    assert run_cli("keys", "budget", "team", "--remove", env=env).returncode == 0
    assert "budget" not in run_cli("keys", "list", env=env).stdout
    bad = run_cli("keys", "budget", "team", "--usd", "1", "--period", "week", env=env)
    assert bad.returncode == 2 and "month, day, total" in bad.stderr
    missing = run_cli("keys", "budget", "nobody", "--usd", "1", env=env)
    assert missing.returncode == 2 and "no live key is named 'nobody'" in missing.stderr
    assert run_cli("keys", "budget", "team", env=env).returncode == 2
