"""Reward weighting: gating rules, per-capability advantages, fixed/gdpo/dynamic/gradient."""

from __future__ import annotations

import math

import pytest
import torch

from balancedbio.training.weighting import (
    RewardWeighter,
    capability_advantages,
    feeds,
    membership,
    normalize_then_sum,
    reward_statistic,
    sum_then_normalize,
)

CAPS = ("knowledge", "reasoning", "instruction")
NAN = float("nan")


def test_membership_and_feeding_rules():
    member = membership(
        ["knowledge", ["knowledge", "instruction"], ["integrated"], None, "reasoning"], CAPS
    )
    assert member.tolist() == [
        [True, False, False],
        [True, False, True],
        [True, True, True],  # "integrated" alone: every objective
        [True, True, True],  # untagged: every objective
        [False, True, False],
    ]
    feed = feeds([("knowledge",), (), ("integrated",), ("instruction", "reasoning")], CAPS)
    assert feed.tolist() == [
        [True, False, False],
        [True, True, True],
        [True, True, True],
        [False, True, True],
    ]


def _batch() -> tuple[torch.Tensor, list, torch.Tensor]:
    """2 knowledge groups, 1 instruction group, 1 integrated group; G = 3.

    Rewards: mcq (knowledge), ifeval (instruction); NaN where not applicable."""
    g = 3
    mcq = [1, 0, 0, 1, 1, 0, NAN, NAN, NAN, 1, 0, 1]
    ife = [NAN, NAN, NAN, NAN, NAN, NAN, 0.5, 1, 0, 0, 1, 1]
    rewards = torch.tensor([mcq, ife]).T
    tags = ["knowledge"] * 6 + ["instruction"] * 3 + [["knowledge", "instruction"]] * 3
    assert rewards.shape == (4 * g, 2)
    return rewards, tags, feeds([("knowledge",), ("instruction",)], CAPS)


@pytest.mark.parametrize("mode", ["sum_then_normalize", "normalize_then_sum"])
def test_gating_inapplicable_reward_never_moves_an_advantage(mode):
    """A knowledge prompt's advantage ignores the instruction reward: its values on other rows,
    and even (mis-gated) values on the knowledge rows themselves."""
    rewards, tags, feed = _batch()
    member = membership(tags, CAPS)
    weights = torch.ones(2)
    before = capability_advantages(rewards, member, feed, weights, 3, mode=mode)
    changed = rewards.clone()
    changed[6:9, 1] = torch.tensor([0.0, 0.0, 1.0])  # instruction rows
    changed[0:6, 1] = torch.tensor([5.0, -3.0, 2.0, 0.0, 9.0, 1.0])  # knowledge rows (not gated!)
    after = capability_advantages(changed, member, feed, weights, 3, mode=mode)
    assert torch.equal(before[:6, 0], after[:6, 0])  # knowledge prompts: unchanged
    assert torch.equal(before[:, 1], after[:, 1])  # no reasoning reward: 0 everywhere
    assert (before[:, 1] == 0).all()
    assert not torch.equal(before[6:9, 2], after[6:9, 2])  # the instruction prompt did move
    # outside an objective the advantage is exactly 0
    assert (before[6:9, 0] == 0).all() and (before[:6, 2] == 0).all()


def test_plain_gdpo_over_the_whole_batch_is_not_gated():
    """Why per-capability normalization: TRL's GDPO normalizes the summed reward over the whole
    batch, so instruction rewards on *other* prompts shift a knowledge prompt's advantage."""
    rewards, _, _ = _batch()
    before = normalize_then_sum(rewards, torch.ones(2), 3)
    changed = rewards.clone()
    changed[6:9, 1] = 1.0  # the instruction prompt is now solved every time
    after = normalize_then_sum(changed, torch.ones(2), 3)
    assert (before[:6] - after[:6]).abs().max() > 0.05


