"""Per-capability gradients: conflict-free aggregation, exact sub-batch Jacobian rows, metrics."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from balancedbio.training import conflict


def _conflicting_linear() -> tuple[nn.Linear, list[torch.Tensor]]:
    """A linear model and two squared-error objectives whose gradients point apart."""
    torch.manual_seed(0)
    model = nn.Linear(3, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[0.5, -0.5, 1.0]]))
    x1, y1 = torch.tensor([[1.0, 0.2, 0.0]]), torch.tensor([[3.0]])
    x2, y2 = torch.tensor([[1.0, -0.1, 0.3]]), torch.tensor([[-4.0]])
    losses = [((model(x1) - y1) ** 2).sum(), ((model(x2) - y2) ** 2).sum()]
    return model, losses


@pytest.mark.parametrize("name", ["pcgrad", "upgrad", "mgda", "sum"])
def test_conflict_free_aggregators_never_oppose_an_objective(name):
    model, losses = _conflicting_linear()
    params = list(model.parameters())
    buffer = conflict.JacobianBuffer(params, rows=2)
    for k, loss in enumerate(losses):
        buffer.add(k, torch.autograd.grad(loss, params))
    g1, g2 = buffer.matrix
    assert torch.dot(g1, g2) < 0  # the objectives conflict
    gramian, active, weights = conflict.combine(buffer, name)
    assert active.all()
    buffer.write_grads(weights)
    update = model.weight.grad.reshape(-1)
    inner = [torch.dot(update, g1).item(), torch.dot(update, g2).item()]
    if name == "sum":
        assert min(inner) < 0  # plain summing moves one objective backwards
    else:
        assert min(inner) >= -1e-5, inner  # every objective decreases (to first order)
        assert torch.linalg.norm(update) > 0


def test_without_conflict_aggregators_reduce_to_the_sum():
    jac = torch.tensor([[1.0, 0.5, 0.0], [0.8, 1.0, 0.2], [0.3, 0.1, 1.0]])
    gramian = jac @ jac.T
    assert (gramian > 0).all()
    for name in ("pcgrad", "upgrad"):
        weights = conflict.aggregation_weights(name, gramian)
        assert torch.allclose(weights, torch.ones(3), atol=1e-4), (name, weights)


def test_absent_capability_is_left_out_of_the_weighting():
    """MGDA over a zero row would pick the zero vector; an absent capability gets weight 0."""
    param = nn.Parameter(torch.zeros(2))
    buffer = conflict.JacobianBuffer([param], rows=3)
    buffer.add(0, [torch.tensor([1.0, 0.0])])
    buffer.add(2, [torch.tensor([-0.5, 1.0])])
    _, active, weights = conflict.combine(buffer, "mgda")
    assert active.tolist() == [True, False, True]
    assert weights[1] == 0 and weights[0] > 0 and weights[2] > 0
    buffer.write_grads(weights)
    assert param.grad.abs().sum() > 0


def test_conflict_stats_and_cumulative_rate():
    jac = torch.tensor([[1.0, 0.0], [-1.0, 1.0], [0.0, 0.0]])
    stats = conflict.conflict_stats(jac @ jac.T, ["k", "r", "i"])
    assert stats["conflict/grad_norm/r"] == pytest.approx(math.sqrt(2))
    assert stats["conflict/cos/k__r"] == pytest.approx(-1 / math.sqrt(2))
    assert math.isnan(stats["conflict/cos/k__i"])  # absent capability: undefined, not a conflict
    tracker = conflict.ConflictTracker(["k", "r", "i"])
    assert tracker.update(stats)["conflict/rate"] == 1.0
    no_conflict = conflict.conflict_stats(torch.eye(3), ["k", "r", "i"])
    metrics = tracker.update(no_conflict)
    assert metrics["conflict/rate"] == 0.5 and metrics["conflict/step_has_conflict"] == 0.0
    clone = conflict.ConflictTracker(["k", "r", "i"])
    clone.load_state_dict(tracker.state_dict())
    assert clone.rates() == tracker.rates()


def test_pcgrad_weights_are_reproducible_and_leave_the_global_rng_alone():
    jac = torch.tensor([[1.0, 0.1, 0.0], [-0.8, 1.0, 0.0], [-0.3, -0.9, 1.0]])
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = conflict.aggregation_weights("pcgrad", jac @ jac.T, seed=7)
    b = conflict.aggregation_weights("pcgrad", jac @ jac.T, seed=7)
    assert torch.equal(a, b)
    assert torch.equal(torch.rand(1), before)


# --------------------------------------------------------------------------- on the tiny model


def _inputs(trainer, batch: int = 6, prompt: int = 7, completion: int = 5) -> dict:
    torch.manual_seed(1)
    vocab = trainer.model.config.vocab_size
    completion_mask = torch.ones(batch, completion, dtype=torch.long)
    completion_mask[1, 3:] = 0
    completion_mask[4, 2:] = 0
    prompt_mask = torch.ones(batch, prompt, dtype=torch.long)
    prompt_mask[2, :2] = 0
    member = torch.tensor(
        [[1, 0, 0], [1, 0, 1], [0, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1]], dtype=torch.bool
    )  # rows 1 and 5 are integrated (knowledge + instruction)
    adv = torch.randn(batch, 3) * member
    return {
        "prompt_ids": torch.randint(0, vocab, (batch, prompt)),
        "prompt_mask": prompt_mask,
        "completion_ids": torch.randint(0, vocab, (batch, completion)),
        "completion_mask": completion_mask,
        "advantages": (adv * member).sum(1),
        "num_items_in_batch": completion_mask.sum(),
        "capability_advantages": adv,
        "capability_mask": member,
    }


def test_sub_batch_gradients_equal_the_generic_jacobian(tiny_model, tmp_path):
    """Rows from per-capability sub-batches == rows of TorchJD's generic Jacobian of the K
    full-batch losses; and their sum == the gradient of the one summed loss (dapo)."""
    import fixtures
    from test_weighting import _trainer
    from torchjd.autojac import backward

    trainer = _trainer(tiny_model, tmp_path, fixtures.build_rows(1), fixtures.make_rewards())
    model = trainer.model
    model.train()
    params = trainer._params
    trainer.current_gradient_accumulation_steps = 1  # set by the training loop otherwise
    inputs = _inputs(trainer)
    # lora_B starts at 0, so lora_A has no gradient: give B a value first
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.02)

    trainer.capability_backward(model, inputs)
    rows = trainer._jacobian.matrix.clone()

    losses = []
    for k in range(3):
        full = dict(inputs, advantages=inputs["capability_advantages"][:, k])
        losses.append(trainer._compute_loss(model, full))
    backward(losses, inputs=params, parallel_chunk_size=1)  # TRL's fused lm head has no vmap rule
    generic = torch.cat([p.jac.reshape(3, -1) for p in params], dim=1)
    assert generic.abs().sum() > 0
    assert torch.allclose(rows, generic, atol=1e-6, rtol=1e-4)

    for p in params:
        del p.jac
    summed = trainer._compute_loss(model, inputs)  # advantages = sum over capabilities
    grads = torch.autograd.grad(summed, params)
    assert torch.allclose(
        rows.sum(0), torch.cat([g.reshape(-1) for g in grads]), atol=1e-6, rtol=1e-4
    )
