"""The `inbetween` command: serve, worker, keys, generate (local), and the client commands
(submit, status, wait, list, download, delete, resume: see inbetween.client.cli)."""

from __future__ import annotations

import gc
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from inbetween import __version__
from inbetween.errors import ConfigurationError, InbetweenError
from inbetween.log import configure

__all__ = ["app", "main"]

app = typer.Typer(
    help="inbetween: first-and-last-frame video generation. Every option can also be set "
    "with the INBETWEEN_… environment variable named in its help.",
    no_args_is_help=True,
    add_completion=False,
)
keys_app = typer.Typer(help="Manage API keys (stored as SHA-256 hashes in the database).",
                       no_args_is_help=True)
app.add_typer(keys_app, name="keys")
err = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Database and videos. (env INBETWEEN_DATA_DIR, "
                 "default ./data)", show_default=False),
]


def _settings(**overrides: Any) -> Any:
    from inbetween.settings import ENV_PREFIX, Settings

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as e:
        first = e.errors()[0]
        name = ENV_PREFIX + str(first["loc"][0]).upper() if first["loc"] else "settings"
        _fail(f"invalid setting {name}: {first['msg']}")


def _check_settings(settings: Any, workers: bool) -> None:
    """Refuse, in one line, what `serve` or `worker` cannot start with: first an optional extra
    that a configured setting needs and that is not installed (the broker's, the object
    store's, the engines'), then, with ``workers``, engine settings this process's workers
    cannot run with."""
    from inbetween.engines.diffusion.checks import StartupRefused, check_worker
    from inbetween.preflight import check_extras

    try:
        check_extras(settings, services=True, engines=True)
        if workers:
            check_worker(settings)
    except ConfigurationError as e:
        _fail(e.message, cause=e)
    except StartupRefused as e:
        _fail(str(e))


_debug = False


@app.callback()
def _options(debug: Annotated[bool, typer.Option(
        "--debug", help="Show the traceback behind an error (so does INBETWEEN_LOG_LEVEL="
        "DEBUG).")] = False) -> None:
    global _debug
    _debug = debug


def _fail(message: str, code: int = 2, cause: BaseException | None = None) -> Any:
    import os

    if cause is not None and (_debug or os.environ.get("INBETWEEN_LOG_LEVEL", "").upper()
                              == "DEBUG"):
        import traceback

        traceback.print_exception(cause, file=sys.stderr)
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False,
              soft_wrap=True)  # one line, printed as it is (`[postgres]` is not markup)
    raise typer.Exit(code)


def _store(settings: Any, services: bool = False) -> Any:
    """The job store, or exit 2 with one line (see ``inbetween.preflight``); ``services``:
    also the broker and the artifact store this process will use (their extras checked
    first by ``_check_settings``)."""
    from inbetween.preflight import check_broker, check_storage, open_store_checked
    from inbetween.storage import open_artifacts

    try:
        store = open_store_checked(settings)
        if services:
            check_broker(settings)
            check_storage(settings, open_artifacts(settings))
        return store
    except ConfigurationError as e:
        _fail(e.message, cause=e)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address. (env INBETWEEN_HOST, "
                                             "default 127.0.0.1)", show_default=False)] = None,
    port: Annotated[int | None, typer.Option(help="Listen port. (env INBETWEEN_PORT, "
                                             "default 8000)", show_default=False)] = None,
    data_dir: DataDir = None,
    concurrency: Annotated[int | None, typer.Option(
        help="Jobs run at once in this process; 0 = only accept and store jobs. "
        "(env INBETWEEN_CONCURRENCY, default 1)", show_default=False)] = None,
) -> None:
    """Run the HTTP server with its in-process worker pool."""
    import uvicorn

    from inbetween.api import create_app
    from inbetween.keys import create_key

    settings = _settings(host=host, port=port, data_dir=data_dir, concurrency=concurrency)
    configure(settings.log_level)
    # with concurrency and no broker this process runs the jobs
    _check_settings(settings, workers=bool(settings.concurrency and not settings.broker_url))
    store = _store(settings, services=True)
    if not store.list_keys():
        plaintext, _ = create_key(store, "default")
        print("No API key existed, so one was created (shown only this once):", flush=True)
        print(f"  Authorization: Bearer {plaintext}", flush=True)
    store.engine.dispose()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_level=settings.log_level.lower(),
                timeout_graceful_shutdown=max(1, round(settings.drain_seconds)))


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(
        help="Jobs run at once (worker processes). (env INBETWEEN_CONCURRENCY, default 1)",
        show_default=False)] = None,
    data_dir: DataDir = None,
) -> None:
    """Run a Celery worker for the jobs an API with INBETWEEN_BROKER_URL sends it."""
    settings = _settings(concurrency=concurrency, data_dir=data_dir)
    configure(settings.log_level)
    if not settings.broker_url:
        _fail("set INBETWEEN_BROKER_URL (redis://… or amqp://…), the same as the API's")
    if settings.concurrency < 1:
        _fail("--concurrency must be at least 1")
    _check_settings(settings, workers=True)
    _store(settings, services=True).engine.dispose()
    from inbetween.dispatch.celery import run_worker  # the celery extra: checked above

    run_worker(settings, settings.concurrency)


