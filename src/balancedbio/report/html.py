"""The self-contained HTML report: tables straight from ``results.json`` and inline PNGs.

Every score cell carries the exact value it shows in ``data-value`` (the float from
``results.json``), every delta in ``data-delta``; the visible text is that value in percent
with two decimals. Figures are embedded as base64 data URIs, so the file can be mailed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from balancedbio.common import atomic_write_text
from balancedbio.eval.compare import (
    CAPABILITY_NAMES,
    CAPABILITY_ORDER,
    comparison_rows,
    model_name,
)
from balancedbio.report import figures
from balancedbio.report.rundir import RunData, load_run

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;
background:#f6f7f9;color:#1d2330;line-height:1.45}
main{max-width:1120px;margin:0 auto;padding:24px 28px 60px}
h1{font-size:26px;margin:8px 0 2px}h2{font-size:19px;margin:34px 0 10px;padding-bottom:4px;
border-bottom:2px solid #e1e4ea}h3{font-size:15px;margin:20px 0 8px}
.sub{color:#5b6475;font-size:13px}.note{color:#5b6475;font-size:13px;margin:6px 0}
.card{background:#fff;border:1px solid #e1e4ea;border-radius:8px;padding:14px 16px;margin:12px 0}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{padding:5px 9px;border-bottom:1px solid #eceef2;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}tr:nth-child(even) td{background:#fafbfc}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.delta{font-size:11px;margin-left:4px}.pos{color:#1a7f37}.neg{color:#c62828}.zero{color:#888}
.err{color:#8a93a3;font-size:11px}.fig{text-align:center}.fig img{max-width:100%}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px}.narrow{max-width:620px;margin:12px auto}
td.bench{font-weight:600}td.cont{border-top:none}
pre{background:#f0f2f5;padding:10px;border-radius:6px;font-size:12px;overflow:auto;max-height:360px}
code{font-size:12px}.tag{display:inline-block;padding:1px 7px;border-radius:10px;
background:#eef1f6;font-size:12px;margin-right:4px}
"""


def pct(value: float | None) -> str:
    return "&ndash;" if value is None else f"{100 * value:.2f}"


def _img(path: Path | None, alt: str) -> str:
    if path is None:
        return ""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<div class="fig"><img alt="{escape(alt)}" src="data:image/png;base64,{data}"></div>'


