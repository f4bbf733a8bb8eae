"""The client CLI's journal: one JSON file per submission, written before anything is sent.

An entry holds what is needed to finish the work after a crash or a kill: the idempotency
key, the inputs, the options, the output path, and — once the server answered — the
generation id. ``inbetween resume`` finishes every entry that is not done.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from inbetween.client.settings import ClientSettings

__all__ = ["Entry", "Journal", "default_journal_dir"]

PENDING, SUBMITTED, UNCERTAIN, DONE, FAILED = "pending", "submitted", "uncertain", "done", "failed"


def default_journal_dir() -> Path:
    """``$INBETWEEN_JOURNAL``, else the user's data directory (platformdirs)."""
    return ClientSettings.from_env().journal_dir


@dataclass
class Entry:
    key: str
    base_url: str
    first: str
    last: str
    prompt: str
    model: str
    options: dict[str, Any]
    output: str | None
    created_at: float = field(default_factory=time.time)
    id: str | None = None
    state: str = PENDING
    error: str | None = None

    @property
    def open(self) -> bool:
        return self.state not in (DONE, FAILED)


class Journal:
    """Entries as ``{key}.json`` files in one folder, each replaced atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def new(self, **values: Any) -> Entry:
        entry = Entry(key=str(uuid.uuid4()), **values)
        self.save(entry)
        return entry

    def save(self, entry: Entry) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{entry.key}.json"
        tmp = path.with_suffix(f".{uuid.uuid4().hex[:6]}.tmp")
        with tmp.open("w", encoding="utf-8") as out:
            json.dump(asdict(entry), out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)

    def entries(self) -> list[Entry]:
        if not self.folder.is_dir():
            return []
        found = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                found.append(Entry(**json.loads(path.read_text(encoding="utf-8"))))
            except (OSError, ValueError, TypeError):
                continue  # a foreign or damaged file: leave it alone
        return sorted(found, key=lambda e: e.created_at)
