"""The docs cannot drift from the code: every HTTP route, CLI command and option, model name
and advertised feature is documented, and every route the docs name exists (as
``test_every_setting_is_documented_with_its_default`` does for the settings).

Where a route must be documented (by the first segment of its path):

- ``/v1/…`` — the OpenAI-style dialect — in ``docs/openai-api.md``;
- every other route — the hosted API's v2 dialect and the server's own routes (``/files``,
  ``/healthz``, ``/metrics``) — in ``docs/api.md``, the HTTP API's reference and its index of
  routes; and, where a topic page owns it, there too: ``/v2/webhooks/…`` in
  ``docs/webhooks.md``, ``/metrics`` and ``/v2/usage`` in ``docs/operations.md``.

A route is documented when its method and path appear together, e.g.
``GET /v2/video/generations/events``, not followed by more path (so ``/v2/video/generations``
is not found inside ``/v2/video/generations/list``); a query string may follow. Path
parameters are normalised: ``{upload_id}`` in the OpenAPI document matches ``{id}`` in the
docs (the name inside the braces is the code's, not the client's concern).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from inbetween.api.app import FEATURES, create_app
from inbetween.engines.registry import MODELS
from inbetween.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
SERVER_PATHS = r"/(?:v1|v2|files|metrics|healthz)\b"
"""The first segments of this server's routes (a doc's `POST /inbetween` is a receiver's)."""
_MORE_PATH = r"(?![\w/{}-]|\.\w)"
"""Not followed by more of a path: a query string, punctuation or space may follow."""


def _pages_of(path: str) -> tuple[str, ...]:
    if path.startswith("/v1/"):
        return ("openai-api.md",)
    if path.startswith("/v2/webhooks/"):
        return ("api.md", "webhooks.md")
    if path in ("/metrics", "/v2/usage"):
        return ("api.md", "operations.md")
    return ("api.md",)


def _pattern(method: str, path: str) -> re.Pattern[str]:
    parts = re.split(r"\{[^}/]+\}", path)
    body = r"\{[^}/\s]+\}".join(re.escape(p) for p in parts)
    return re.compile(rf"\b{method} {body}{_MORE_PATH}")


@pytest.fixture(scope="module")
def operations(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in the OpenAPI document."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("docs") / "data", concurrency=0)
    paths: dict[str, dict[str, Any]] = create_app(settings).openapi()["paths"]
    return [(method.upper(), path) for path, ops in paths.items() for method in ops
            if method.upper() in METHODS]


def test_every_route_is_documented_on_the_page_of_its_dialect(
    operations: list[tuple[str, str]],
) -> None:
    assert ("GET", "/healthz") in operations and ("POST", "/v1/videos") in operations
    texts = {page.name: page.read_text() for page in DOCS.glob("*.md")}
    missing = [f"{method} {path} in docs/{page}" for method, path in operations
               for page in _pages_of(path)
               if not _pattern(method, path).search(texts[page])]
    assert not missing, "undocumented routes:\n" + "\n".join(missing)


def test_every_route_the_docs_name_exists(operations: list[tuple[str, str]]) -> None:
    """A route renamed or removed in the code cannot live on in a page."""
    patterns = [_pattern(method, path) for method, path in operations]
    named = re.compile(rf"\b(?:{'|'.join(METHODS)}) {SERVER_PATHS}[^\s`|)?\\]*")
    stale = [f"{page.name}: {m.group(0)}"
             for page in (*DOCS.glob("*.md"), DOCS.parent / "README.md")
             for m in named.finditer(page.read_text())
             if not any(p.fullmatch(m.group(0)) for p in patterns)]
    assert not stale, "routes the docs name but the server does not have:\n" + "\n".join(stale)


def _commands(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(``inbetween …`` command path, command) of every command that runs something."""
    children = getattr(command, "commands", None)  # a group (typer vendors its own click)
    if not children:
        yield " ".join(("inbetween", *path)), command
    for name, child in (children or {}).items():
        if not getattr(child, "hidden", False):
            yield from _commands(child, (*path, name))


def _long_options(command: Any) -> list[str]:
    return [o for p in command.params if p.param_type_name == "option"
            for o in (*p.opts, *p.secondary_opts) if o.startswith("--")]


def _mentions(text: str, option: str) -> bool:
    return re.search(rf"{re.escape(option)}(?![\w-])", text) is not None


@pytest.fixture(scope="module")
def cli() -> Any:
    from inbetween import cli as module

    root = typer.main.get_command(module.app)
    if "submit" not in getattr(root, "commands", {}):  # `main()` adds the client commands
        module.add_client_commands()
        root = typer.main.get_command(module.app)
    return root


def test_every_cli_command_and_option_is_documented(cli: Any) -> None:
    """Each command has its row in docs/cli.md (`| `inbetween keys budget …`), and each of
    its long options is in that row or in the prose of the row's section (options shared by
    a section's commands, such as `--base-url`, are explained once above its table). Options
    of `inbetween` itself (`--debug`) are in the page's prose."""
    text = (DOCS / "cli.md").read_text()
    sections = re.split(r"^(?=## )", text, flags=re.M)
    missing: list[str] = []
    for option in _long_options(cli):
        if not _mentions("\n".join(line for line in text.splitlines()
                                   if not line.startswith("|")), option):
            missing.append(f"inbetween {option}")
    commands = list(_commands(cli))
    assert ("inbetween keys budget" in dict(commands)
            and "inbetween submit" in dict(commands)), [name for name, _ in commands]
    for name, command in commands:
        row_start = re.compile(rf"^\| `{re.escape(name)}(?=[ `])", re.M)
        rows = [line for line in text.splitlines() if row_start.match(line)]
        if len(rows) != 1:
            missing.append(f"{name} (its row: found {len(rows)})")
            continue
        section = next(s for s in sections if rows[0] in s)
        prose = "\n".join(line for line in section.splitlines() if not line.startswith("|"))
        missing += [f"{name} {option}" for option in _long_options(command)
                    if not _mentions(rows[0], option) and not _mentions(prose, option)]
    assert not missing, "not in docs/cli.md:\n" + "\n".join(missing)


def _table_names(text: str, heading: str) -> set[str]:
    """The first column's `code` names of the table in the section titled ``heading``."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert match, f"docs/api.md has no section `## {heading}`"
    return set(re.findall(r"^\| `([^`]+)` \|", match.group(1), re.M))


def test_every_model_is_in_the_models_table_of_api_md() -> None:
    documented = _table_names((DOCS / "api.md").read_text(), "Models")
    assert documented == set(MODELS), (
        f"undocumented: {sorted(set(MODELS) - documented)}; "
        f"not models: {sorted(documented - set(MODELS))}")


def test_every_advertised_feature_is_explained_in_api_md() -> None:
    """`info.x-inbetween-features` (FEATURES) and the features table say the same."""
    assert {"webhooks", "deadlines", "budgets", "openai"} <= set(FEATURES)
    documented = _table_names((DOCS / "api.md").read_text(),
                              "What inbetween adds (`info.x-inbetween-features`)")
    assert documented == set(FEATURES), (
        f"undocumented: {sorted(set(FEATURES) - documented)}; "
        f"not advertised: {sorted(documented - set(FEATURES))}")
