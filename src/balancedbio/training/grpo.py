"""TRL's GRPOTrainer, extended at one narrow seam: advantages and gradients per capability.

Two classes:

* :class:`TrackedGRPOTrainer` (``trainer=vanilla``) is TRL's algorithm untouched. It only
  *observes*: per-capability reward means, the prompt ids of every step (data order), reward
  crash counters, extra checkpoint state (EMA weights, conflict counters, Pareto baseline), and
  an epoch-seeded sampler so a resumed run sees the same data order in every epoch.
* :class:`CapabilityAwareGRPOTrainer` overrides three TRL methods:

  - ``_generate_and_score_completions``: TRL generates, scores (capability-gated rewards,
    ``None`` -> NaN) and gathers; we then recompute the advantages per capability from the
    same reward matrix (:mod:`.weighting`) and add ``capability_advantages`` (B, K) and
    ``capability_mask`` (B, K) to the batch; ``advantages`` becomes their sum (used as-is by
    TRL's loss when no per-capability gradients are needed: gating costs nothing);
  - ``training_step`` (only when per-capability gradients are needed): for each capability,
    TRL's own ``_compute_loss`` on that capability's sub-batch (its rows, its advantages),
    ``torch.autograd.grad`` into a :class:`~.conflict.JacobianBuffer` row; at the optimizer
    step boundary the buffer is averaged across processes and aggregated (:mod:`.conflict`);
  - ``_calculate_rewards`` (inherited from the tracked trainer) records the gathered rewards
    and capability tags the advantages are computed from.

Integrated rows (several capability tags) join the sub-batch of every capability they carry,
each time with that capability's advantage: they cost one extra forward/backward per extra
capability and contribute to every objective they test (a choice, documented in
:mod:`.weighting`).

Sub-batch losses keep TRL's normalization (``dapo``: the global token count of the whole
batch), so their sum is exactly the loss of the whole batch: ``aggregator=sum`` reproduces
the single-backward update. For loss types that average over the local micro-batch
(``grpo``, ``bnpo``, ``dr_grpo``) each sub-batch loss is rescaled by its share of rows/tokens.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
from accelerate.utils import gather_object
from torch import Tensor, nn
from trl import GRPOTrainer
from trl.trainer.utils import RepeatSampler

from balancedbio.common import write_json
from balancedbio.rewards.base import RewardFunction
from balancedbio.training import conflict
from balancedbio.training.weighting import RewardWeighter, feeds, membership

log = logging.getLogger(__name__)

STATE_FILE = "balancedbio_state.json"
COMPLETION_KEYS = frozenset(
    {
        "completion_ids",
        "completion_mask",
        "old_per_token_logps",
        "ref_per_token_logps",
        "sampling_per_token_logps",
        "importance_sampling_ratio",
        "tool_mask",
    }
)
CAP_ADV, CAP_MASK = "capability_advantages", "capability_mask"


class Stateful(Protocol):
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


class EpochRepeatSampler(RepeatSampler):
    """TRL's RepeatSampler whose shuffle is seeded by ``seed + epoch``: epoch ``e`` has the same
    order whether the run was resumed or not (TRL's continues one generator across epochs,
    which a resumed process cannot reproduce)."""

    epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):  # type: ignore[no-untyped-def]
        if self.shuffle:
            self.generator.manual_seed((self.seed or 0) + self.epoch)
        return super().__iter__()


class RewardCounters:
    """Cumulative reward crash counts from :meth:`RewardFunction.pop_stats`, all processes."""

    KEYS = ("errors", "timeouts", "none_count", "not_applicable", "samples")

    def __init__(self, rewards: Sequence[Any]) -> None:
        self.rewards = [r for r in rewards if isinstance(r, RewardFunction)]
        self.totals = {r.name: dict.fromkeys(self.KEYS, 0) for r in self.rewards}

    def collect(self) -> None:
        local = {r.name: r.pop_stats() for r in self.rewards}
        for stats in gather_object([local]):
            for name, counts in stats.items():
                for key in self.KEYS:
                    self.totals[name][key] += int(counts.get(key, 0))

    def metrics(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, counts in self.totals.items():
            out[f"reward_crashes/{name}/errors"] = counts["errors"]
            out[f"reward_crashes/{name}/timeouts"] = counts["timeouts"]
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"totals": self.totals}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for name, counts in dict(state.get("totals", {})).items():
            if name in self.totals:
                self.totals[name].update({k: int(v) for k, v in counts.items()})


class TrackedGRPOTrainer(GRPOTrainer):
    """TRL's GRPOTrainer with observation hooks only (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        capabilities: Sequence[str],
        run_dir: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.capabilities = tuple(capabilities)
        self.run_dir = Path(run_dir) if run_dir is not None else Path(self.args.output_dir)
        self.instant_metrics: dict[str, float] = {}
        self.reward_counters = RewardCounters(self.reward_funcs)
        self.extra_state: dict[str, Stateful] = {"rewards": self.reward_counters}
        self._reward_feeds = feeds([_reward_caps(f) for f in self.reward_funcs], self.capabilities)
        self.last_rewards: Tensor | None = None
        self.last_tags: list[Any] = []

    # ------------------------------------------------------------------ data order

    def _get_train_sampler(self, dataset: Any = None) -> EpochRepeatSampler:
        return EpochRepeatSampler(
            data_source=self.train_dataset if dataset is None else dataset,
            mini_repeat_count=self.num_generations,
            batch_size=self.args.generation_batch_size // self.num_generations,
            repeat_count=self.num_iterations * self.args.steps_per_generation,
            shuffle=self.shuffle_dataset,
            seed=self.args.seed,
        )

    # ------------------------------------------------------------------ observation

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):  # type: ignore[no-untyped-def]
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self.last_tags = gather_object([x.get("capability") for x in inputs])
        self.last_rewards = rewards
        ids = gather_object([x.get("id") for x in inputs])
        if self.model.training:
            self._record_batch(rewards, self.last_tags, ids)
        return rewards

    def _record_batch(self, rewards: Tensor, tags: Sequence[Any], ids: Sequence[Any]) -> None:
        rewards = rewards.detach().float().cpu()
        member = membership(tags, self.capabilities)
        for k, cap in enumerate(self.capabilities):
            values = rewards[member[:, k]][:, self._reward_feeds[:, k]]
            per_row = torch.nanmean(values, dim=1) if values.numel() else values.new_zeros(0)
            if per_row.numel() and not torch.isnan(per_row).all():
                self._metrics["train"][f"rewards_by_capability/{cap}"].append(
                    float(torch.nanmean(per_row))
                )
        self.reward_counters.collect()
        self.instant_metrics.update(self.reward_counters.metrics())
        if self.accelerator.is_main_process:
            unique = list(dict.fromkeys(str(i) for i in ids if i is not None))
            line = {"step": self.state.global_step + 1, "ids": unique}
            self.run_dir.mkdir(parents=True, exist_ok=True)
            with (self.run_dir / "data_order.jsonl").open("a") as fh:
                fh.write(json.dumps(line) + "\n")

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if self.model.training and "loss" in logs:
            logs.update(self.instant_metrics)
        super().log(logs, start_time)

    # ------------------------------------------------------------------ checkpoint state

    def _save_checkpoint(self, model: nn.Module, trial: Any) -> None:
        super()._save_checkpoint(model, trial)
        if self.args.should_save:
            folder = (
                Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
            )
            state = {name: obj.state_dict() for name, obj in self.extra_state.items()}
            state["global_step"] = self.state.global_step
            write_json(folder / STATE_FILE, state)  # written last: marks the checkpoint complete

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is None:
            return
        path = Path(checkpoint) / STATE_FILE
        if not path.is_file():
            log.warning("checkpoint %s has no %s: extra state starts fresh", checkpoint, STATE_FILE)
            return
        state = json.loads(path.read_text())
        for name, obj in self.extra_state.items():
            if name in state:
                obj.load_state_dict(state[name])
            else:
                log.warning("checkpoint %s has no state for %r", checkpoint, name)


