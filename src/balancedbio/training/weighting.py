"""From a batch of gated rewards to one advantage per (completion, capability).

Inputs are what TRL hands its reward step: ``rewards`` (N x R, NaN where a reward returned
``None``, i.e. was not applicable), plus each row's capability tags. Everything here is a pure
tensor function (easy to test against hand-made numbers) except :class:`RewardWeighter`,
which also holds the EMA state of the ``dynamic`` and ``gradient`` strategies.

Which rows and rewards make up capability ``k``'s objective (:func:`membership`,
:func:`feeds`):

* a row belongs to every objective it is tagged with; a row tagged only ``"integrated"`` (or
  not tagged at all) belongs to every objective. Integrated rows (several tags) therefore
  appear in several objectives, each time with *that* capability's advantage;
* reward ``r`` feeds objective ``k`` when it declares ``k``, declares ``"integrated"``, or
  declares nothing (applies everywhere). A reward that does not feed ``k`` never touches
  ``k``'s advantages, even if it (wrongly) returned a value on a ``k`` row.

Strategies (``weighting``):

* ``fixed``: weighted sum of the feeding rewards, then group normalization (TRL's
  ``sum_then_normalize``; identical to vanilla TRL on single-capability rows);
* ``gdpo``: each reward normalized within its group, weighted sum, then normalized over the
  objective's rows (TRL's ``normalize_then_sum`` restricted to one objective);
* ``dynamic``: like ``fixed`` with weights ``base * f`` where ``f`` comes from EMA-smoothed
  reward statistics (default inverse coefficient of variation ``|mean| / std``: rewards the
  policy already earns reliably weigh more, noisy ones less), normalized to mean 1 and
  clipped to [0.1, 10] so a reward at 0 % success keeps some weight. The objective's scale
  is the mean ``f`` of its rewards (group normalization would otherwise erase the weights
  of single-reward objectives);
* ``gradient``: advantages as ``gdpo``; the capability weights come later from gradient
  geometry (:meth:`RewardWeighter.gradient_weights`, fed by :mod:`.conflict`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor
from trl.trainer.utils import nanstd  # the std TRL normalizes with (Bessel, NaN-aware)

from balancedbio.rewards.base import row_capabilities

log = logging.getLogger(__name__)

EPS = 1e-4  # TRL's denominator guard
INTEGRATED = "integrated"
FACTOR_RANGE = (0.1, 10.0)


def membership(tags: Sequence[Any], capabilities: Sequence[str]) -> Tensor:
    """(N, K) bool: does row ``i`` belong to objective ``k``."""
    out = torch.zeros(len(tags), len(capabilities), dtype=torch.bool)
    for i, value in enumerate(tags):
        row = row_capabilities(value)
        hits = [k for k, cap in enumerate(capabilities) if row is None or cap in row]
        if not hits and row is not None and INTEGRATED in row:
            hits = list(range(len(capabilities)))
        out[i, hits] = True
    return out


def feeds(reward_capabilities: Sequence[Iterable[str]], capabilities: Sequence[str]) -> Tensor:
    """(R, K) bool: does reward ``r`` count towards objective ``k``."""
    out = torch.zeros(len(reward_capabilities), len(capabilities), dtype=torch.bool)
    for r, caps in enumerate(reward_capabilities):
        caps = frozenset(caps)
        for k, cap in enumerate(capabilities):
            out[r, k] = not caps or cap in caps or INTEGRATED in caps
    return out


def _masked_sum(values: Tensor, weights: Tensor) -> Tensor:
    """Weighted nansum over the last dim; NaN where every value is NaN (unscorable)."""
    total = (values * weights).nansum(dim=-1)
    return total.masked_fill(torch.isnan(values).all(dim=-1), float("nan"))


def sum_then_normalize(
    rewards: Tensor, weights: Tensor, num_generations: int, scale: str = "group"
) -> Tensor:
    """TRL's default advantage: weighted sum minus the group mean, over the group (batch) std."""
    total = _masked_sum(rewards, weights)
    grouped = total.view(-1, num_generations)
    mean = torch.nanmean(grouped, dim=1).repeat_interleave(num_generations)
    if scale == "group":
        std = nanstd(grouped, dim=1).repeat_interleave(num_generations)
    elif scale == "batch":
        std = nanstd(total).expand_as(total)
    else:
        return total - mean
    return (total - mean) / (std + EPS)


