"""Report tests: synthetic run directories (``run_fixture``), matplotlib offline."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).parent))  # `import run_fixture`
