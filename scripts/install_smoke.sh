#!/usr/bin/env bash
# Install inbetween the ways users do, each in its own fresh virtual environment made from
# this checkout, and check that each one starts and serves a generation:
#
#   1. `make serve`'s install (`pip install -e .`, no extras): the server comes up and prints
#      its key; the README's client CLI returns an 8 s 720p MP4 with sound; `inbetween
#      generate` works offline.
#   2. `pip install .` (a wheel, not editable): the server starts (migrations are in the
#      wheel) and serves the playground page and its script (package data).
#   3. `.[postgres]` against PostgreSQL, 4. `.[celery]` with `inbetween worker` against Redis
#      and RabbitMQ, 5. `.[s3]` against moto's S3 server (from the test venv, .venv): each
#      starts and serves one generation.
#
# Usage: scripts/install_smoke.sh [STEP…]   (steps: run wheel postgres celery s3; default all)
# CI runs it before `make test` (.ci/run). PostgreSQL, Redis and RabbitMQ are expected on
# 127.0.0.1's standard ports: a step whose service is absent is skipped with the reason,
# unless INBETWEEN_REQUIRE_SERVICES is set (CI), where that is a failure.
# PYTHON picks the interpreter (default python3); INSTALL_SMOKE_KEEP=1 keeps the work folder.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/inbetween-install-smoke.XXXXXX")"
STEPS=("$@")
[ ${#STEPS[@]} -gt 0 ] || STEPS=(run wheel postgres celery s3)
PIDS=()
PASSED=0
SKIPPED=0

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 100); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    done
    if [ -n "${INSTALL_SMOKE_KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

say() { printf '\n== install smoke: %s\n' "$*"; }
fail() {
    echo "install smoke: FAILED: $*" >&2
    local log
    for log in "$WORK"/*.log; do
        [ -s "$log" ] || continue
        echo "--- $(basename "$log") (last lines)" >&2
        grep -v '^WARNING: Location' "$log" | tail -n 25 >&2 || true
    done
    exit 1
}
skip_or_fail() {  # a service this step needs is absent
    if [ -n "${INBETWEEN_REQUIRE_SERVICES:-}" ]; then fail "$1 (INBETWEEN_REQUIRE_SERVICES is set)"; fi
    echo "skipped: $1"
    SKIPPED=$((SKIPPED + 1))
}
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    "$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

new_venv() {  # new_venv NAME SPEC: a fresh venv with SPEC installed (from this checkout)
    local venv="$WORK/$1"
    "$PYTHON" -m venv "$venv"
    (cd "$ROOT" && "$venv/bin/pip" install --quiet --disable-pip-version-check "$2") \
        >"$WORK/$1-pip.log" 2>&1 || fail "pip install $2 into a fresh venv"
}

start() {  # start NAME CMD…: run CMD in its own process group, output in $WORK/NAME.log
    local name="$1"; shift
    setsid "$@" >"$WORK/$name.log" 2>&1 </dev/null &
    PIDS+=("$!")
    LAST_PID=$!
}

stop() {  # stop PID: SIGTERM its group, as a service manager would
    kill -TERM -- "-$1" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 -- "-$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL -- "-$1" 2>/dev/null || true
}

wait_healthy() {  # wait_healthy URL PID LOG: until GET URL/healthz is 200 (60 s)
    for _ in $(seq 1 600); do
        curl -fsS -o /dev/null --max-time 2 "$1/healthz" 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || fail "the server exited before it answered: see $3"
        sleep 0.1
    done
    fail "$1/healthz did not answer within 60 s"
}

server_key() {  # server_key LOG: the key a first start prints
    local key
    for _ in $(seq 1 100); do
        key="$(grep -o 'Bearer ib_[A-Za-z0-9_-]*' "$1" | head -n1 | cut -d' ' -f2 || true)"
        [ -n "$key" ] && { echo "$key"; return 0; }
        sleep 0.1
    done
    fail "the server did not print its key ($1)"
}

make_frames() {  # make_frames PYTHON DIR: first.jpg and last.png, a disc moving over a texture
    "$1" - "$2" <<'EOF'
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

out = Path(sys.argv[1])
y, x = np.mgrid[0:720, 0:1280]
texture = (96 + 60 * np.sin(x / 37.0) * np.cos(y / 23.0)).astype(np.uint8)
for name, cx in (("first.jpg", 380), ("last.png", 900)):
    image = Image.fromarray(np.stack([texture, texture // 2 + 60, 255 - texture], axis=-1))
    ImageDraw.Draw(image).ellipse((cx - 90, 270, cx + 90, 450), fill=(240, 200, 40))
    image.save(out / name)
EOF
}

check_mp4() {  # check_mp4 PYTHON FILE SECONDS WIDTH HEIGHT: decode it
    "$1" - "$2" "$3" "$4" "$5" <<'EOF' || fail "$2 is not the expected video"
import sys

import av

path, seconds, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with av.open(path) as container:
    video = container.streams.video[0]
    frames = sum(1 for _ in container.decode(video=0))
    assert (video.width, video.height) == (width, height), (video.width, video.height)
    assert frames == seconds * 24, f"{frames} frames, not {seconds * 24}"
    assert container.streams.audio, "no audio stream"
with av.open(path) as container:
    samples = sum(f.samples for f in container.decode(audio=0))
    rate = container.streams.audio[0].rate
    assert abs(samples / rate - seconds) < 0.1, f"{samples / rate:.2f} s of sound"
print(f"ok: {path}: {frames} frames {width}x{height} at 24 fps, {samples / rate:.2f} s of sound")
EOF
}

submit() {  # submit VENV URL KEY OUT [OPTIONS…]: the README's client CLI
    local venv="$1" url="$2" key="$3" out="$4"; shift 4
    [ -f "$WORK/first.jpg" ] || make_frames "$venv/bin/python" "$WORK"
    INBETWEEN_BASE_URL="$url" INBETWEEN_API_KEY="$key" INBETWEEN_JOURNAL="$WORK/journal" \
        "$venv/bin/inbetween" submit "$WORK/first.jpg" "$WORK/last.png" \
        -p "A slow push in, rain falls" --resolution 720p -o "$out" "$@" \
        >>"$WORK/client.log" 2>&1 || fail "inbetween submit against $url"
}

step_run() {
    say "make serve's install (pip install -e ., no extras)"
    # exactly the README's first command, on its own venv and a free port
    make -C "$ROOT" VENV="$WORK/run" "$WORK/run/.installed-run" >"$WORK/run-pip.log" 2>&1 \
        || fail "make's install step (see run-pip.log)"
    local extras
    extras="$("$WORK/run/bin/python" -c 'from importlib.util import find_spec as f; print(" ".join(n for n in ("psycopg", "boto3", "celery", "kombu", "torch", "diffusers", "peft", "torchao") if f(n)))')"
    [ -z "$extras" ] || fail "the plain install has optional packages: $extras"
    make_frames "$WORK/run/bin/python" "$WORK"
    local port url key
    port="$(free_port)"; url="http://127.0.0.1:$port"
    start run-serve env INBETWEEN_PORT="$port" INBETWEEN_DATA_DIR="$WORK/run-data" \
        make -C "$ROOT" VENV="$WORK/run" serve
    wait_healthy "$url" "$LAST_PID" "$WORK/run-serve.log"
    key="$(server_key "$WORK/run-serve.log")"
    echo "ok: make serve is up on $url and printed its key"
    submit "$WORK/run" "$url" "$key" "$WORK/run-clip.mp4"
    check_mp4 "$WORK/run/bin/python" "$WORK/run-clip.mp4" 8 1280 720
    stop "$LAST_PID"
    # offline: no server, and no network needed
    INBETWEEN_DATA_DIR="$WORK/run-data" "$WORK/run/bin/inbetween" generate \
        --first "$WORK/first.jpg" --last "$WORK/last.png" --prompt "a slow pan" \
        -o "$WORK/run-local.mp4" --resolution 720p --duration 4 >"$WORK/run-generate.log" 2>&1 \
        || fail "inbetween generate (see run-generate.log)"
    check_mp4 "$WORK/run/bin/python" "$WORK/run-local.mp4" 4 1280 720
    PASSED=$((PASSED + 1))
}

step_wheel() {
    say "pip install . (a wheel)"
    new_venv wheel "."
    "$WORK/wheel/bin/python" -c 'import inbetween, sys; sys.exit("/src/" in inbetween.__file__)' \
        || fail "the wheel venv imports inbetween from the source tree"
    local port url
    port="$(free_port)"; url="http://127.0.0.1:$port"
    start wheel-serve env -C "$WORK" INBETWEEN_DATA_DIR="$WORK/wheel-data" \
        "$WORK/wheel/bin/inbetween" serve --port "$port"
    wait_healthy "$url" "$LAST_PID" "$WORK/wheel-serve.log"
    server_key "$WORK/wheel-serve.log" >/dev/null
    curl -fsS "$url/" -o "$WORK/wheel.html" || fail "GET /"
    grep -q 'playground.js' "$WORK/wheel.html" || fail "GET / is not the playground page"
    curl -fsS -D "$WORK/wheel-js.headers" "$url/playground/playground.js" -o "$WORK/wheel.js" \
        || fail "GET /playground/playground.js"
    grep -qi '^content-type: text/javascript' "$WORK/wheel-js.headers" \
        || fail "playground.js is not served as JavaScript"
    grep -q 'generations' "$WORK/wheel.js" || fail "playground.js is not the playground's script"
    curl -fsS "$url/playground/playground.css" -o /dev/null || fail "GET playground.css"
    curl -fsS "$url/docs" -o "$WORK/wheel-docs.html" || fail "GET /docs"
    grep -qi 'swagger' "$WORK/wheel-docs.html" || fail "GET /docs is not the API docs page"
    echo "ok: the wheel's server migrated a new database and serves /, its script and /docs"
    stop "$LAST_PID"
    PASSED=$((PASSED + 1))
}

serve_one() {  # serve_one NAME VENV [ENV…]: serve with ENV, one generation through the CLI
    local name="$1" venv="$2"; shift 2
    local port url key
    port="$(free_port)"; url="http://127.0.0.1:$port"
    start "$name-serve" env INBETWEEN_DATA_DIR="$WORK/$name-data" "$@" \
        "$venv/bin/inbetween" serve --port "$port"
    local server=$LAST_PID
    wait_healthy "$url" "$server" "$WORK/$name-serve.log"
    key="$(server_key "$WORK/$name-serve.log")"
    submit "$venv" "$url" "$key" "$WORK/$name.mp4" --duration 4
    check_mp4 "$venv/bin/python" "$WORK/$name.mp4" 4 1280 720
    stop "$server"
}

step_postgres() {
    say "pip install '.[postgres]' against PostgreSQL"
    listening 5432 || { skip_or_fail "no PostgreSQL on 127.0.0.1:5432"; return; }
    new_venv postgres ".[postgres]"
    local admin="postgresql://root@127.0.0.1:5432/test"
    "$WORK/postgres/bin/python" - "$admin" <<'EOF' || fail "cannot create the database"
import sys

import psycopg

with psycopg.connect(sys.argv[1], autocommit=True) as conn:
    conn.execute("DROP DATABASE IF EXISTS inbetween_install_smoke WITH (FORCE)")
    conn.execute("CREATE DATABASE inbetween_install_smoke")
EOF
    serve_one postgres "$WORK/postgres" \
        INBETWEEN_DATABASE_URL="postgresql+psycopg://root@127.0.0.1:5432/inbetween_install_smoke"
    echo "ok: .[postgres] served a generation from PostgreSQL"
    PASSED=$((PASSED + 1))
}

step_celery() {
    say "pip install '.[celery]': inbetween worker on Redis and on RabbitMQ"
    local brokers=() broker name port url key server worker
    if listening 6379; then brokers+=("redis://127.0.0.1:6379/13"); else
        skip_or_fail "no Redis on 127.0.0.1:6379"; fi
    if listening 5672; then brokers+=("amqp://guest:guest@127.0.0.1:5672//"); else
        skip_or_fail "no RabbitMQ on 127.0.0.1:5672"; fi
    [ ${#brokers[@]} -gt 0 ] || return 0
    new_venv celery ".[celery]"
    for broker in "${brokers[@]}"; do
        name="celery-${broker%%:*}"
        port="$(free_port)"; url="http://127.0.0.1:$port"
        start "$name-serve" env INBETWEEN_DATA_DIR="$WORK/$name-data" \
            INBETWEEN_BROKER_URL="$broker" "$WORK/celery/bin/inbetween" serve --port "$port"
        server=$LAST_PID
        wait_healthy "$url" "$server" "$WORK/$name-serve.log"
        key="$(server_key "$WORK/$name-serve.log")"
        start "$name-worker" env INBETWEEN_DATA_DIR="$WORK/$name-data" \
            INBETWEEN_BROKER_URL="$broker" "$WORK/celery/bin/inbetween" worker --concurrency 1
        worker=$LAST_PID
        submit "$WORK/celery" "$url" "$key" "$WORK/$name.mp4" --duration 4
        check_mp4 "$WORK/celery/bin/python" "$WORK/$name.mp4" 4 1280 720
        stop "$worker"; stop "$server"
        grep -q 'job.finished .*status=completed' "$WORK/$name-worker.log" \
            || fail "the generation was not run by inbetween worker ($name-worker.log)"
        echo "ok: .[celery]: inbetween worker ran the generation over ${broker%%:*}"
    done
    PASSED=$((PASSED + 1))
}

step_s3() {
    say "pip install '.[s3]' against moto's S3 server"
    if [ ! -x "$ROOT/.venv/bin/moto_server" ]; then
        make -C "$ROOT" .venv/.installed-test >"$WORK/test-venv.log" 2>&1 \
            || fail "make's test install (for moto_server)"
    fi
    new_venv s3 ".[s3]"
    local port
    port="$(free_port)"
    start moto "$ROOT/.venv/bin/moto_server" -H 127.0.0.1 -p "$port"
    for _ in $(seq 1 300); do listening "$port" && break; sleep 0.1; done
    listening "$port" || fail "moto_server did not start"
    local aws=(AWS_ACCESS_KEY_ID=smoke AWS_SECRET_ACCESS_KEY=smoke AWS_DEFAULT_REGION=us-east-1)
    env "${aws[@]}" "$WORK/s3/bin/python" - "http://127.0.0.1:$port" <<'EOF' || fail "create the bucket"
import sys

import boto3

boto3.client("s3", endpoint_url=sys.argv[1]).create_bucket(Bucket="smoke")
EOF
    serve_one s3 "$WORK/s3" "${aws[@]}" INBETWEEN_STORAGE_URL="s3://smoke/clips" \
        INBETWEEN_S3_ENDPOINT_URL="http://127.0.0.1:$port"
    env "${aws[@]}" "$WORK/s3/bin/python" - "http://127.0.0.1:$port" <<'EOF' || fail "the video is not in the bucket"
import sys

import boto3

listed = boto3.client("s3", endpoint_url=sys.argv[1]).list_objects_v2(Bucket="smoke")
keys = [o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith(".mp4")]
assert keys and all(k.startswith("clips/") for k in keys), listed
print(f"ok: the video is in the bucket as {keys[0]}")
EOF
    PASSED=$((PASSED + 1))
}

started=$SECONDS
for step in "${STEPS[@]}"; do
    case "$step" in
        run) step_run ;;
        wheel) step_wheel; ;;
        postgres|celery|s3) "step_$step" ;;
        *) fail "unknown step $step (use: run wheel postgres celery s3)" ;;
    esac
done
echo
echo "install smoke: ${PASSED} passed, 0 failed, ${SKIPPED} skipped in $((SECONDS - started)) s"
