"""The visual report of a run: ``write_report(RUN_DIR)`` -> ``RUN_DIR/report.html``.

The run-directory layout it reads is documented in :mod:`balancedbio.report.rundir`.
``import balancedbio.report`` is light (matplotlib loads when figures are drawn).
"""

from __future__ import annotations

from balancedbio.report.html import write_report
from balancedbio.report.rundir import RunData, load_run

__all__ = ["RunData", "load_run", "write_report"]