def _reward_caps(func: Any) -> frozenset[str]:
    return frozenset(getattr(func, "capabilities", ()) or ())


class CapabilityAwareGRPOTrainer(TrackedGRPOTrainer):
    """Per-capability advantages, gradients and aggregation (see the module docstring)."""

    def __init__(
        self,
        *args: Any,
        capabilities: Sequence[str],
        weighting: str = "gdpo",
        aggregator: str = "upgrad",
        conflict_metrics: bool = False,
        ema: float = 0.9,
        dynamic_statistic: str = "inverse_cv",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, capabilities=capabilities, **kwargs)
        self.weighting = weighting
        self.aggregator = aggregator
        self.needs_jacobian = aggregator != "sum" or weighting == "gradient" or conflict_metrics
        self.weighter = RewardWeighter(
            self.reward_func_names,
            [_reward_caps(f) for f in self.reward_funcs],
            self.reward_weights.tolist(),
            self.capabilities,
            weighting=weighting,
            statistic=dynamic_statistic,
            ema=ema,
            scale_rewards=self.scale_rewards,
        )
        self.conflicts = conflict.ConflictTracker(self.capabilities)
        self.extra_state.update(weights=self.weighter, conflict=self.conflicts)
        self._params = [p for p in self.model.parameters() if p.requires_grad]
        self._jacobian: conflict.JacobianBuffer | None = None
        if self.needs_jacobian:
            kind = str(self.accelerator.distributed_type)
            if "DEEPSPEED" in kind or "FSDP" in kind:
                raise ValueError(
                    f"per-capability gradients need unsharded .grad (single device or DDP); "
                    f"{kind} shards them: use aggregator=sum (gating only) or DDP"
                )

    # ------------------------------------------------------------------ advantages

    def _generate_and_score_completions(self, inputs):  # type: ignore[no-untyped-def]
        output = super()._generate_and_score_completions(inputs)
        if not self.model.training or self.last_rewards is None:
            return output
        adv, member = self.weighter.advantages(
            self.last_rewards, self.last_tags, self.num_generations
        )
        n_local = output["prompt_ids"].shape[0]
        start = self.accelerator.process_index * n_local
        device = output["advantages"].device
        adv, member = (
            adv[start : start + n_local].to(device),
            member[start : start + n_local].to(device),
        )
        output[CAP_ADV], output[CAP_MASK] = adv, member
        output["advantages"] = (adv * member).sum(dim=1)
        for key, value in self.weighter.metrics().items():
            self._metrics["train"][key].append(value)
        return output

    # ------------------------------------------------------------------ gradients

    def training_step(
        self, model: nn.Module, inputs: dict[str, Any], num_items_in_batch: Any = None
    ) -> Tensor:
        if not self.needs_jacobian:
            return super().training_step(model, inputs, num_items_in_batch)
        # Same bookkeeping as GRPOTrainer.training_step / Trainer.training_step, with K
        # sub-batch backward passes into the Jacobian buffer instead of one backward.
        started = time.perf_counter()
        model.train()
        inputs = self._prepare_inputs(inputs)
        loss = self.capability_backward(model, inputs)
        if self.accelerator.sync_gradients:
            self._apply_aggregated_update()
        self._step += 1
        self._current_train_step_time += time.perf_counter() - started
        if self._step % self.current_gradient_accumulation_steps == 0:
            self._metrics["train"]["step_time"].append(self._current_train_step_time)
            self._current_train_step_time = 0.0
        return loss

    def capability_backward(self, model: nn.Module, inputs: Mapping[str, Any]) -> Tensor:
        """Add each capability's sub-batch gradient to its Jacobian row; returns the summed loss.

        With several processes, every sub-batch is padded to the largest one across processes
        with fully masked rows (no loss, no gradient): DDP buffer broadcasts and TRL's metric
        gathers then see the same passes and shapes on every process.
        """
        if self._jacobian is None:
            self._jacobian = conflict.JacobianBuffer(self._params, len(self.capabilities))
        mask: Tensor = inputs[CAP_MASK]
        sizes = mask.sum(dim=0)
        padded = sizes.clone()
        if self.accelerator.num_processes > 1:
            import torch.distributed as dist

            dist.all_reduce(padded, op=dist.ReduceOp.MAX)
        total = torch.zeros((), device=mask.device)
        with self.accelerator.no_sync(model):  # we all-reduce the Jacobian ourselves
            for k in range(len(self.capabilities)):
                if int(padded[k]) == 0:
                    continue  # absent everywhere
                rows = mask[:, k].nonzero().squeeze(1)
                pad = int(padded[k]) - rows.numel()
                sub = sub_batch(inputs, rows, inputs[CAP_ADV][rows, k], pad=pad)
                with self.compute_loss_context_manager():
                    loss = self._compute_loss(model, sub)
                loss = loss * self._loss_share(inputs, sub)
                grads = torch.autograd.grad(loss, self._params, allow_unused=True)
                self._jacobian.add(k, grads)
                total = total + loss.detach()
        return total

    def _loss_share(self, inputs: Mapping[str, Any], sub: Mapping[str, Any]) -> float:
        """Factor making the sub-batch losses add up to the micro-batch loss."""
        if self.loss_type in ("dapo", "cispo", "vespo"):
            return 1.0  # already normalized by the global token count
        if self.loss_type == "bnpo":
            return float(sub["completion_mask"].sum()) / max(
                float(inputs["completion_mask"].sum()), 1.0
            )
        return sub["completion_mask"].shape[0] / inputs["completion_mask"].shape[0]  # row means

    def _apply_aggregated_update(self) -> None:
        buffer = self._jacobian
        if buffer is None:
            return
        buffer.all_reduce_mean()
        seed = int(self.args.seed) * 1_000_003 + self.state.global_step
        gramian, active, weights = conflict.combine(buffer, self.aggregator, seed=seed)
        stats = conflict.conflict_stats(gramian, self.capabilities)
        metrics = self.conflicts.update(stats)
        if self.weighting == "gradient":
            weights = self.weighter.gradient_weights(weights.cpu(), active.cpu()).to(weights)
        for cap, w in zip(self.capabilities, weights.tolist(), strict=True):
            metrics[f"weights/capability/{cap}"] = w
        rates = self.conflicts.rates()  # cumulative: logged as of the logging step
        for key, value in metrics.items():
            if key not in rates:
                self._metrics["train"][key].append(value)
        self.instant_metrics.update(rates)
        buffer.write_grads(weights)
        buffer.zero_()


