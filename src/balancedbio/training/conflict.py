"""Per-capability gradients: storage, cross-process averaging, conflict metrics, aggregation.

The trainer back-propagates each capability's sub-batch on its own (see
:mod:`balancedbio.training.grpo`) and adds the gradient to row ``k`` of a
:class:`JacobianBuffer`. Because capabilities partition the batch, row ``k`` *is* the gradient
of capability ``k``'s loss: the K rows of the Jacobian cost the FLOPs of one summed backward
(METHOD.md Part 2 item 6), instead of the 2-2.5x of a generic ``torchjd.autojac.backward``.

At the optimizer-step boundary:

1. the buffer is averaged across processes with one ``all_reduce`` (each process holds the
   gradients of its own shard of the batch, like DDP's buckets; afterwards every process holds
   the same Jacobian, so every process computes the same weights and applies the same update);
2. the Gramian ``G = J J^T`` (K x K, fp32) gives everything else: gradient norms
   ``sqrt(G_kk)``, cosines ``G_ij / (|g_i| |g_j|)``, and the aggregation weights, through
   TorchJD's Gramian weighting of the aggregator (``aggregator.gramian_weighting(G)``);
3. the update ``w^T J`` is written into the parameters' ``.grad``; the trainer then clips and
   steps as usual.

Capabilities absent from the (global) batch have a zero row; they are left out of the
weighting (MGDA's min-norm point would otherwise be the zero vector) and get weight 0.

Weights are scaled to the ``sum`` convention: without conflict every aggregator here returns
(about) the plain sum of the rows, so learning rates carry over from ``aggregator=sum`` and
vanilla GRPO. UPGrad and MGDA weights are multiplied by the number of active rows.

Memory. The buffer is ``K x P`` fp32 values for ``P`` trainable parameters, on the
parameters' device. With LoRA (default) ``P`` is small: SmolLM2-135M with r=16 on q/k/v/o is
1.8 M parameters, 22 MB for K=3. With full fine-tuning it is ``4 K P`` bytes on top of the
usual ``.grad``: 1.6 GB for a 135M model, 6 GB for 0.5B, 84 GB for 7B at K=3 (use LoRA
there). The Gramian path never concatenates or copies the Jacobian (TorchJD's
``jac_to_grad(..., optimize_gramian_computation=True)`` idea, applied to one flat buffer), so
the peak is the buffer itself plus one ``P``-sized update. Per-parameter gradients must exist
on every process: single device or DDP. DeepSpeed ZeRO and FSDP shard gradients, so there the
capability-aware trainer supports only ``aggregator=sum`` (gating, one backward).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

log = logging.getLogger(__name__)

AGGREGATORS = ("sum", "pcgrad", "upgrad", "mgda")


def make_aggregator(name: str) -> Any:
    """The TorchJD aggregator for ``name`` (all four are Gramian-weighted aggregators)."""
    from torchjd.aggregation import MGDA, PCGrad, Sum, UPGrad

    table = {"sum": Sum, "pcgrad": PCGrad, "upgrad": UPGrad, "mgda": MGDA}
    if name not in table:
        from balancedbio.config import choice_error

        raise choice_error("aggregator", name, AGGREGATORS)
    return table[name]()


def aggregation_weights(name: str, gramian: Tensor, *, seed: int = 0) -> Tensor:
    """Aggregation weights (sum convention) from the Gramian of the active rows.

    PCGrad draws random projection orders from the global RNG; it runs under a forked RNG
    seeded with ``seed`` so every process draws the same order and the run's RNG stream (and
    so its resumability) is untouched.
    """
    m = gramian.shape[0]
    if m == 0:
        return gramian.new_zeros(0)
    if name == "sum" or m == 1:
        return gramian.new_ones(m)
    weighting = make_aggregator(name).gramian_weighting
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        weights = weighting(gramian.double()).to(gramian.dtype)
    if name in ("upgrad", "mgda"):
        weights = weights * m
    return weights


class JacobianBuffer:
    """A ``K x P`` fp32 buffer holding one flattened gradient per capability."""

    def __init__(self, params: Sequence[nn.Parameter], rows: int) -> None:
        self.params = list(params)
        self.sizes = [p.numel() for p in self.params]
        device = self.params[0].device if self.params else torch.device("cpu")
        self.matrix = torch.zeros(rows, sum(self.sizes), dtype=torch.float32, device=device)
        self.has_data = False

    def add(self, row: int, grads: Sequence[Tensor | None]) -> None:
        """Accumulate one capability's gradients (``None`` = no gradient) into its row."""
        offset = 0
        target = self.matrix[row]
        for grad, size in zip(grads, self.sizes, strict=True):
            if grad is not None:
                target[offset : offset + size].add_(grad.reshape(-1).float())
            offset += size
        self.has_data = True

    def all_reduce_mean(self) -> None:
        """Average the buffer over processes (no-op in a single process)."""
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(self.matrix, op=dist.ReduceOp.SUM)
            self.matrix.div_(dist.get_world_size())

    def gramian(self) -> Tensor:
        return self.matrix @ self.matrix.T

    def write_grads(self, weights: Tensor) -> None:
        """Set each parameter's ``.grad`` to its slice of ``weights^T J``."""
        update = weights.to(self.matrix) @ self.matrix
        for param, chunk in zip(self.params, update.split(self.sizes), strict=True):
            param.grad = chunk.view_as(param).to(param.dtype)

    def zero_(self) -> None:
        self.matrix.zero_()
        self.has_data = False