def test_fixed_is_trl_sum_then_normalize_on_single_capability_rows():
    rewards, tags, feed = _batch()
    member = membership(tags, CAPS)
    weights = torch.tensor([2.0, 0.5])
    adv = capability_advantages(rewards, member, feed, weights, 3, mode="sum_then_normalize")
    knowledge_only = sum_then_normalize(rewards[:6], weights, 3)
    assert torch.allclose(adv[:6, 0], knowledge_only)
    # by hand: group [1, 0, 0] * 2 -> mean 2/3, std (Bessel) 2/sqrt(3)
    expected = (2 - 2 / 3) / (2 / math.sqrt(3) + 1e-4)
    assert adv[0, 0].item() == pytest.approx(expected, rel=1e-5)


def test_integrated_rows_get_one_advantage_per_capability():
    rewards, tags, feed = _batch()
    member = membership(tags, CAPS)
    adv = capability_advantages(rewards, member, feed, torch.ones(2), 3, mode="sum_then_normalize")
    # rows 9-11: mcq [1, 0, 1] for knowledge, ifeval [0, 1, 1] for instruction
    assert adv[9, 0] > 0 and adv[10, 0] < 0
    assert adv[9, 2] < 0 and adv[10, 2] > 0
    assert adv[9:12, 1].abs().sum() == 0


def test_dynamic_inverse_cv_weights_and_ema():
    # reward 0: mean 0.5, std ~0.5345 (Bessel over 8 values); reward 1: mean 0.75, std 0.4629
    r0 = [1, 0, 1, 0, 1, 0, 1, 0]
    r1 = [1, 1, 1, 0, 1, 1, 1, 0]
    rewards = torch.tensor([r0, r1], dtype=torch.float32).T
    weighter = RewardWeighter(
        ["a", "b"], [("knowledge",), ("knowledge",)], [1.0, 2.0], CAPS, weighting="dynamic", ema=0.5
    )
    weighter.advantages(rewards, ["knowledge"] * 8, 4)
    stat = torch.stack([rewards[:, j].mean() / (rewards[:, j].std() + 1e-4) for j in range(2)])
    factor = stat / stat.mean()
    assert torch.allclose(weighter.reward_weights, torch.tensor([1.0, 2.0]) * factor, atol=1e-5)
    assert weighter.reward_weights[1] / 2.0 > weighter.reward_weights[0] / 1.0  # steadier reward
    # second step: statistics are EMA-smoothed
    flipped = rewards.flip(1)
    weighter.advantages(flipped, ["knowledge"] * 8, 4)
    stat2 = stat.flip(0)
    smooth = 0.5 * stat + 0.5 * stat2
    assert torch.allclose(
        weighter.reward_weights, torch.tensor([1.0, 2.0]) * smooth / smooth.mean(), atol=1e-5
    )
    # state round-trip (checkpoints)
    clone = RewardWeighter(["a", "b"], [("knowledge",)] * 2, [1.0, 2.0], CAPS, weighting="dynamic")
    clone.load_state_dict(weighter.state_dict())
    assert torch.allclose(clone.stat_ema, weighter.stat_ema)
    assert torch.allclose(clone.reward_weights, weighter.reward_weights)


def test_dynamic_clips_a_reward_that_never_pays():
    rewards = torch.tensor([[0.0] * 8, [1, 0, 1, 1, 0, 1, 1, 0]]).T
    stat = reward_statistic(rewards, "inverse_cv")
    assert stat[0] == 0
    weighter = RewardWeighter(
        ["a", "b"], [("knowledge",)] * 2, [1.0, 1.0], CAPS, weighting="dynamic"
    )
    weighter.advantages(rewards, ["knowledge"] * 8, 4)
    assert weighter.reward_weights[0] > 0  # clipped to a floor, never silenced