BudgetUsd = Annotated[float | None, typer.Option(
    "--budget-usd", min=0, help="Spend cap in USD per period: a submission whose worst-case "
    "cost does not fit what is left answers 402 BudgetExceeded.", show_default=False)]
BudgetPeriod = Annotated[str, typer.Option(
    "--budget-period", help="UTC calendar period of the budget: month, day or total.")]


def _period(value: str) -> str:
    from inbetween.jobs.models import BUDGET_PERIODS

    if value not in BUDGET_PERIODS:
        _fail(f"--budget-period/--period {value!r}: use one of {', '.join(BUDGET_PERIODS)}")
    return value


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label for the key (who or what uses it).")],
    data_dir: DataDir = None,
    budget_usd: BudgetUsd = None,
    budget_period: BudgetPeriod = "month",
) -> None:
    """Create an API key; prints the key alone on the last line (it is not shown again)."""
    from inbetween.keys import create_key

    period = _period(budget_period)
    settings = _settings(data_dir=data_dir)
    store = _store(settings)
    plaintext, record = create_key(store, name, budget_usd, period)
    budget = f" with a {_budget_text(budget_usd, period)} budget" if budget_usd is not None else ""
    print(f"Created key {record.id} named {name!r}{budget}. Send it as "
          "`Authorization: Bearer <key>`:")
    print(plaintext)


def _budget_text(usd: float, period: str) -> str:
    return f"${usd:.2f} " + {"month": "a month", "day": "a day", "total": "total"}[period]


