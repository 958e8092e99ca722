"""Driver for subprocess runs (kill/resume, accelerate multi-process): fixture data + rewards.

    python tests/training/run_tiny.py OUTPUT_DIR [key=value ...]

Trains on ``fixtures.build_rows`` with the fixture verifiers plus hash-valued shaping rewards
(so a random model gets non-zero gradients), then writes ``params-rank<r>.pt`` (the trainable
parameters as this process holds them) for cross-process / cross-run comparisons.
``BB_PAUSE_AFTER_SAVE=<seconds>`` sleeps after each checkpoint (lets a test kill the run
between two steps without racing it); ``BB_PAUSE_STEP=<step>`` limits that to one checkpoint.
The extra override ``rows=N`` trains on ``fixtures.build_rows(N, integrated=1)`` (default:
``build_rows(6, integrated=2)``, 20 rows).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import torch
from accelerate import PartialState
from transformers import TrainerCallback

sys.path.insert(0, str(Path(__file__).parent))

import fixtures  # noqa: E402

from balancedbio.config import load_config  # noqa: E402
from balancedbio.training import GRPOStageConfig  # noqa: E402
from balancedbio.training.run import train_grpo  # noqa: E402

BASE = [
    "model=tiny-random",
    "per_device_train_batch_size=8",
    "num_generations=4",
    "max_completion_length=8",
    "pareto.max_items=1",
    "lora.dropout=0.0",
]


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    out, overrides = argv[0], argv[1:]
    sizes = [int(o.split("=", 1)[1]) for o in overrides if o.startswith("rows=")]
    overrides = [o for o in overrides if not o.startswith("rows=")]
    rows = fixtures.build_rows(sizes[-1], integrated=1) if sizes else None
    cfg = load_config(GRPOStageConfig, None, [*BASE, f"output_dir={out}", *overrides])
    rewards = fixtures.make_rewards() + fixtures.shaping_rewards()
    train_grpo(
        cfg,
        rows if rows is not None else fixtures.build_rows(6, integrated=2),
        fixtures.build_rows(1, offset=20),
        rewards,
        callbacks=[DumpParams(Path(out)), PauseAfterSave()],
    )


class PauseAfterSave(TrainerCallback):
    def on_save(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        step = os.environ.get("BB_PAUSE_STEP")
        if step is None or int(step) == state.global_step:
            time.sleep(float(os.environ.get("BB_PAUSE_AFTER_SAVE", "0")))


class DumpParams(TrainerCallback):
    """Save this process's trainable parameters when training ends."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def on_train_end(self, args, state, control, model=None, **kwargs):  # type: ignore[no-untyped-def]
        params = {n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad}
        state = PartialState()
        torch.save(params, self.out / f"params-rank{state.process_index}.pt")
        if state.is_main_process:
            (self.out / "distributed.txt").write_text(f"{state.distributed_type} {state.backend}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