def normalize_then_sum(rewards: Tensor, weights: Tensor, num_generations: int) -> Tensor:
    """GDPO: per-reward group normalization, weighted sum, then batch normalization."""
    n, r = rewards.shape
    grouped = rewards.view(-1, num_generations, r)
    mean = torch.nanmean(grouped, dim=1, keepdim=True)
    std = nanstd(grouped, dim=1, keepdim=True)
    normed = ((grouped - mean) / (std + EPS)).view(n, r)
    total = (normed * weights).nansum(dim=-1)
    total = total.masked_fill(torch.isnan(rewards).all(dim=-1), float("nan"))
    return (total - torch.nanmean(total)) / (nanstd(total) + EPS)


def capability_advantages(
    rewards: Tensor,
    member: Tensor,
    feed: Tensor,
    weights: Tensor,
    num_generations: int,
    *,
    mode: str = "normalize_then_sum",
    scale: str = "group",
) -> Tensor:
    """(N, K) advantages, one objective at a time; 0 outside an objective and for unscorable rows.

    Objective ``k`` sees only its member rows and its feeding rewards, so rewards of other
    capabilities (and the rows of other capabilities) cannot move its advantages.
    """
    rewards = rewards.float()
    out = torch.zeros(rewards.shape[0], member.shape[1])
    for k in range(member.shape[1]):
        values = rewards.clone()
        values[:, ~feed[:, k]] = float("nan")
        values[~member[:, k]] = float("nan")
        if mode == "sum_then_normalize":
            adv = sum_then_normalize(values, weights, num_generations, scale)
        else:
            adv = normalize_then_sum(values, weights, num_generations)
        out[:, k] = torch.nan_to_num(adv, nan=0.0).masked_fill(~member[:, k], 0.0)
    return out


def reward_statistic(rewards: Tensor, kind: str) -> Tensor:
    """(R,) statistic per reward over its applicable rows; NaN where it was never applicable."""
    mean = torch.nanmean(rewards, dim=0).abs()
    std = nanstd(rewards, dim=0)
    if kind == "inverse_cv":
        stat = mean / (std + EPS)
    elif kind == "cv":
        stat = std / (mean + EPS)
    else:  # inverse_std
        stat = 1.0 / (std + EPS)
    seen = (~torch.isnan(rewards)).sum(dim=0) > 1
    return torch.where(seen, torch.nan_to_num(stat, nan=0.0), torch.full_like(stat, float("nan")))


