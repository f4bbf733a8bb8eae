#!/usr/bin/env bash
# Run the test suite under a wall clock moved ahead (default 730 days), to find tests and
# code that only work until some date: `bash scripts/test_future_clock.sh [DAYS] [PYTEST ARGS…]`.
#
# Uses Debian's faketime (apt-get install faketime) on every process the tests start, with
# the monotonic clock left alone (FAKETIME_DONT_FAKE_MONOTONIC=1: with it faked, Python's
# timed waits hang, since glibc's sem_clockwait is not intercepted). libfaketime 0.9.10 then
# turns Python's absolute clock_nanosleep(CLOCK_MONOTONIC) into EINVAL ("time.sleep:
# Invalid argument"), so a one-function shim, built here with cc, goes in front of it and
# hands clock_nanosleep to the kernel untouched. redis-server (jemalloc) cannot start with
# libfaketime preloaded ("unexpected recursive calls to clock_gettime"), so the fault tests'
# own redis-server runs on the real clock, through a wrapper first on PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DAYS="${1:-730}"
[ $# -gt 0 ] && shift
LIB="$(find /usr/lib /usr/local/lib -name libfaketime.so.1 -print -quit 2>/dev/null || true)"
if [ -z "$LIB" ]; then
    echo "error: libfaketime is not installed; on Debian or Ubuntu: sudo apt-get install faketime" >&2
    exit 2
fi
command -v cc >/dev/null || { echo "error: no C compiler (cc) for the shim: apt-get install gcc" >&2; exit 2; }
SHIM_DIR="$(mktemp -d)"
trap 'rm -rf "$SHIM_DIR"' EXIT
cat >"$SHIM_DIR/sleep.c" <<'EOF'
#define _GNU_SOURCE
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req,
                    struct timespec *rem) {
    return syscall(SYS_clock_nanosleep, clock, flags, req, rem) == 0 ? 0 : errno;
}
EOF
cc -shared -fPIC -O2 -o "$SHIM_DIR/sleep.so" "$SHIM_DIR/sleep.c"
if REDIS="$(command -v redis-server)"; then
    mkdir "$SHIM_DIR/bin"
    printf '#!/bin/sh\nunset LD_PRELOAD\nexec %s "$@"\n' "$REDIS" >"$SHIM_DIR/bin/redis-server"
    chmod +x "$SHIM_DIR/bin/redis-server"
    export PATH="$SHIM_DIR/bin:$PATH"
fi
make -C "$ROOT" .venv/.installed-test >/dev/null
cd "$ROOT"
export FAKETIME="+${DAYS}d" FAKETIME_DONT_FAKE_MONOTONIC=1
export LD_PRELOAD="$SHIM_DIR/sleep.so $LIB"
echo "the clock here now reads $(date -u '+%Y-%m-%d %H:%M UTC')"
.venv/bin/pytest -p no:cacheprovider "$@"
