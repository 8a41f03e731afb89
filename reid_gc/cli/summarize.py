"""Summarize training runs as a markdown table beside the GC paper's figures:
python tools/summarize.py OUT   (writes OUT/summary.md and prints it)

Every folder under OUT holding config.yml and metrics.json is a run; its figure is the last evaluation
made during training (no re-ranking). Runs differing only in SOLVER.SEED are one row: mean ± std. The
optimizer column is SOLVER.OPTIMIZER_NAME (any name the config takes), followed by the Lookahead and gradient
clipping settings when a run sets them, so that runs differing in those are separate rows.
"""
import json
import os
import statistics
import sys

import yaml

from reid_gc.cli.common import run_cli
from reid_gc.utils.atomic import write_text
from reid_gc.utils.errors import UserError
from reid_gc.utils.run_dir import ARCHIVE, CONFIG, METRICS

# Market-1501 without re-ranking, mAP / Rank-1 (%), from the GC paper (Yong et al., ECCV 2020).
PAPER = {
    ("resnet18", "Adam"): (77.8, 91.7), ("resnet18", "SGD_GCC"): (81.3, 92.7),
    ("resnet50", "Adam"): (85.9, 94.5), ("resnet50", "SGD_GCC"): (86.6, 94.8),
    ("resnet101", "Adam"): (87.1, 94.5), ("resnet101", "SGD_GCC"): (87.9, 95.0),
}


def optimizer_label(solver):
    """SOLVER.OPTIMIZER_NAME, plus ' + Lookahead(k, alpha)' and ' + clip N' when the run set them."""
    label = solver["OPTIMIZER_NAME"]
    k = solver.get("LOOKAHEAD_K", 0)
    if k:
        own = label.startswith("Ranger")  # Ranger's built-in Lookahead takes the keys
        label += f" (k={k}, alpha={solver.get('LOOKAHEAD_ALPHA', 0.5)})" if own else \
            f" + Lookahead(k={k}, alpha={solver.get('LOOKAHEAD_ALPHA', 0.5)})"
    if solver.get("GRAD_CLIP", 0):
        label += f" + clip {solver['GRAD_CLIP']}"
    return label


def find_runs(out):
    runs = []
    for folder, _, files in sorted(os.walk(out)):
        if CONFIG not in files or METRICS not in files or f"/{ARCHIVE}/" in folder + "/":
            continue
        with open(os.path.join(folder, CONFIG), encoding="utf-8") as f:
            cfg = yaml.safe_load(f)
        with open(os.path.join(folder, METRICS), encoding="utf-8") as f:
            evals = [e for e in json.load(f) if e.get("source") == "train" and not e.get("re_ranking")]
        if not evals:
            continue
        last = max(evals, key=lambda e: e["epoch"])
        names = cfg["DATASETS"]["NAMES"]
        runs.append({"dataset": "+".join(names) if isinstance(names, list) else names,
                     "model": cfg["MODEL"]["NAME"], "optimizer": optimizer_label(cfg["SOLVER"]),
                     "seed": cfg["SOLVER"]["SEED"], "epoch": last["epoch"],
                     "mAP": 100 * last["mAP"], "rank1": 100 * last["rank1"]})
    return runs


def fmt(values):
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def table(runs):
    groups = {}
    for r in runs:
        groups.setdefault((r["dataset"], r["model"], r["optimizer"]), []).append(r)
    lines = ["| dataset | model | optimizer | runs (seeds) | epochs | mAP (%) | Rank-1 (%) | paper mAP | "
             "paper Rank-1 |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for (dataset, model, opt), rs in sorted(groups.items()):
        paper = PAPER.get((model, opt)) if dataset == "market1501" else None
        seeds = ",".join(str(r["seed"]) for r in sorted(rs, key=lambda r: r["seed"]))
        epochs = ",".join(sorted({str(r["epoch"]) for r in rs}))
        measured = f"{fmt([r['mAP'] for r in rs])} | {fmt([r['rank1'] for r in rs])}"
        reported = f"{paper[0]} | {paper[1]}" if paper else "- | -"
        lines.append(f"| {dataset} | {model} | {opt} | {len(rs)} ({seeds}) | {epochs} | {measured} | {reported} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        raise UserError("usage: python tools/summarize.py OUT (the folder holding the runs)")
    out = argv[0]
    if not os.path.isdir(out):
        raise UserError(f"{out} is not a folder: give the OUT folder that scripts/gc_table.sh wrote")
    runs = find_runs(out)
    if not runs:
        raise UserError(f"no finished evaluation under {out}: each run folder needs config.yml and metrics.json")
    text = table(runs)
    write_text(os.path.join(out, "summary.md"), text)
    print(text, end="")


def cli(argv=None):
    run_cli(main, argv)
