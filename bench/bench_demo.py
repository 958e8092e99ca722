"""Wall time per stage of the README's main command (``make demo``), and its scores.

Runs ``balancedbio demo -c configs/demo.yaml`` into a fresh run directory (or reads a finished
run with ``--run DIR``) and prints the stage timings from its ``summary.json`` plus the
capability scores from its ``results.json``; ``--write-results`` replaces the
"## Demo (make demo)" section of ``bench/RESULTS.md``.

    .venv/bin/python bench/bench_demo.py [--run runs/latest] [--write-results] [key=value ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

from results import write_section

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Demo (make demo)"
BUDGET_S = 20 * 60
CAPS = ("knowledge", "reasoning", "instruction", "integrated")


def run_demo(overrides: list[str]) -> Path:
    """Run the demo into ``runs/bench-demo-<pid>``; returns the run directory."""
    name = f"bench-demo-{os.getpid()}"
    cmd = [str(ROOT / ".venv" / "bin" / "balancedbio"), "demo", "-c", "configs/demo.yaml"]
    subprocess.run([*cmd, f"run_name={name}", *overrides], cwd=ROOT, check=True)
    return ROOT / "runs" / name


def section(run_dir: Path, command: str) -> str:
    summary = json.loads((run_dir / "summary.json").read_text())
    stages: dict[str, float] = summary["stage_seconds"]
    total = sum(stages.values())
    rows = [f"| {name} | {sec:.1f} | {100 * sec / total:.0f}% |" for name, sec in stages.items()]
    verdict = "**pass**" if total <= BUDGET_S else "**over budget**"
    out = [
        SECTION,
        "",
        f"Command: `{command}` ({platform.machine()}, {os.cpu_count()} logical CPUs, "
        f"Python {platform.python_version()}, {date.today().isoformat()}; nothing else running).",
        "",
        "| stage | wall s | share |",
        "|---|---:|---:|",
        *rows,
        f"| **total** | **{total:.1f}** ({total / 60:.1f} min; budget 20 min: {verdict}) | |",
        "",
        *scores_table(run_dir),
    ]
    return "\n".join(out) + "\n"


def scores_table(run_dir: Path) -> list[str]:
    path = run_dir / "results.json"
    if not path.is_file():
        return []
    models: dict[str, Any] = json.loads(path.read_text()).get("models", {})
    lines = [
        "Held-out scores of that run (small demo samples: see `results.json` for n and stderr):",
        "",
        "| model | " + " | ".join(CAPS) + " |",
        "|---|" + "---:|" * len(CAPS),
    ]
    for label, entry in models.items():
        caps = entry.get("capabilities", {})
        cells = [
            f"{100 * caps[c]['score']:.1f}" if caps.get(c, {}).get("score") is not None else "-"
            for c in CAPS
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--run", type=Path, default=None, help="a finished run directory")
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("overrides", nargs="*", help="key=value overrides for the demo")
    args = parser.parse_args()
    run_dir = args.run or run_demo(args.overrides)
    command = "make demo" if not args.overrides else f"balancedbio demo {' '.join(args.overrides)}"
    text = section(run_dir, command)
    sys.stdout.write(text)
    if args.write_results:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
