"""Report figures as PNG files (matplotlib, Agg backend): radar, benchmark bars, training
curves, gradient-cosine heatmap, data statistics.

Training metrics are read generically by key pattern (:data:`PANELS`), so a panel appears
when its keys exist and is skipped otherwise; ``null`` values are gaps.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from balancedbio.eval.compare import (
    CAPABILITY_NAMES,
    CAPABILITY_ORDER,
    model_name,
    ordered_labels,
)

COLORS: dict[str, str] = {
    "base": "#7f7f7f",
    "sft": "#1f77b4",
    "grpo_capability_aware": "#2ca02c",
    "grpo_vanilla": "#d62728",
}
_EXTRA = ("#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#ff7f0e")
#: Capability colours in training curves (a series named after a capability gets its colour).
CAP_COLORS: dict[str, str] = {
    "knowledge": "#1f77b4",
    "reasoning": "#ff7f0e",
    "instruction": "#2ca02c",
    "integrated": "#9467bd",
}
_TAB10 = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
DPI = 110

#: Training-curve panels: title, y label and the key patterns (group ``name`` = series).
PANELS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Reward per verifier", "mean reward", (r"^rewards/(?P<name>.+)/mean$",)),
    (
        "Reward per capability",
        "mean reward",
        (r"^rewards_by_capability/(?P<name>[^/]+)$", r"^capability/(?P<name>[^/]+)/reward$"),
    ),
    ("Reward weights", "weight", (r"^weights/reward/(?P<name>.+)$",)),
    ("Capability weights", "weight", (r"^weights/(?P<name>(?!reward/).+)$",)),
    (
        "Capability preservation (after / before)",
        "ratio",
        (r"^(?:pareto/)?preservation/(?P<name>.+)$",),
    ),
    ("Held-out capability score", "score", (r"^pareto/score/(?P<name>.+)$",)),
    ("Per-capability gradient norm", "norm", (r"^(?:conflict/)?grad_norm/(?P<name>.+)$",)),
    ("Gradient conflict rate", "share of pairs", (r"^(?P<name>conflict/rate|conflict_rate)$",)),
    ("Loss", "loss", (r"^(?P<name>loss)$",)),
)
METRIC_SHORT: dict[str, str] = {
    "prompt_level_strict_acc": "prompt strict",
    "integration_score": "integration",
    "accuracy": "acc",
}
COSINE: tuple[str, ...] = (r"^(?:conflict/)?cos(?:ine)?/(?P<name>[^/]+__[^/]+)$",)


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def color(label: str, i: int) -> str:
    return COLORS.get(label, _EXTRA[i % len(_EXTRA)])


def series_color(name: str, i: int) -> str:
    """Capability colour for ``.../<capability>`` series, else the i-th tab10 colour."""
    return CAP_COLORS.get(name.rsplit("/", 1)[-1], _TAB10[i % len(_TAB10)])


def _save(fig: Any, path: Path, *, tight: bool = True) -> Path:
    """Write a PNG; ``tight=False`` for figures laid out by matplotlib's constrained layout
    (one draw instead of two)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight" if tight else None, facecolor="white")
    _plt().close(fig)
    return path


# --------------------------------------------------------------------------- scores


def capability_scores(merged: Mapping[str, Any]) -> tuple[list[str], dict[str, list[float | None]]]:
    """Capabilities present in any model, and each model's score per capability."""
    models = merged.get("models", {})
    labels = ordered_labels(models)
    caps = [
        c for c in CAPABILITY_ORDER if any(c in models[m].get("capabilities", {}) for m in labels)
    ]
    scores = {
        m: [models[m].get("capabilities", {}).get(c, {}).get("score") for c in caps] for m in labels
    }
    return caps, scores


