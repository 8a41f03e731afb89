"""scripts/gc_table.sh end to end on a tiny synthetic setting, and tools/summarize.py's table."""
import json
import os
import subprocess
import sys

from run_helpers import ROOT, SMALL, TINY_SYNTHETIC, run_tool


def test_gc_table_runs_and_summarizes(tmp_path):
    out = tmp_path / "table"
    env = dict(os.environ, MODELS="resnet18", OPTIMIZERS="Adam SGD_GCC", SEEDS="0 1", DATASET="synthetic",
               ADAM_CONFIG="configs/quickstart.yml", SGD_CONFIG="configs/quickstart.yml", PYTHON=sys.executable)
    tiny = [*SMALL, *TINY_SYNTHETIC[2:], "SOLVER.MAX_EPOCHS", "1"]
    r = subprocess.run(["bash", "scripts/gc_table.sh", str(tmp_path / "data"), str(out), *tiny], cwd=ROOT,
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [line for line in r.stdout.splitlines() if line.startswith("| synthetic")]
    assert len(rows) == 2
    by_opt = {row.split("|")[3].strip(): [c.strip() for c in row.split("|")[1:-1]] for row in rows}
    assert set(by_opt) == {"Adam", "SGD_GCC"}
    for opt, cells in by_opt.items():
        dataset, model, _, runs, epochs, m_ap, rank1, paper_map, paper_r1 = cells
        assert (dataset, model, runs, epochs) == ("synthetic", "resnet18", "2 (0,1)", "1")
        assert (paper_map, paper_r1) == ("-", "-")
        # mean ± std of the two seeds, recomputed from the runs' own metrics.json
        maps = [100 * json.load(open(out / "synthetic" / "resnet18" / opt / f"seed{s}" / "metrics.json"))[-1]["mAP"]
                for s in (0, 1)]
        mean = sum(maps) / 2
        std = abs(maps[0] - maps[1]) / 2 ** 0.5
        assert m_ap == f"{mean:.1f} ± {std:.1f}"
    assert (out / "summary.md").read_text().strip() == "\n".join(
        line for line in r.stdout.splitlines() if line.startswith("|"))


def test_summarize_puts_paper_figures_beside_market_runs(tmp_path):
    run = tmp_path / "market1501" / "resnet50" / "SGD_GCC" / "seed0"
    run.mkdir(parents=True)
    (run / "config.yml").write_text("DATASETS:\n  NAMES:\n  - market1501\nMODEL:\n  NAME: resnet50\n"
                                    "SOLVER:\n  OPTIMIZER_NAME: SGD_GCC\n  SEED: 0\n")
    entries = [{"source": "train", "epoch": 40, "mAP": 0.5, "rank1": 0.7, "re_ranking": False},
               {"source": "train", "epoch": 120, "mAP": 0.861, "rank1": 0.9452, "re_ranking": False},
               {"source": "test", "epoch": None, "mAP": 0.93, "rank1": 0.96, "re_ranking": True}]
    (run / "metrics.json").write_text(json.dumps(entries))
    r = run_tool("summarize.py", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "| market1501 | resnet50 | SGD_GCC | 1 (0) | 120 | 86.1 | 94.5 | 86.6 | 94.8 |" in r.stdout
    r = run_tool("summarize.py", str(tmp_path / "nothing"))
    assert r.returncode == 2 and "is not a folder" in r.stderr


def test_any_optimizer_name_and_its_lookahead_and_clip_settings_are_rows(tmp_path):
    for name, extra, seed in [("Ranger_GC2", "", 0), ("Ranger_GC2", "", 1), ("Adam_GC2", "  LOOKAHEAD_K: 5\n", 0),
                              ("Adam_GC2", "", 0), ("RAdam_GC", "  GRAD_CLIP: 1.0\n", 0)]:
        run = tmp_path / "synthetic" / "resnet18" / f"{name}{len(extra)}" / f"seed{seed}"
        run.mkdir(parents=True)
        (run / "config.yml").write_text("DATASETS:\n  NAMES:\n  - synthetic\nMODEL:\n  NAME: resnet18\n"
                                        f"SOLVER:\n  OPTIMIZER_NAME: {name}\n  SEED: {seed}\n{extra}")
        (run / "metrics.json").write_text(json.dumps([{"source": "train", "epoch": 2, "mAP": 0.5, "rank1": 0.6,
                                                       "re_ranking": False}]))
    r = run_tool("summarize.py", str(tmp_path))
    assert r.returncode == 0, r.stderr
    rows = {line.split("|")[3].strip(): line.split("|")[4].strip() for line in r.stdout.splitlines()
            if line.startswith("| synthetic")}
    assert rows == {"Ranger_GC2": "2 (0,1)", "Adam_GC2": "1 (0)", "Adam_GC2 + Lookahead(k=5, alpha=0.5)": "1 (0)",
                    "RAdam_GC + clip 1.0": "1 (0)"}


def test_gc_table_refuses_a_bad_optimizer_name_before_any_run(tmp_path):
    env = dict(os.environ, OPTIMIZERS="Ranger_GC2 LBFGS", PYTHON=sys.executable)
    r = subprocess.run(["bash", "scripts/gc_table.sh", str(tmp_path / "data"), str(tmp_path / "out")], cwd=ROOT,
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and "LBFGS cannot train" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
