"""The client's settings: three INBETWEEN_… variables, read once per client (no pydantic,
so the client imports nothing of the server)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_BASE_URL", "ClientSettings"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class ClientSettings:
    base_url: str = DEFAULT_BASE_URL
    api_key: str | None = None
    journal: Path | None = None  # None: the user's data folder + /journal

    @classmethod
    def from_env(cls) -> ClientSettings:
        journal = os.environ.get("INBETWEEN_JOURNAL")
        return cls(base_url=os.environ.get("INBETWEEN_BASE_URL") or DEFAULT_BASE_URL,
                   api_key=os.environ.get("INBETWEEN_API_KEY") or None,
                   journal=Path(journal) if journal else None)

    @property
    def journal_dir(self) -> Path:
        if self.journal is not None:
            return self.journal
        import platformdirs

        return Path(platformdirs.user_data_dir("inbetween", appauthor=False)) / "journal"
