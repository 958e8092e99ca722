"""Pareto monitoring: does training keep every capability's held-out score?

Before the first step and every ``pareto.eval_every`` optimizer steps, the policy answers a
small held-out set greedily and the *same* reward verifiers score the answers. A row's score
for capability ``k`` is the weighted mean of the rewards that feed ``k`` (the gating rules of
:mod:`.weighting`) and returned a value; the capability's score is the mean over its rows.

The preservation ratio is ``(now + s) / (initial + s)`` per capability (``s`` =
``pareto.smoothing`` keeps it defined for a capability that starts at 0). A ratio under
``pareto.floor`` logs a loud warning and sets ``pareto/below_floor/<cap>`` to 1.

Multi-process: each process answers its own slice of the held-out rows and the scores are
gathered, so every process computes the same numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from accelerate.utils import gather_object
from transformers import TrainerCallback

from balancedbio.training.config import ParetoConfig
from balancedbio.training.weighting import feeds, membership

log = logging.getLogger(__name__)


def select_rows(
    rows: Sequence[Mapping[str, Any]], capabilities: Sequence[str], max_items: int
) -> list[Mapping[str, Any]]:
    """Up to ``max_items`` rows per capability, in dataset order (a row may serve several)."""
    member = membership([r.get("capability") for r in rows], capabilities)
    keep: list[int] = []
    for k in range(len(capabilities)):
        idx = member[:, k].nonzero().squeeze(1).tolist()[:max_items]
        keep.extend(i for i in idx if i not in keep)
    return [rows[i] for i in sorted(keep)]


class ParetoCallback(TrainerCallback):
    """Held-out evaluation + preservation ratios; its state is saved with each checkpoint."""

    def __init__(
        self,
        cfg: ParetoConfig,
        heldout: Sequence[Mapping[str, Any]],
        rewards: Sequence[Any],
        capabilities: Sequence[str],
        tokenizer: Any,
        max_new_tokens: int,
    ) -> None:
        self.cfg = cfg
        self.capabilities = list(capabilities)
        self.rows = select_rows(list(heldout), self.capabilities, cfg.max_items)
        self.rewards = list(rewards)
        self.weights = torch.tensor([float(getattr(r, "weight", 1.0)) for r in self.rewards])
        caps = [frozenset(getattr(r, "capabilities", ()) or ()) for r in self.rewards]
        self.feed = feeds(caps, self.capabilities)
        self.tokenizer = tokenizer
        self.max_new_tokens = cfg.max_new_tokens or max_new_tokens
        self.trainer: Any = None
        self.initial: dict[str, float] | None = None
        self.latest: dict[str, float] = {}
        self.history: list[dict[str, Any]] = []

    def bind(self, trainer: Any) -> ParetoCallback:
        """Attach to the trainer (for its model, accelerator, metrics and checkpoint state)."""
        self.trainer = trainer
        trainer.extra_state["pareto"] = self
        return self

    # ------------------------------------------------------------------ evaluation

    def scores(self, model: Any) -> dict[str, float]:
        """Mean held-out score per capability (NaN where no row could be scored)."""
        accelerator = self.trainer.accelerator
        rank, world = accelerator.process_index, accelerator.num_processes
        local = list(range(rank, len(self.rows), world))
        texts = self._generate(model, [self.rows[i] for i in local])
        per_row = self._score([self.rows[i] for i in local], texts)
        gathered = gather_object([(i, s) for i, s in zip(local, per_row, strict=True)])
        table = torch.full((len(self.rows), len(self.capabilities)), float("nan"))
        for i, row_scores in gathered:
            table[i] = torch.tensor(row_scores)
        return {
            cap: float(torch.nanmean(table[:, k]))
            if (~torch.isnan(table[:, k])).any()
            else float("nan")
            for k, cap in enumerate(self.capabilities)
        }

    def _generate(self, model: Any, rows: Sequence[Mapping[str, Any]]) -> list[str]:
        from balancedbio.models.loading import chat_inputs

        if not rows:
            return []
        was_training = model.training
        model.eval()
        out: list[str] = []
        try:
            for start in range(0, len(rows), self.cfg.batch_size):
                chunk = rows[start : start + self.cfg.batch_size]
                inputs = chat_inputs(self.tokenizer, [r["prompt"] for r in chunk])
                inputs = {k: v.to(model.device) for k, v in inputs.items()}
                with torch.inference_mode():
                    ids = model.generate(
                        **inputs,
                        max_new_tokens=self.max_new_tokens,
                        do_sample=False,
                        pad_token_id=self.tokenizer.pad_token_id,
                    )
                new = ids[:, inputs["input_ids"].shape[1] :]
                out.extend(self.tokenizer.batch_decode(new, skip_special_tokens=True))
        finally:
            model.train(was_training)
        return out

    def _score(self, rows: Sequence[Mapping[str, Any]], texts: Sequence[str]) -> list[list[float]]:
        if not rows:
            return []
        columns = {k: [r.get(k) for r in rows] for k in {k for r in rows for k in r}}
        columns.pop("prompt", None)
        prompts = [r["prompt"] for r in rows]
        values = torch.full((len(rows), len(self.rewards)), float("nan"))
        completions = [[{"role": "assistant", "content": t}] for t in texts]
        for j, reward in enumerate(self.rewards):
            got = reward(completions, prompts=prompts, **columns)
            values[:, j] = torch.tensor([float("nan") if v is None else float(v) for v in got])
        member = membership([r.get("capability") for r in rows], self.capabilities)
        out = torch.full((len(rows), len(self.capabilities)), float("nan"))
        for k in range(len(self.capabilities)):
            sub = values[:, self.feed[:, k]]
            w = self.weights[self.feed[:, k]].expand_as(sub)
            valid = ~torch.isnan(sub)
            num = (torch.nan_to_num(sub) * w).sum(1)
            den = (w * valid).sum(1)
            score = torch.where(den > 0, num / den.clamp(min=1e-12), torch.tensor(float("nan")))
            out[:, k] = torch.where(member[:, k], score, torch.tensor(float("nan")))
        return out.tolist()

    def evaluate(self, model: Any, step: int) -> dict[str, float]:
        """Score, compare with the initial scores, warn under the floor; returns the metrics."""
        now = self.scores(model)
        if self.initial is None:
            self.initial = dict(now)
        metrics: dict[str, float] = {}
        below = []
        s = self.cfg.smoothing
        for cap, value in now.items():
            first = self.initial.get(cap, float("nan"))
            metrics[f"pareto/score/{cap}"] = value
            metrics[f"pareto/initial/{cap}"] = first
            ratio = (value + s) / (first + s) if value == value and first == first else float("nan")
            metrics[f"pareto/preservation/{cap}"] = ratio
            flag = ratio == ratio and ratio < self.cfg.floor
            metrics[f"pareto/below_floor/{cap}"] = float(flag)
            if flag:
                below.append(f"{cap} {first:.3f} -> {value:.3f} (ratio {ratio:.2f})")
        metrics["pareto/any_below_floor"] = float(bool(below))
        if below:
            log.warning(
                "!!! PARETO FLOOR BREACHED at step %d (floor %.2f): %s",
                step,
                self.cfg.floor,
                "; ".join(below),
            )
        self.latest = metrics
        self.history.append({"step": step, **now})
        return metrics

    # ------------------------------------------------------------------ callback hooks

    def on_train_begin(
        self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any
    ) -> None:
        if self.initial is None and self.rows:
            self._publish(self.evaluate(self._model(model), state.global_step))

    def on_step_end(
        self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any
    ) -> None:
        if self.rows and state.global_step % self.cfg.eval_every == 0:
            self._publish(self.evaluate(self._model(model), state.global_step))

    def _model(self, model: Any) -> Any:
        return self.trainer.accelerator.unwrap_model(
            model if model is not None else self.trainer.model
        )

    def _publish(self, metrics: Mapping[str, float]) -> None:
        self.trainer.instant_metrics.update(metrics)

    # ------------------------------------------------------------------ checkpoint state

    def state_dict(self) -> dict[str, Any]:
        return {"initial": self.initial, "latest": self.latest, "history": self.history}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.initial = state.get("initial")
        self.latest = dict(state.get("latest") or {})
        self.history = list(state.get("history") or [])