def sub_batch(
    inputs: Mapping[str, Any], rows: Tensor, advantages: Tensor, pad: int = 0
) -> dict[str, Any]:
    """Rows ``rows`` of a TRL micro-batch with new advantages, plus ``pad`` fully masked
    copies of row 0; trailing completion padding (all-zero mask columns) is cut, which
    changes no logit (causal attention)."""
    batch = inputs["completion_mask"].shape[0]
    if pad:
        rows = torch.cat([rows, rows.new_zeros(pad)])
        advantages = torch.cat([advantages, advantages.new_zeros(pad)])
    out: dict[str, Any] = {}
    for key, value in inputs.items():
        if key in (CAP_ADV, CAP_MASK):
            continue
        if isinstance(value, Tensor) and value.ndim >= 1 and value.shape[0] == batch:
            out[key] = value.index_select(0, rows.to(value.device))
        else:
            out[key] = value
    out["advantages"] = advantages
    if pad:
        out["completion_mask"] = out["completion_mask"].clone()
        out["completion_mask"][-pad:] = 0
    mask = out["completion_mask"]
    used = mask.any(dim=0).nonzero()
    length = int(used.max()) + 1 if used.numel() else 1
    if length < mask.shape[1]:
        full = mask.shape[1]
        for key in COMPLETION_KEYS:
            value = out.get(key)
            if isinstance(value, Tensor) and value.ndim == 2 and value.shape[1] == full:
                out[key] = value[:, :length]
    return out
