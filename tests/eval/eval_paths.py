"""Paths shared by the evaluation tests and their subprocess worker."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"
_HOME_CACHE = Path.home() / ".cache" / "balancedbio"
#: The ontology graph is loaded from the user cache when it is there (built cold otherwise).
KG_CACHE: str | None = str(_HOME_CACHE) if (_HOME_CACHE / "knowledge").is_dir() else None
