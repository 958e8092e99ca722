"""``evaluate`` in a subprocess, for the kill-and-resume test.

Usage: ``python eval_worker.py OUT DATA MODEL DELAY``. Each scored chunk is followed by a
``DELAY``-second pause (patched in here, not in the library) so a kill lands mid-run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from runner_config import config

from balancedbio.eval import evaluate, runner


def main() -> None:
    out, data, model, delay = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    original = runner._Scorer.chunk

    def slow(self: Any, bench: Any, records: Any) -> Any:
        result = original(self, bench, records)
        time.sleep(delay)
        return result

    runner._Scorer.chunk = slow  # type: ignore[method-assign]
    evaluate(model, out, config(), data_dir=data)


if __name__ == "__main__":
    main()