def test_dynamic_scales_single_reward_capabilities():
    """One reward per capability: group normalization would erase reward weights, so the
    capability's advantages carry its rewards' mean factor."""
    rewards = torch.tensor([[1, 0, 1, 1, NAN, NAN, NAN, NAN], [NAN] * 4 + [1, 0, 0, 0]]).T
    weighter = RewardWeighter(
        ["k", "r"], [("knowledge",), ("reasoning",)], [1.0, 1.0], CAPS, weighting="dynamic"
    )
    adv, member = weighter.advantages(rewards, ["knowledge"] * 4 + ["reasoning"] * 4, 4)
    assert weighter.capability_scale[0] > weighter.capability_scale[1]
    plain = capability_advantages(
        rewards, member, weighter.feed, torch.ones(2), 4, mode="sum_then_normalize"
    )
    assert torch.allclose(adv, plain * weighter.capability_scale, atol=1e-3)


def test_gradient_weights_are_smoothed_and_sum_to_active_count():
    weighter = RewardWeighter(["k"], [()], [1.0], CAPS, weighting="gradient", ema=0.5)
    active = torch.tensor([True, True, False])
    first = weighter.gradient_weights(torch.tensor([2.0, 1.0, 0.0]), active)
    assert first.sum().item() == pytest.approx(2.0) and first[2] == 0
    second = weighter.gradient_weights(torch.tensor([1.0, 2.0, 0.0]), active)
    assert second[0] == pytest.approx(second[1])  # EMA of [2, 1] and [1, 2]


# --------------------------------------------------------------------------- against TRL itself


def _trainer(tiny_model, tmp_path, rows, rewards, **overrides):
    from balancedbio.config import load_config
    from balancedbio.training import GRPOStageConfig
    from balancedbio.training.run import build_trainer, to_dataset

    args = [f"model={tiny_model}", "per_device_train_batch_size=8", "num_generations=4"]
    args += ["max_completion_length=4", f"output_dir={tmp_path}", "lora.dropout=0.0"]
    args += [f"{k}={v}" for k, v in overrides.items()]
    cfg = load_config(GRPOStageConfig, None, args)
    return build_trainer(cfg, to_dataset(rows), [], rewards, tmp_path)


@pytest.mark.parametrize(
    ("weighting", "trl_mode"), [("fixed", "sum_then_normalize"), ("gdpo", "normalize_then_sum")]
)
def test_single_capability_advantages_equal_trl(
    tiny_model, tmp_path, monkeypatch, weighting, trl_mode
):
    """On knowledge-only data with two knowledge rewards, our advantages are TRL's, computed by
    TRL's own code from the same reward matrix."""
    import fixtures
    from trl import GRPOTrainer

    from balancedbio.rewards.base import RewardFunction

    rows = [fixtures.knowledge_row(i) for i in range(2)]
    rewards = [
        RewardFunction("a", lambda t, r: 0.0, capabilities=("knowledge",), weight=2.0),
        RewardFunction("b", lambda t, r: 0.0, capabilities=("knowledge",), weight=0.5),
    ]
    trainer = _trainer(tiny_model, tmp_path, rows, rewards, weighting=weighting, aggregator="sum")
    assert trainer.multi_objective_aggregation == trl_mode
    table = torch.tensor(
        [[1, 0.2], [0, 0.9], [1, NAN], [0, 0.1], [0, 0.5], [1, 0.5], [1, 1.0], [0, 0.0]]
    )
    seen = {}
    original = GRPOTrainer._generate_and_score_completions

    def record(self, inputs):
        out = original(self, inputs)
        seen["trl"] = out["advantages"].clone()
        return out

    monkeypatch.setattr(GRPOTrainer, "_calculate_rewards", lambda self, *a: table.clone())
    monkeypatch.setattr(GRPOTrainer, "_generate_and_score_completions", record)
    trainer.model.train()
    batch = [dict(trainer.train_dataset[i]) for i in (0, 0, 0, 0, 1, 1, 1, 1)]
    out = trainer._generate_and_score_completions(batch)
    assert torch.allclose(out["advantages"], seen["trl"], atol=1e-6)
    assert torch.allclose(out["capability_advantages"][:, 0], seen["trl"], atol=1e-6)
    assert out["capability_mask"][:, 0].all() and not out["capability_mask"][:, 1:].any()