class RewardWeighter:
    """Turns rewards into per-capability advantages and keeps the weights' EMA state."""

    def __init__(
        self,
        reward_names: Sequence[str],
        reward_capabilities: Sequence[Iterable[str]],
        base_weights: Sequence[float],
        capabilities: Sequence[str],
        *,
        weighting: str = "gdpo",
        statistic: str = "inverse_cv",
        ema: float = 0.9,
        scale_rewards: str = "group",
    ) -> None:
        self.names = list(reward_names)
        self.capabilities = list(capabilities)
        self.feed = feeds(reward_capabilities, capabilities)
        self.base = torch.tensor(list(base_weights), dtype=torch.float32)
        self.weighting = weighting
        self.statistic = statistic
        self.ema = ema
        self.scale_rewards = scale_rewards
        self.stat_ema: Tensor | None = None  # (R,) dynamic
        self.grad_ema: Tensor | None = None  # (K,) gradient
        self.reward_weights = self.base.clone()
        self.capability_scale = torch.ones(len(self.capabilities))
        for k, cap in enumerate(self.capabilities):
            if not self.feed[:, k].any():
                log.warning("no reward feeds capability %r: its advantages are always 0", cap)

    def advantages(
        self, rewards: Tensor, tags: Sequence[Any], num_generations: int
    ) -> tuple[Tensor, Tensor]:
        """``(advantages (N, K) already scaled per capability, membership (N, K))``."""
        rewards = rewards.detach().float().cpu()
        member = membership(tags, self.capabilities)
        if self.weighting == "dynamic":
            self._update_dynamic(rewards)
        mode = (
            "sum_then_normalize" if self.weighting in ("fixed", "dynamic") else "normalize_then_sum"
        )
        adv = capability_advantages(
            rewards,
            member,
            self.feed,
            self.reward_weights,
            num_generations,
            mode=mode,
            scale=self.scale_rewards,
        )
        return adv * self.capability_scale, member

    def _update_dynamic(self, rewards: Tensor) -> None:
        stat = reward_statistic(rewards, self.statistic)
        if self.stat_ema is None:
            self.stat_ema = stat.clone()
        else:
            fresh = ~torch.isnan(stat)
            old = torch.isnan(self.stat_ema)
            mixed = self.ema * self.stat_ema + (1.0 - self.ema) * stat
            self.stat_ema = torch.where(
                fresh & ~old, mixed, torch.where(fresh, stat, self.stat_ema)
            )
        known = ~torch.isnan(self.stat_ema)
        factor = torch.ones_like(self.base)
        if known.any():
            values = self.stat_ema[known]
            mean = values.mean()
            if mean > 0:
                factor[known] = (values / mean).clamp(*FACTOR_RANGE)
            factor[known] = factor[known] / factor[known].mean()
        self.reward_weights = self.base * factor
        for k in range(len(self.capabilities)):
            fed = self.feed[:, k]
            self.capability_scale[k] = factor[fed].mean() if fed.any() else 1.0

    def gradient_weights(self, geometry: Tensor, active: Tensor) -> Tensor:
        """EMA of the aggregator's capability weights (scaled to sum to the active count)."""
        if self.grad_ema is None:
            self.grad_ema = torch.where(active, geometry, torch.ones_like(geometry))
        else:
            mixed = self.ema * self.grad_ema + (1.0 - self.ema) * geometry
            self.grad_ema = torch.where(active, mixed, self.grad_ema)
        weights = torch.where(active, self.grad_ema, torch.zeros_like(self.grad_ema))
        total = weights.sum()
        if total > 0:
            weights = weights * active.sum() / total
        return weights

    def metrics(self) -> dict[str, float]:
        """Current weights, for logging every step."""
        out = {
            f"weights/reward/{n}": float(w)
            for n, w in zip(self.names, self.reward_weights, strict=True)
        }
        for cap, scale in zip(self.capabilities, self.capability_scale, strict=True):
            out[f"weights/capability_scale/{cap}"] = float(scale)
        return out

    # ------------------------------------------------------------------ checkpoint state

    def state_dict(self) -> dict[str, Any]:
        def plain(t: Tensor | None) -> list[float | None] | None:
            return None if t is None else [None if torch.isnan(v) else float(v) for v in t]

        return {
            "stat_ema": plain(self.stat_ema),
            "grad_ema": plain(self.grad_ema),
            "reward_weights": plain(self.reward_weights),
            "capability_scale": plain(self.capability_scale),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        def tensor(v: list[float | None] | None) -> Tensor | None:
            return (
                None if v is None else torch.tensor([float("nan") if x is None else x for x in v])
            )

        self.stat_ema = tensor(state.get("stat_ema"))
        self.grad_ema = tensor(state.get("grad_ema"))
        if state.get("reward_weights") is not None:
            self.reward_weights = tensor(state["reward_weights"])
        if state.get("capability_scale") is not None:
            self.capability_scale = tensor(state["capability_scale"])
