"""What `inbetween serve`, `worker` and `keys` check before they start, each problem said in
one line naming the setting and the fix (the CLI exits 2 with it; `--debug` or
``INBETWEEN_LOG_LEVEL=DEBUG`` adds the traceback).

- every optional extra that a configured setting needs is installed (found with
  ``importlib.util.find_spec``, never imported here): a setting left at its built-in default
  needs nothing;
- the data directory can be created and written;
- the database URL parses, its driver is installed, and the database answers (retried for
  up to ``wait`` seconds: a database that is still starting is not an error);
- the broker answers (the same);
- an S3 bucket exists and these credentials may use it.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from typing import TYPE_CHECKING, TypeVar
from urllib.parse import urlsplit, urlunsplit

from inbetween.errors import ConfigurationError

if TYPE_CHECKING:
    from inbetween.settings import Settings
    from inbetween.storage.base import ArtifactStore
    from inbetween.store.sql import SqlStore

__all__ = ["check_broker", "check_data_dir", "check_extras", "check_storage", "install_command",
           "open_store_checked", "redact"]

T = TypeVar("T")
START_WAIT = 10.0
"""How long a database or broker may take to answer at start."""


def redact(url: str) -> str:
    """``url`` without its password (URLs are shown in errors and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def install_command(extra: str) -> str:
    """The one command that installs an optional extra of inbetween."""
    return f"pip install 'inbetween[{extra}]'"


DIFFUSION_MODULES = ("torch", "diffusers", "transformers", "accelerate")
DIFFUSION_SETTINGS = ("wan_model", "ltx2_model", "wan22_model", "ltx2_upsampler")
LORA_SETTINGS = ("wan_loras", "ltx2_loras", "wan22_loras")


def _needs(settings: Settings, services: bool, engines: bool,
           ) -> Iterator[tuple[str, str | None, tuple[str, ...]]]:
    """(the setting as shown, the extra to install or None, the modules it needs) for every
    setting given a value (not a built-in default) that needs an optional package."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if settings.database_url:
        try:
            url = make_url(settings.database_url)
        except ArgumentError:
            url = None  # open_store_checked says what is wrong with it
        if url is not None and url.get_backend_name() == "postgresql" and (
                url.get_driver_name() in ("psycopg", "psycopg_async")):
            yield (f"INBETWEEN_DATABASE_URL={redact(settings.database_url)}", "postgres",
                   ("psycopg",))
    if services and settings.broker_url:
        redis = settings.broker_url.split(":", 1)[0].lower() in ("redis", "rediss")
        yield (f"INBETWEEN_BROKER_URL={redact(settings.broker_url)}", "celery",
               ("celery", "kombu", *(("redis",) if redis else ())))
    if services and settings.storage_url and settings.storage_url.startswith("s3://"):
        yield f"INBETWEEN_STORAGE_URL={settings.storage_url}", "s3", ("boto3", "botocore")
    if not engines:
        return
    from inbetween.engines.registry import DIFFUSION, LOCAL_ENGINES

    diffusion_engines = {name for name, model in LOCAL_ENGINES.items() if model in DIFFUSION}
    given = settings.model_fields_set
    for name in DIFFUSION_SETTINGS:
        if name in given and getattr(settings, name):
            yield f"INBETWEEN_{name.upper()}", "diffusion", DIFFUSION_MODULES
    for name in LORA_SETTINGS:
        if name in given and getattr(settings, name):
            yield f"INBETWEEN_{name.upper()}", "diffusion", (*DIFFUSION_MODULES, "peft")
    if settings.local_engine in diffusion_engines:
        yield (f"INBETWEEN_LOCAL_ENGINE={settings.local_engine}", "diffusion",
               DIFFUSION_MODULES)
    named = [n.strip() for n in (settings.worker_engines or "").split(",")]
    for name in (n for n in named if n in diffusion_engines):
        yield f"INBETWEEN_WORKER_ENGINES names {name}, which", "diffusion", DIFFUSION_MODULES
    if "diffusion_quantize" in given and settings.diffusion_quantize != "none":
        yield (f"INBETWEEN_DIFFUSION_QUANTIZE={settings.diffusion_quantize}", None,
               (*DIFFUSION_MODULES, "torchao"))


def check_extras(settings: Settings, *, services: bool = False, engines: bool = False) -> None:
    """Raise ConfigurationError for the first configured setting whose optional extra is not
    installed: the database URL always, the broker and the object store with ``services``,
    the diffusion engines' settings with ``engines``. Nothing is imported to find out."""
    for setting, extra, modules in _needs(settings, services, engines):
        missing = [name for name in modules if find_spec(name) is None]
        if not missing:
            continue
        if extra is None:  # torchao: no extra of ours pins it (it follows the CUDA build)
            diffusion = [m for m in missing if m in DIFFUSION_MODULES]
            fix = (f"{install_command('diffusion')} && pip install torchao" if diffusion
                   else "pip install torchao")
            what = "torchao"
        else:
            fix, what = install_command(extra), f"the {extra} extra"
        raise ConfigurationError(
            f"{setting} needs {what}, which is not installed (no {', '.join(missing)}): "
            f"{fix}")


def check_data_dir(settings: Settings) -> None:
    path = settings.data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as e:
        raise ConfigurationError(
            f"INBETWEEN_DATA_DIR {str(path)!r} cannot be written ({e.strerror or e}); choose "
            "another directory (--data-dir or INBETWEEN_DATA_DIR) or fix its permissions"
        ) from e


def open_store_checked(settings: Settings, wait: float = START_WAIT) -> SqlStore:
    """``store.open_store`` with every failure turned into one ConfigurationError line."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    from inbetween.errors import InfrastructureError
    from inbetween.store import open_store

    check_extras(settings)
    check_data_dir(settings)
    url = settings.resolved_database_url
    shown = redact(url)
    try:
        return _retrying(lambda: open_store(settings), wait,
                         (OperationalError, InfrastructureError))
    except ArgumentError as e:
        raise ConfigurationError(
            f"INBETWEEN_DATABASE_URL {shown!r} is not a database URL; use e.g. "
            "sqlite:///data/inbetween.db or postgresql+psycopg://user@host:5432/db") from e
    except (NoSuchModuleError, ModuleNotFoundError) as e:
        fix = ("pip install 'inbetween[postgres]' and use postgresql+psycopg://…"
               if url.startswith("postgres") else
               "use sqlite:///… or postgresql+psycopg://… (pip install 'inbetween[postgres]')")
        raise ConfigurationError(
            f"INBETWEEN_DATABASE_URL {shown!r} needs a database driver that is not installed "
            f"({e}); {fix}") from e
    except (OperationalError, InfrastructureError) as e:
        raise ConfigurationError(
            f"cannot reach the database {shown} (INBETWEEN_DATABASE_URL) within {wait:g} s: "
            f"{_first_line(e)}; check that it is running and that the URL is right") from e


def check_broker(settings: Settings, wait: float = START_WAIT) -> None:
    """Raise ConfigurationError when INBETWEEN_BROKER_URL does not answer within ``wait``
    (nothing to check, and nothing imported, when no broker is configured)."""
    url = settings.broker_url
    if not url:
        return
    check_extras(settings, services=True)
    from kombu import Connection  # type: ignore[attr-defined]

    def ping() -> None:
        with Connection(url, connect_timeout=3) as connection:  # type: ignore[no-untyped-call]
            connection.ensure_connection(max_retries=1)

    try:
        _retrying(ping, wait, (Exception,))
    except Exception as e:
        raise ConfigurationError(
            f"cannot reach the broker {redact(url)} (INBETWEEN_BROKER_URL) within {wait:g} s: "
            f"{_first_line(e)}; check that Redis or RabbitMQ is running and the URL is "
            "right") from e


def check_storage(settings: Settings, artifacts: ArtifactStore) -> None:
    """Raise ConfigurationError when the artifact store cannot be used (S3: the bucket is
    missing or these credentials are refused)."""
    ping = getattr(artifacts, "ping", None)
    if ping is None:
        return
    try:
        ping()
    except ConfigurationError:
        raise
    except Exception as e:
        raise ConfigurationError(
            f"INBETWEEN_STORAGE_URL {settings.storage_url!r}: {_first_line(e)}") from e


def _retrying(attempt: Callable[[], T], wait: float,
              transient: tuple[type[BaseException], ...]) -> T:
    deadline = time.monotonic() + wait
    while True:
        try:
            return attempt()
        except transient:
            if time.monotonic() >= deadline:
                raise
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


def _first_line(e: BaseException) -> str:
    cause = getattr(e, "orig", None) or e
    text = str(cause).strip().splitlines()
    return (text[0] if text else type(cause).__name__)[:300]

