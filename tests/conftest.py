"""Suite-wide settings: offline hub, one shared cache per test session.

``BALANCEDBIO_CACHE`` points at a fresh temporary directory for the whole session (so the
knowledge graph and tiny models are built once and shared by every test), unless
``BALANCEDBIO_TEST_CACHE`` names a directory to reuse across runs (faster local loops).
"""

from __future__ import annotations

import os
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ["BALANCEDBIO_CACHE"] = os.environ.get("BALANCEDBIO_TEST_CACHE") or tempfile.mkdtemp(
    prefix="balancedbio-test-cache-"
)