def radar(merged: Mapping[str, Any], path: Path) -> Path | None:
    """Capabilities of each model on a radar (bars when fewer than 3 capabilities)."""
    caps, scores = capability_scores(merged)
    if not caps:
        return None
    plt = _plt()
    names = [CAPABILITY_NAMES.get(c, c) for c in caps]
    if len(caps) < 3:
        fig, ax = plt.subplots(figsize=(5.5, 3.2))
        width = 0.8 / max(1, len(scores))
        for i, (m, vals) in enumerate(scores.items()):
            xs = [j + i * width for j in range(len(caps))]
            ax.bar(
                xs, [100 * (v or 0) for v in vals], width, label=model_name(m), color=color(m, i)
            )
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(caps))], names)
        ax.set_ylabel("score (%)")
        ax.set_ylim(0, 100)
        ax.legend(frameon=False)
        return _save(fig, path)
    angles = [2 * math.pi * i / len(caps) for i in range(len(caps))]
    fig, ax = plt.subplots(figsize=(5.6, 5.0), subplot_kw={"projection": "polar"})
    for i, (m, vals) in enumerate(scores.items()):
        pts = [100 * (v or 0.0) for v in vals]
        ax.plot([*angles, angles[0]], [*pts, pts[0]], color=color(m, i), lw=2, label=model_name(m))
        ax.fill([*angles, angles[0]], [*pts, pts[0]], color=color(m, i), alpha=0.08)
    ax.set_xticks(angles, names)
    ax.set_ylim(0, 100)
    ax.set_yticks([25, 50, 75, 100], ["25", "50", "75", "100"], color="#666", fontsize=7)
    ax.spines["polar"].set_color("#ccc")
    ax.grid(color="#ddd")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2, frameon=False)
    return _save(fig, path)


def benchmark_bars(merged: Mapping[str, Any], path: Path) -> Path | None:
    """Each benchmark's headline metric per model, with standard-error bars."""
    models = merged.get("models", {})
    labels = ordered_labels(models)
    benches: dict[str, str] = {}
    for m in labels:
        for section in ("benchmarks", "groups"):
            for b, entry in models[m].get(section, {}).items():
                benches.setdefault(b, entry["primary"])
    if not benches:
        return None
    plt = _plt()
    names = list(benches)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.5 * len(names) + 1.5), 3.6))
    width = 0.8 / max(1, len(labels))
    for i, m in enumerate(labels):
        vals, errs = [], []
        for b in names:
            entry = (
                models[m].get("benchmarks", {}).get(b) or models[m].get("groups", {}).get(b) or {}
            )
            cell = entry.get("metrics", {}).get(benches[b]) or {}
            vals.append(100 * (cell.get("value") or 0.0))
            errs.append(100 * (cell.get("stderr") or 0.0))
        xs = [j + i * width for j in range(len(names))]
        ax.bar(xs, vals, width, yerr=errs, capsize=2, label=model_name(m), color=color(m, i))
    ticks = [
        f"{b.removeprefix('heldout_')}\n{METRIC_SHORT.get(benches[b], benches[b])}" for b in names
    ]
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(names))], ticks, fontsize=8)
    ax.set_ylabel("score (%)")
    ax.set_ylim(0, 100)
    ax.legend(frameon=False, ncol=4, fontsize=8, loc="lower left", bbox_to_anchor=(0.0, 1.0))
    return _save(fig, path)


# --------------------------------------------------------------------------- training


def series(
    records: Sequence[Mapping[str, Any]], patterns: Sequence[str]
) -> dict[str, tuple[list[float], list[float]]]:
    """``name -> (steps, values)`` for keys matching any pattern; null / non-finite skipped."""
    compiled = [re.compile(p) for p in patterns]
    out: dict[str, tuple[list[float], list[float]]] = {}
    for i, rec in enumerate(records):
        step = rec.get("step", i + 1)
        for key, value in rec.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if not math.isfinite(value):
                continue
            for pat in compiled:
                m = pat.match(key)
                if m:
                    xs, ys = out.setdefault(m.group("name"), ([], []))
                    xs.append(float(step))
                    ys.append(float(value))
                    break
    return out


