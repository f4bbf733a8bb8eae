"""Client commands of `inbetween`: submit, status, wait, list, download, delete, resume.

stdout carries only results (the generation id; JSON for status and list); progress goes to
stderr: a progress bar on a terminal, plain lines otherwise, JSON lines with ``--json``.
Exit codes: 0 success, 2 invalid input, 3 generation error, 4 time-out, 5 uncertain submit
(1: anything else, e.g. the server cannot be reached).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from inbetween.client.aio import DEFAULT_MODEL, InputError
from inbetween.client.errors import (
    APIError,
    ClientError,
    GenerationFailed,
    InbetweenClientError,
    SubmitUncertain,
    UnsupportedFeature,
    WaitTimeout,
)
from inbetween.client.journal import DONE, FAILED, SUBMITTED, UNCERTAIN, Entry, Journal
from inbetween.client.models import Generation, Progress
from inbetween.client.sync import Client

__all__ = ["EXIT_GENERATION", "EXIT_INPUT", "EXIT_TIMEOUT", "EXIT_UNCERTAIN", "register"]

EXIT_INPUT, EXIT_GENERATION, EXIT_TIMEOUT, EXIT_UNCERTAIN = 2, 3, 4, 5
err = Console(stderr=True)

GenerationId = Annotated[str, typer.Argument(metavar="ID", help="The generation's id.")]
BaseUrl = Annotated[str | None, typer.Option(
    "--base-url", help="The server. (env INBETWEEN_BASE_URL, default http://127.0.0.1:8000)",
    show_default=False)]
ApiKeyOpt = Annotated[str | None, typer.Option(
    "--api-key", help="Your API key. (env INBETWEEN_API_KEY)", show_default=False)]
JsonOpt = Annotated[bool, typer.Option(
    "--json", help="Progress and results as JSON lines (for scripts).")]
Timeout = Annotated[float | None, typer.Option(
    "--timeout", help="Give up waiting after this many seconds (exit 4); the generation "
    "keeps running.", show_default=False)]
Output = Annotated[Path | None, typer.Option(
    "-o", "--output", help="Download the video to this path once completed.",
    dir_okay=False, show_default=False)]


class Reporter:
    """Progress to stderr in one of three modes; safe to call from the client's thread."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.terminal = not as_json and sys.stderr.isatty()
        self._last: Progress | None = None
        self._lock = threading.Lock()
        self._bar: Any = None
        self._task: Any = None

    @contextmanager
    def running(self, generation_id: str) -> Iterator[Callable[[Progress], None]]:
        if self.terminal:
            from rich.progress import (
                BarColumn,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import Progress as Bar

            self._bar = Bar(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                            TimeElapsedColumn(), console=err, transient=False)
            self._task = self._bar.add_task(generation_id[:8], total=100)
            with self._bar:
                yield self.update
            self._bar = None
        else:
            yield self.update

    def update(self, snapshot: Progress) -> None:
        with self._lock:
            if snapshot == self._last:
                return
            self._last = snapshot
            percent = snapshot.progress or 0
            stage = snapshot.stage or snapshot.status
            if self.as_json:
                print(json.dumps({"event": "progress", "status": snapshot.status,
                                  "stage": snapshot.stage, "progress": snapshot.progress,
                                  "queue_position": snapshot.queue_position}),
                      file=sys.stderr, flush=True)
            elif self._bar is not None:
                where = f" #{snapshot.queue_position}" if snapshot.queue_position else ""
                self._bar.update(self._task, completed=percent,
                                 description=f"{stage}{where}".ljust(14))
            else:
                where = (f" (queue position {snapshot.queue_position})"
                         if snapshot.queue_position else "")
                print(f"{stage} {percent}%{where}", file=sys.stderr, flush=True)

    def note(self, message: str, **fields: Any) -> None:
        if self.as_json:
            print(json.dumps({"event": "note", "message": message, **fields}),
                  file=sys.stderr, flush=True)
        else:
            err.print(message, highlight=False, soft_wrap=True)


def _client(base_url: str | None, api_key: str | None, timeout: float | None = None) -> Client:
    try:
        return Client(base_url, api_key, wait_timeout=timeout)
    except InputError as e:
        return _exit(str(e), EXIT_INPUT)  # type: ignore[no-any-return]


def _exit(message: str, code: int, as_json: bool = False, **fields: Any) -> Any:
    if as_json:
        print(json.dumps({"event": "error", "exit_code": code, "message": message, **fields}),
              file=sys.stderr, flush=True)
    else:
        err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def _errors(as_json: bool) -> Iterator[None]:
    """Map the client's exceptions to exit codes."""
    try:
        yield
    except GenerationFailed as e:
        error = e.generation.error
        _exit(str(e), EXIT_GENERATION, as_json, id=e.generation.id,
              error={"name": error.name, "message": error.message} if error else None)
    except WaitTimeout as e:
        _exit(str(e), EXIT_TIMEOUT, as_json, id=e.generation_id)
    except SubmitUncertain as e:
        _exit(f"{e} — run `inbetween resume` later, or check `inbetween list`",
              EXIT_UNCERTAIN, as_json)
    except (InputError, ClientError, UnsupportedFeature) as e:
        _exit(_describe(e), EXIT_INPUT, as_json)
    except (APIError, InbetweenClientError) as e:
        _exit(_describe(e), 1, as_json)
    except OSError as e:  # httpx's transport errors are not OSErrors; file errors are
        _exit(f"{e}", 1, as_json)
    except Exception as e:
        if type(e).__module__.startswith("httpx"):
            _exit(f"cannot reach the server: {type(e).__name__}: {e}", 1, as_json)
        raise


def _describe(e: Exception) -> str:
    if isinstance(e, APIError):
        where = f" (field {e.field}" + (f", allowed: {e.allowed}" if e.allowed else "") + ")" \
            if e.field else ""
        return f"{e.name}: {e.message}{where}"
    return str(e)


def _finish(client: Client, generation_id: str, output: Path | None, reporter: Reporter,
            timeout: float | None) -> Generation:
    with reporter.running(generation_id) as on_progress:
        generation = client.wait(generation_id, timeout, on_progress)
    if output is not None:
        path = client.download(generation, output)
        reporter.note(f"saved {path}", id=generation_id, path=str(path))
    return generation


def register(app: typer.Typer) -> None:
    """Add the client commands to the `inbetween` command."""

    @app.command(rich_help_panel="Client")
    def submit(
        first: Annotated[str, typer.Argument(help="First frame: a file path or an http(s) URL.")],
        last: Annotated[str, typer.Argument(help="Last frame: a file path or an http(s) URL.")],
        prompt: Annotated[str, typer.Option("--prompt", "-p",
                                            help="What happens between the frames.")],
        model: Annotated[str, typer.Option(help="Model name.")] = DEFAULT_MODEL,
        resolution: Annotated[str | None, typer.Option(help="720p or 1080p.",
                                                       show_default=False)] = None,
        duration: Annotated[int | None, typer.Option(help="4, 6 or 8 seconds.",
                                                     show_default=False)] = None,
        aspect_ratio: Annotated[str | None, typer.Option(help="16:9 or 9:16.",
                                                         show_default=False)] = None,
        audio: Annotated[bool | None, typer.Option("--audio/--no-audio",
                                                   help="Generate a sound track.",
                                                   show_default=False)] = None,
        seed: Annotated[int | None, typer.Option(help="Seed for reproducible output.",
                                                 show_default=False)] = None,
        negative_prompt: Annotated[str | None, typer.Option(help="What to avoid.",
                                                            show_default=False)] = None,
        provider: Annotated[str | None, typer.Option(help="Routing: auto, local, …",
                                                     show_default=False)] = None,
        wait: Annotated[bool, typer.Option("--wait", help="Wait for the result.")] = False,
        output: Output = None,
        timeout: Timeout = None,
        base_url: BaseUrl = None,
        api_key: ApiKeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Submit a generation; prints its id. With --wait or -o, follows it to the end.

        A journal entry is written before anything is sent, so `inbetween resume` can finish
        the work (without a second generation) if this command is interrupted.
        """
        from inbetween.client.journal import default_journal_dir

        options = {"resolution": resolution, "duration": duration,
                   "aspect_ratio": aspect_ratio, "generate_audio": audio, "seed": seed,
                   "negative_prompt": negative_prompt, "provider": provider}
        options = {k: v for k, v in options.items() if v is not None}
        reporter = Reporter(as_json)
        client = _client(base_url, api_key, timeout)
        journal = Journal(default_journal_dir())
        with client, _errors(as_json):
            entry = journal.new(base_url=client.base_url, first=_input(first),
                                last=_input(last), prompt=prompt, model=model,
                                options=options,
                                output=str(output.resolve()) if output else None)
            generation = _send(client, journal, entry)
            print(generation.id, flush=True)
            if wait or output is not None:
                _complete(client, journal, entry, reporter, timeout)

    @app.command(rich_help_panel="Client")
    def status(
        generation_id: GenerationId,
        base_url: BaseUrl = None,
        api_key: ApiKeyOpt = None,
    ) -> None:
        """Print a generation as JSON (the GET body)."""
        with _client(base_url, api_key) as client, _errors(False):
            print(json.dumps(client.get(generation_id).raw, indent=2))

    @app.command("wait", rich_help_panel="Client")
    def wait_command(
        generation_id: GenerationId,
        output: Output = None,
        timeout: Timeout = None,
        base_url: BaseUrl = None,
        api_key: ApiKeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Follow a generation to its end (and download it with -o)."""
        reporter = Reporter(as_json)
        with _client(base_url, api_key) as client, _errors(as_json):
            generation = _finish(client, generation_id, output, reporter, timeout)
            reporter.note(f"{generation.id} completed", id=generation.id,
                          url=generation.video.url if generation.video else None)

    @app.command("list", rich_help_panel="Client")
    def list_command(
        limit: Annotated[int, typer.Option(help="How many, newest first (1–100).")] = 20,
        base_url: BaseUrl = None,
        api_key: ApiKeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """List your generations, newest first."""
        with _client(base_url, api_key) as client, _errors(as_json):
            page = client.list(limit)
            for g in page.data:
                if as_json:
                    print(json.dumps(g.raw), flush=True)
                else:
                    prompt = (g.request or {}).get("prompt", "")
                    print(f"{g.id}  {g.status:<10} {g.created_at or '':<24} {prompt[:60]}")

    @app.command(rich_help_panel="Client")
    def download(
        generation_id: GenerationId,
        output: Annotated[Path, typer.Option("-o", "--output", dir_okay=False,
                                             help="Where to save the MP4.")],
        base_url: BaseUrl = None,
        api_key: ApiKeyOpt = None,
    ) -> None:
        """Download a completed generation's video."""
        with _client(base_url, api_key) as client, _errors(False):
            path = client.download(generation_id, output)
            err.print(f"saved {path}", highlight=False)

    @app.command(rich_help_panel="Client")
    def delete(
        generation_id: GenerationId,
        base_url: BaseUrl = None,
        api_key: ApiKeyOpt = None,
    ) -> None:
        """Cancel (if running) and delete a generation and its video."""
        with _client(base_url, api_key) as client, _errors(False):
            client.delete(generation_id)
            err.print(f"deleted {generation_id}", highlight=False)

    @app.command(rich_help_panel="Client")
    def resume(
        timeout: Timeout = None,
        base_url: BaseUrl = None,
        api_key: ApiKeyOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Finish every unfinished `inbetween submit` of the journal.

        Entries that never got an id are sent again with the same idempotency key (never a
        second generation); the others are waited for; results are downloaded to the -o
        path each submit named. Entries go to --base-url / INBETWEEN_BASE_URL when given,
        else to the server they were submitted to. The journal is $INBETWEEN_JOURNAL
        (default: the user's data folder).
        """
        from inbetween.client.journal import default_journal_dir

        journal = Journal(default_journal_dir())
        entries = [e for e in journal.entries() if e.open]
        reporter = Reporter(as_json)
        if not entries:
            reporter.note("nothing to resume")
            return
        worst = 0
        for entry in entries:
            server = base_url or os.environ.get("INBETWEEN_BASE_URL") or entry.base_url
            # (read here, not from ClientSettings: its default must not hide the entry's)
            with _client(server, api_key, timeout) as client:
                try:
                    with _errors(as_json):
                        if entry.id is None:
                            if entry.state == UNCERTAIN and \
                                    "idempotency" not in client.features():
                                _exit(f"entry {entry.key}: its submission may or may not have "
                                      "reached the server, which cannot deduplicate; check "
                                      "`inbetween list` and submit again if it is missing",
                                      EXIT_UNCERTAIN, as_json)
                            generation = _send(client, journal, entry)
                            print(generation.id, flush=True)
                        _complete(client, journal, entry, reporter, timeout)
                except typer.Exit as e:
                    worst = max(worst, e.exit_code)
        if worst:
            raise typer.Exit(worst)


def _input(value: str) -> str:
    """A path made absolute (so `resume` works from any folder); URLs unchanged."""
    if value[:8].lower().startswith(("http://", "https://", "data:")):
        return value
    path = Path(value)
    if not path.is_file():
        raise InputError(f"no such image file: {value!r}")
    return str(path.resolve())


def _send(client: Client, journal: Journal, entry: Entry) -> Generation:
    body = client.request_body(entry.first, entry.last, entry.prompt, model=entry.model,
                               **entry.options)
    try:
        generation = client.submit_body(body, idempotency_key=entry.key)
    except SubmitUncertain:
        entry.state = UNCERTAIN
        journal.save(entry)
        raise
    except ClientError as e:
        entry.state, entry.error = FAILED, _describe(e)
        journal.save(entry)
        raise
    entry.id, entry.state = generation.id, SUBMITTED
    journal.save(entry)
    return generation


def _complete(client: Client, journal: Journal, entry: Entry, reporter: Reporter,
              timeout: float | None) -> None:
    assert entry.id is not None
    output = Path(entry.output) if entry.output else None
    try:
        _finish(client, entry.id, output, reporter, timeout)
    except GenerationFailed as e:
        entry.state, entry.error = FAILED, str(e)
        journal.save(entry)
        raise
    entry.state = DONE
    journal.save(entry)