def conflict_stats(gramian: Tensor, names: Sequence[str]) -> dict[str, float]:
    """Gradient norms and pairwise cosines from a Gramian; cosines are NaN for absent rows."""
    g = gramian.double()
    norms = g.diagonal().clamp(min=0).sqrt()
    out = {f"conflict/grad_norm/{n}": float(v) for n, v in zip(names, norms, strict=True)}
    for i, j in itertools.combinations(range(len(names)), 2):
        denom = norms[i] * norms[j]
        cos = float(g[i, j] / denom) if denom > 0 else float("nan")
        out[f"conflict/cos/{names[i]}__{names[j]}"] = cos
    return out


class ConflictTracker:
    """Cumulative conflict counters (checkpointed): steps measured, steps with a conflict."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        self.steps = 0
        self.conflict_steps = 0
        self.pair_conflicts = dict.fromkeys(self._pairs(), 0)

    def _pairs(self) -> list[str]:
        return [f"{a}__{b}" for a, b in itertools.combinations(self.names, 2)]

    def update(self, stats: Mapping[str, float]) -> dict[str, float]:
        """Count this step; returns the step's metrics plus the cumulative rates."""
        conflict = False
        for pair in self.pair_conflicts:
            cos = stats.get(f"conflict/cos/{pair}", float("nan"))
            if cos == cos and cos < 0:  # not NaN and negative
                self.pair_conflicts[pair] += 1
                conflict = True
        self.steps += 1
        self.conflict_steps += int(conflict)
        out = dict(stats)
        out["conflict/step_has_conflict"] = float(conflict)
        out.update(self.rates())
        return out

    def rates(self) -> dict[str, float]:
        steps = max(self.steps, 1)
        out = {"conflict/rate": self.conflict_steps / steps}
        out.update({f"conflict/rate/{p}": c / steps for p, c in self.pair_conflicts.items()})
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "conflict_steps": self.conflict_steps,
            "pair_conflicts": dict(self.pair_conflicts),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.steps = int(state.get("steps", 0))
        self.conflict_steps = int(state.get("conflict_steps", 0))
        for pair, count in dict(state.get("pair_conflicts", {})).items():
            if pair in self.pair_conflicts:
                self.pair_conflicts[pair] = int(count)


def combine(
    buffer: JacobianBuffer, aggregator: str, *, seed: int = 0
) -> tuple[Tensor, Tensor, Tensor]:
    """``(gramian, active mask, weights)`` of the aggregated update; weights are 0 off the
    active rows. Does not write anything."""
    gramian = buffer.gramian()
    active = gramian.diagonal() > 0
    weights = torch.zeros(gramian.shape[0], dtype=gramian.dtype, device=gramian.device)
    idx = active.nonzero().squeeze(1)
    if idx.numel():
        sub = gramian.index_select(0, idx).index_select(1, idx)
        weights[idx] = aggregation_weights(aggregator, sub, seed=seed)
    return gramian, active, weights