def _score_cell(value: float | None, delta: float | None, stderr: float | None = None) -> str:
    attrs = f' data-value="{value!r}"' if value is not None else ""
    text = pct(value)
    if stderr is not None:
        text += f' <span class="err" data-stderr="{stderr!r}">&plusmn;{100 * stderr:.2f}</span>'
    if delta is not None:
        cls = "pos" if delta > 1e-12 else "neg" if delta < -1e-12 else "zero"
        text += f' <span class="delta {cls}" data-delta="{delta!r}">({100 * delta:+.2f})</span>'
    return f'<td class="num"{attrs}>{text}</td>'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], num_from: int = 1) -> str:
    ths = "".join(
        f'<th class="{"num" if i >= num_from else ""}">{escape(h)}</th>' for i, h in enumerate(head)
    )
    body = "".join("<tr>" + "".join(r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{ths}</tr></thead><tbody>{body}</tbody></table>"


def _td(text: Any, num: bool = False) -> str:
    return f'<td class="{"num" if num else ""}">{escape(str(text))}</td>'


# --------------------------------------------------------------------------- sections


def scores_section(data: RunData, figs: Mapping[str, Path | None]) -> str:
    if not data.results or not data.labels:
        return (
            "<h2>Scores</h2><p class='note'>No results.json in this run: evaluate models with "
            "<code>balancedbio eval run --run-dir RUN_DIR --label base ...</code>.</p>"
        )
    labels = data.labels
    rows = comparison_rows(data.results)
    heads = [
        model_name(m) + (" (baseline)" if i == 0 and len(labels) > 1 else "")
        for i, m in enumerate(labels)
    ]
    cap_rows = [
        [f"<td>{escape(CAPABILITY_NAMES.get(r['name'], r['name']))}</td>"]
        + [_score_cell(r["values"][m], r["delta"][m]) for m in labels]
        for r in rows
        if r["section"] == "capability"
    ]
    bench_rows = []
    previous = None
    for r in (r for r in rows if r["section"] == "benchmark"):
        first = r["name"] != previous
        previous = r["name"]
        name = f'<td class="bench">{escape(r["name"])}</td>' if first else '<td class="cont"></td>'
        bench_rows.append(
            [name, _td(r["metric"]), _td(_n(r["n"]), num=True)]
            + [_score_cell(r["values"][m], r["delta"][m], r["stderr"][m]) for m in labels]
        )
    out = ["<h2>Capabilities: before and after</h2>"]
    out.append(
        "<p class='note'>Scores in percent; deltas in parentheses are against the first column. "
        "A capability's score is the mean of its benchmarks' headline metrics (listed in "
        "<code>results.json</code> under <code>capabilities</code>); the integration score "
        "counts items whose answer is right, whose reasoning passes every workflow rule and "
        "that follow every instruction (strict), all at once.</p>"
    )
    out.append('<div class="card">' + _table(["Capability", *heads], cap_rows) + "</div>")
    if figs.get("radar"):
        out.append(f'<div class="card narrow">{_img(figs["radar"], "capability radar")}</div>')
    out.append("<h2>Benchmarks</h2>")
    out.append(f'<div class="card">{_img(figs.get("benchmarks"), "benchmark scores")}</div>')
    out.append(
        '<div class="card">'
        + _table(["Benchmark", "Metric", "n", *heads], bench_rows, 2)
        + "</div>"
    )
    out.append(
        "<p class='note'>&plusmn; is the standard error of the mean (lm-eval's "
        "<code>mean_stderr</code>). MCQ <code>acc</code>/<code>acc_norm</code> come from choice "
        "log-likelihoods, <code>acc_gen</code> from the generated letter.</p>"
    )
    return "".join(out)


def _n(ns: Mapping[str, Any]) -> str:
    values = sorted({v for v in ns.values() if v is not None})
    return "/".join(str(v) for v in values) or "-"


def training_section(data: RunData, figs: Mapping[str, Path | None]) -> str:
    out = ["<h2>Training</h2>"]
    if not data.metrics:
        out.append("<p class='note'>No <code>&lt;stage&gt;/metrics.jsonl</code> in this run.</p>")
        return "".join(out)
    for stage, records in data.metrics.items():
        last = records[-1]
        out.append(f"<h3>{escape(stage)}</h3><p class='note'>{len(records)} logged steps")
        if "step" in last:
            out.append(f", last step {escape(str(last['step']))}")
        out.append("</p>")
        for key in (f"curves:{stage}", f"cosine:{stage}"):
            if figs.get(key):
                out.append(f'<div class="card">{_img(figs[key], key)}</div>')
        if not figs.get(f"curves:{stage}") and not figs.get(f"cosine:{stage}"):
            out.append("<p class='note'>No known metric keys in this stage's log.</p>")
    return "".join(out)


def data_section(data: RunData, figs: Mapping[str, Path | None]) -> str:
    out = ["<h2>Data</h2>"]
    if not data.manifests:
        out.append("<p class='note'>No <code>data/manifest.json</code> in this run.</p>")
        return "".join(out)
    if figs.get("data"):
        out.append(f'<div class="card">{_img(figs["data"], "data statistics")}</div>')
    names = list(data.manifests)
    found = {c for m in data.manifests.values() for c in (m.get("by_capability") or {})}
    caps = [c for c in CAPABILITY_ORDER if c in found] + sorted(found - set(CAPABILITY_ORDER))
    rows = [
        [_td(c)]
        + [_td(m.get("by_capability", {}).get(c, 0), True) for m in data.manifests.values()]
        for c in caps
    ]
    rows.append(
        [_td("total items")] + [_td(m.get("items", "-"), True) for m in data.manifests.values()]
    )
    rows.append(
        [_td("rejected")] + [_td(m.get("rejected", "-"), True) for m in data.manifests.values()]
    )
    out.append(
        '<div class="grid"><div class="card"><h3>Items</h3>'
        + _table(["capability", *names], rows)
        + "</div>"
    )
    reasons = sorted({r for m in data.manifests.values() for r in (m.get("by_reason") or {})})
    rrows = [
        [_td(r)] + [_td(m.get("by_reason", {}).get(r, 0), True) for m in data.manifests.values()]
        for r in reasons
    ]
    out.append(
        '<div class="card"><h3>Rejected per reason</h3>'
        + (_table(["reason", *names], rrows) if rrows else "<p class='note'>none</p>")
        + "</div></div>"
    )
    versions: dict[str, str] = {}
    for m in data.manifests.values():
        versions.update({k: str(v) for k, v in (m.get("source_versions") or {}).items()})
    if versions:
        vrows = [[_td(k), _td(v)] for k, v in sorted(versions.items())]
        out.append(
            '<div class="card"><h3>Source versions</h3>'
            + _table(["source", "version"], vrows, 9)
            + "</div>"
        )
    seeds = [
        f"<span class='tag'>{escape(k)}: seed {escape(str(m.get('seed')))}</span>"
        for k, m in data.manifests.items()
    ]
    out.append("<p class='note'>" + "".join(seeds) + "</p>")
    return "".join(out)


def config_section(data: RunData) -> str:
    out = ["<h2>Configuration and versions</h2>"]
    models = (data.results or {}).get("models", {})
    if models:
        rows = [
            [
                _td(model_name(m)),
                _td(models[m].get("model", {}).get("spec", "")),
                _td(models[m].get("model", {}).get("path", "")),
                _td(models[m].get("fingerprint", "")),
            ]
            for m in data.labels
        ]
        out.append(
            '<div class="card"><h3>Models</h3>'
            + _table(["model", "spec", "path", "fingerprint"], rows, 9)
            + "</div>"
        )
        versions = sorted({k for m in models.values() for k in m.get("versions", {})})
        vrows = [
            [_td(k)] + [_td(models[m].get("versions", {}).get(k, "")) for m in data.labels]
            for k in versions
        ]
        if vrows:
            out.append(
                '<div class="card"><h3>Package versions</h3>'
                + _table(["package", *map(model_name, data.labels)], vrows, 9)
                + "</div>"
            )
        first = models[data.labels[0]]
        evald = first.get("data") or {}
        if evald:
            rows = [
                [_td(k), _td(evald[k])]
                for k in ("dir", "seed", "items", "fingerprint")
                if k in evald
            ]
            rows += [
                [_td(k), _td(v)] for k, v in sorted((evald.get("source_versions") or {}).items())
            ]
            out.append(
                '<div class="card"><h3>Held-out evaluation data</h3>'
                + _table(["field", "value"], rows, 9)
                + "</div>"
            )
        out.append(
            "<h3>Evaluation config</h3><pre>"
            + escape(json.dumps(first.get("config", {}), indent=2))
            + "</pre>"
        )
    if data.config_text:
        out.append("<h3>config.yaml</h3><pre>" + escape(data.config_text) + "</pre>")
    if len(out) == 1:
        out.append("<p class='note'>No config or results in this run.</p>")
    return "".join(out)


# --------------------------------------------------------------------------- page


def make_figures(data: RunData, fig_dir: Path) -> dict[str, Path | None]:
    """Render every figure the run's data allow into ``fig_dir``."""
    figs: dict[str, Path | None] = {}
    if data.results:
        figs["radar"] = figures.radar(data.results, fig_dir / "capabilities_radar.png")
        figs["benchmarks"] = figures.benchmark_bars(data.results, fig_dir / "benchmarks.png")
    for stage, records in data.metrics.items():
        slug = stage.replace("/", "_")
        figs[f"curves:{stage}"] = figures.training_curves(
            stage, records, fig_dir / f"training_{slug}.png"
        )
        figs[f"cosine:{stage}"] = figures.cosine_heatmap(
            stage, records, fig_dir / f"cosine_{slug}.png"
        )
    figs["data"] = figures.data_figure(data.manifests, fig_dir / "data.png")
    return figs


def render_html(data: RunData, figs: Mapping[str, Path | None]) -> str:
    """The report page as one HTML string."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")  # noqa: UP017
    models = ", ".join(model_name(m) for m in data.labels) or "none"
    head = (
        f"<h1>BalancedBio report</h1><p class='sub'>Run <code>{escape(str(data.run_dir))}</code>"
        f" &middot; models: {escape(models)} &middot; generated {stamp}</p>"
    )
    body = (
        head
        + scores_section(data, figs)
        + training_section(data, figs)
        + data_section(data, figs)
        + config_section(data)
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>BalancedBio report: {escape(data.run_dir.name)}</title><style>{CSS}</style>"
        f"</head><body><main>{body}</main></body></html>\n"
    )


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``RUN_DIR/report.html`` (or ``out``) and ``RUN_DIR/figures/*.png``."""
    data = load_run(run_dir)
    figs = make_figures(data, data.run_dir / "figures")
    path = Path(out) if out is not None else data.run_dir / "report.html"
    atomic_write_text(path, render_html(data, figs))
    return path


__all__ = ["make_figures", "render_html", "write_report"]
