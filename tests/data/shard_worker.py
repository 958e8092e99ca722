"""A deterministic generator for the shard kill/resume tests (run as a subprocess).

Seed ``s`` yields 0-2 items and maybe a rejection, all from ``random.Random(s)``; items carry
nested fields (message lists, a provenance struct) and a varying-shape ``kwargs`` dict stored
as a JSON field.

    python shard_worker.py OUT_DIR SEEDS SHARD_SIZE FORMAT [DELAY_S]
"""

from __future__ import annotations

import random
import sys
import time
from typing import Any

from balancedbio.data.shards import ShardWriter

CAPS = ["knowledge", "reasoning", "instruction", "integrated"]


def seed_output(seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    count = rng.choice([0, 1, 1, 1, 2])
    items = []
    for j in range(count):
        cap = rng.choice(CAPS)
        kwargs: dict[str, Any] = (
            {"num_words": rng.randint(5, 50)}
            if cap == "instruction"
            else {"keywords": [f"k{rng.randint(0, 9)}"], "relation": "lt"}
        )
        items.append(
            {
                "id": f"s{seed}-{j}",
                "capability": cap,
                "prompt": [
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": f"question {seed}.{j} {rng.random():.6f}"},
                ],
                "answer": f"answer {rng.randint(0, 10**6)}",
                "kwargs": kwargs,
                "provenance": {"source": "hpo", "ids": [f"HP:{seed:07d}"], "seed": seed},
                "score": rng.random(),
            }
        )
    rejected = []
    if count == 0 or rng.random() < 0.1:
        rejected.append({"seed": seed, "reason": rng.choice(["parse_error", "ontology"])})
    return items, rejected


def main(out: str, seeds: int, shard_size: int, fmt: str, delay: float = 0.0) -> None:
    writer = ShardWriter(
        out, shard_size, fmt, resume=True, fingerprint="worker-v1", json_fields=["kwargs"]
    )
    for seed in range(writer.cursor, seeds):
        items, rejected = seed_output(seed)
        writer.add_seed(items, rejected)
        if delay:
            time.sleep(delay)
    writer.finalize({"generator": "shard_worker", "seed": 0, "seeds": seeds})


if __name__ == "__main__":
    args = sys.argv[1:]
    main(args[0], int(args[1]), int(args[2]), args[3], float(args[4]) if len(args) > 4 else 0.0)