def training_curves(stage: str, records: Sequence[Mapping[str, Any]], path: Path) -> Path | None:
    """A grid of the :data:`PANELS` present in a stage's ``metrics.jsonl``."""
    panels = [(t, y, s) for t, y, pats in PANELS if (s := series(records, pats))]
    if not panels:
        return None
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    cols = 2 if len(panels) > 1 else 1
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(6.6 * cols, 2.8 * rows), squeeze=False, layout="constrained"
    )
    for ax, (title, ylabel, data) in zip(axes.flat, panels, strict=False):
        for i, (name, (xs, ys)) in enumerate(sorted(data.items())):
            style = {"marker": "o", "ms": 3} if len(xs) < 15 else {}
            ax.plot(xs, ys, lw=1.4, label=name, color=series_color(name, i), **style)
        if title.startswith("Capability preservation"):
            ax.axhline(1.0, color="#999", ls="--", lw=1)
        ax.set_title(title, fontsize=10, loc="left")
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(frameon=False, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    fig.suptitle(f"Training curves: {stage}", x=0.01, ha="left", fontsize=11)
    return _save(fig, path, tight=False)


def cosine_heatmap(stage: str, records: Sequence[Mapping[str, Any]], path: Path) -> Path | None:
    """Pairwise gradient cosines (rows: capability pairs, columns: steps), -1 blue .. +1 red."""
    data = series(records, COSINE)
    if not data:
        return None
    import numpy as np

    plt = _plt()
    steps = sorted({x for xs, _ in data.values() for x in xs})
    col = {s: j for j, s in enumerate(steps)}
    pairs = sorted(data)
    grid = np.full((len(pairs), len(steps)), np.nan)
    for i, pair in enumerate(pairs):
        for x, y in zip(*data[pair], strict=True):
            grid[i, col[x]] = y
    fig, ax = plt.subplots(
        figsize=(max(5.0, min(12.0, 0.25 * len(steps) + 3)), 0.45 * len(pairs) + 1.4)
    )
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="#eeeeee")
    im = ax.imshow(grid, aspect="auto", cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    ax.set_yticks(range(len(pairs)), [p.replace("__", " vs ") for p in pairs])
    ticks = list(range(0, len(steps), max(1, len(steps) // 10)))
    ax.set_xticks(ticks, [f"{steps[t]:g}" for t in ticks])
    ax.set_xlabel("step")
    ax.set_title(
        f"Gradient cosine between capabilities: {stage} (grey: not measured)",
        fontsize=10,
        loc="left",
    )
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02, label="cosine")
    return _save(fig, path)


# --------------------------------------------------------------------------- data


def data_figure(manifests: Mapping[str, Mapping[str, Any]], path: Path) -> Path | None:
    """Generated items per capability (train / held-out) and rejections per reason."""
    present = {k: m for k, m in manifests.items() if m.get("by_capability")}
    if not present:
        return None
    plt = _plt()
    reasons: dict[str, int] = {}
    for m in present.values():
        for reason, n in (m.get("by_reason") or {}).items():
            reasons[reason] = reasons.get(reason, 0) + int(n)
    cols = 2 if reasons else 1
    fig, axes = plt.subplots(1, cols, figsize=(5.6 * cols, 3.3), squeeze=False)
    ax = axes[0, 0]
    caps = sorted(
        {c for m in present.values() for c in m["by_capability"]},
        key=lambda c: (CAPABILITY_ORDER.index(c) if c in CAPABILITY_ORDER else 9, c),
    )
    width = 0.8 / len(present)
    palette = {"train": "#4c72b0", "heldout": "#dd8452"}
    for i, (name, m) in enumerate(present.items()):
        xs = [j + i * width for j in range(len(caps))]
        counts = [m["by_capability"].get(c, 0) for c in caps]
        bars = ax.bar(xs, counts, width, label=name, color=palette.get(name, _TAB10[i]))
        ax.bar_label(bars, fontsize=7, padding=1)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(caps))], caps)
    ax.set_ylabel("items")
    ax.set_title("Generated items per capability", fontsize=10, loc="left")
    ax.legend(frameon=False)
    if reasons:
        ax = axes[0, 1]
        top = [r for r, _ in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:15]][::-1]
        height = 0.8 / len(present)
        for i, (name, m) in enumerate(present.items()):
            ys = [j + i * height for j in range(len(top))]
            counts = [int((m.get("by_reason") or {}).get(r, 0)) for r in top]
            ax.barh(ys, counts, height, label=name, color=palette.get(name, _TAB10[i]))
        ax.set_yticks([j + 0.4 - height / 2 for j in range(len(top))], top, fontsize=7)
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("rejected items")
        ax.set_title("Rejections per reason", fontsize=10, loc="left")
        ax.legend(frameon=False, fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


__all__ = [
    "COLORS",
    "COSINE",
    "PANELS",
    "benchmark_bars",
    "capability_scores",
    "cosine_heatmap",
    "data_figure",
    "radar",
    "series",
    "training_curves",
]