@keys_app.command("budget")
def keys_budget(
    name: Annotated[str, typer.Argument(help="Name of the key(s).")],
    usd: Annotated[float | None, typer.Option(
        "--usd", min=0, help="The new cap in USD per period.", show_default=False)] = None,
    period: Annotated[str, typer.Option(
        "--period", help="UTC calendar period: month, day or total.")] = "month",
    remove: Annotated[bool, typer.Option("--remove", help="Remove the budget.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Set or remove the spend budget of every live key with this name (takes effect at
    once; what was charged this period counts against the new cap)."""

    if (usd is None) == (not remove):
        _fail("give either --usd X (with --period month|day|total) or --remove")
    chosen = _period(period)
    store = _store(_settings(data_dir=data_dir))
    count = store.set_budget(name, usd, chosen)
    if count == 0:
        _fail(f"no live key is named {name!r}; `inbetween keys list` shows the names")
    what = "removed the budget" if usd is None else f"set a {_budget_text(usd, chosen)} budget"
    print(f"{what} of {count} key{'s' if count != 1 else ''} named {name!r}")


@keys_app.command("list")
def keys_list(data_dir: DataDir = None) -> None:
    """List API keys: id, creation time, name, and whether revoked (keys are never shown)."""

    store = _store(_settings(data_dir=data_dir))
    for key in store.list_keys():
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(key.created_at))
        revoked = "  (revoked)" if key.revoked_at is not None else ""
        budget = (f"  budget {_budget_text(key.budget_usd, key.budget_period or 'month')}"
                  if key.budget_usd is not None else "")
        print(f"{key.id}  {created}Z  {key.name}{budget}{revoked}")


@keys_app.command("revoke")
def keys_revoke(
    name: Annotated[str, typer.Argument(help="Name of the key(s) to revoke.")],
    data_dir: DataDir = None,
) -> None:
    """Revoke every key with this name; they stop working at once."""

    store = _store(_settings(data_dir=data_dir))
    count = store.revoke_keys(name, time.time())
    if count == 0:
        _fail(f"no live key is named {name!r}; `inbetween keys list` shows the names")
    print(f"revoked {count} key{'s' if count != 1 else ''} named {name!r}")


@app.command()
def generate(
    first: Annotated[str, typer.Option(help="First frame: a path or an http(s) URL.")],
    last: Annotated[str, typer.Option(help="Last frame: a path or an http(s) URL.")],
    prompt: Annotated[str, typer.Option(help="What happens between the two frames.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the MP4.")],
    resolution: Annotated[str, typer.Option(help="720p or 1080p.")] = "1080p",
    aspect_ratio: Annotated[str, typer.Option(help="16:9 or 9:16.")] = "16:9",
    duration: Annotated[int, typer.Option(help="Seconds: 4, 6 or 8.")] = 8,
    seed: Annotated[int | None, typer.Option(help="Seed (random when omitted).")] = None,
    audio: Annotated[bool, typer.Option("--audio/--no-audio", help="Add a sound track.")] = True,
) -> None:
    """Generate a video locally with the CPU keyframe engine (no server needed)."""
    from inbetween.generate import LocalJob, check_job, run_local

    settings = _settings()
    configure(settings.log_level)
    job = LocalJob(first=first, last=last, prompt=prompt, output=output, resolution=resolution,
                   aspect_ratio=aspect_ratio, duration=duration, seed=seed, audio=audio)
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
               TimeElapsedColumn())
    try:
        check_job(job)
        if audio:  # imports are not generation time: pay them before the clock starts
            from inbetween.media.audio import preload

            preload()
        # what is loaded by now lives as long as the process: the cycle collector need not
        # walk it again each time the frames' garbage triggers a full collection (~5 % of a
        # short run's time)
        gc.freeze()
        with Progress(*columns, console=err, transient=False) as bar:
            task = bar.add_task("generating", total=100)
            started = time.perf_counter()
            result = run_local(job, settings,
                               on_progress=lambda stage, pct: bar.update(
                                   task, completed=pct, description=stage))
    except InbetweenError as e:
        _fail(e.message)
    finally:
        gc.unfreeze()  # for a caller that goes on in this process (tests): collected as before
    elapsed = time.perf_counter() - started
    err.print(f"wrote {output} ({result.frames} frames, {result.width}×{result.height}, "
              f"seed {result.seed}) in {elapsed:.2f} s", highlight=False)
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {warning.message}", highlight=False)


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


SERVER_COMMANDS = ("serve", "worker", "keys", "generate", "version")
"""Commands that never use the client: they run without loading it (and httpx)."""


def add_client_commands() -> None:
    """Add submit, status, wait, list, download, delete and resume (``inbetween.client.cli``)."""
    from inbetween.client.cli import register

    register(app)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in SERVER_COMMANDS:
        add_client_commands()
    app(prog_name="inbetween")


if __name__ == "__main__":  # pragma: no cover
    main()
