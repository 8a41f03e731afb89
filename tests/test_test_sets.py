"""Several test sets (DATASETS.TEST_NAMES), camera-free evaluation and the readable ranked lists, run as a
user does: tools/test.py and tools/train.py on a Market-1501 tree and a DukeMTMC-reID tree."""
import csv
import json
import os

import numpy as np
import pytest
import torch
from fixtures_datasets import plain_map_cmc
from PIL import Image
from run_helpers import SMALL, run_tool, write_market

from reid_gc.config import load_config
from reid_gc.data.build import make_val_loaders
from reid_gc.engine.evaluator import create_evaluator
from reid_gc.engine.test_sets import evaluate_test_sets
from reid_gc.engine.testing import build_inference_model
from reid_gc.evaluation import re_ranking
from reid_gc.modeling import build_model
from reid_gc.utils.run_dir import RunDir

CONFIG = "configs/softmax_triplet.yml"


def write_duke(root, ids=5, seed=1):
    """A DukeMTMC-reID tree in its real naming PPPP_cC_fFFFFFFF.jpg (other colours than the Market tree)."""
    rng = np.random.default_rng(seed)
    base = os.path.join(root, "dukemtmc-reid", "DukeMTMC-reID")
    frame = 0
    for split, pids, cams in (("bounding_box_train", range(1, 7), (1, 2)), ("query", range(50, 50 + ids), (1, 5)),
                              ("bounding_box_test", range(50, 50 + ids + 2), (2, 3, 5))):
        os.makedirs(os.path.join(base, split), exist_ok=True)
        for pid in pids:
            for cam in cams:
                frame += 1
                colour = np.array([(pid * 41) % 256, (pid * 97) % 256, (pid * 13) % 256])
                img = np.clip(colour + rng.normal(0, 30, (32, 16, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(img).save(os.path.join(base, split, f"{pid:04d}_c{cam}_f{frame:07d}.jpg"))
    return root


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    base = tmp_path_factory.mktemp("test_sets")
    data = str(base / "data")
    write_market(data)
    write_duke(data)
    opts = [*SMALL, "DATASETS.ROOT_DIR", data]
    cfg = load_config(CONFIG, opts + ["OUTPUT_DIR", str(base / "unused")])
    torch.manual_seed(0)
    model = build_model(cfg, 8)
    model.train()
    with torch.no_grad():  # non-trivial BN statistics
        model(torch.randn(8, 3, 64, 32))
    ckpt = str(base / "model.pt")
    torch.save({"model": model.state_dict()}, ckpt)
    return base, opts + ["TEST.WEIGHT", ckpt]


def blocks(stdout):
    """{dataset: [the block's lines]} of every 'Test Results - ... - <dataset>' block."""
    out, current = {}, None
    for line in stdout.splitlines():
        if "Test Results - " in line:
            current = line.rsplit(" - ", 1)[1].strip()
            out[current] = []
        elif current is not None and ("mAP:" in line or "Rank-" in line or "mINP:" in line):
            out[current].append(line.split(": ", 1)[1])
    return out


def test_two_test_sets_equal_two_separate_runs(setup):
    base, opts = setup
    both = str(base / "both")
    r = run_tool("test.py", "--config_file", CONFIG, *opts, "DATASETS.NAMES", "market1501", "DATASETS.TEST_NAMES",
                 "('market1501', 'dukemtmc')", "OUTPUT_DIR", both, "TEST.ROC", "yes")
    assert r.returncode == 0, r.stderr[-3000:]
    found = blocks(r.stdout)
    assert list(found) == ["market1501", "dukemtmc"]
    entries = json.load(open(os.path.join(both, "metrics.json")))
    assert [e["dataset"] for e in entries] == ["market1501", "dukemtmc"]
    for name in ("market1501", "dukemtmc"):
        assert os.path.isfile(os.path.join(both, f"ranked_test_{name}.csv"))
        assert os.path.isfile(os.path.join(both, f"roc_test_{name}.png"))
    for entry in entries:
        alone = str(base / entry["dataset"])
        r = run_tool("test.py", "--config_file", CONFIG, *opts, "DATASETS.NAMES", entry["dataset"], "OUTPUT_DIR",
                     alone, "TEST.ROC", "yes")
        assert r.returncode == 0, r.stderr[-3000:]
        assert blocks(r.stdout) == {entry["dataset"]: found[entry["dataset"]]}
        single = json.load(open(os.path.join(alone, "metrics.json")))
        assert len(single) == 1
        for key in ("mAP", "mINP", "cmc", "num_valid_queries", "roc"):
            assert single[0][key] == entry[key], key
        assert os.path.isfile(os.path.join(alone, "ranked_test.csv"))
        assert os.path.isfile(os.path.join(alone, "roc_test.png"))


def features_and_records(opts, tmp_path, *extra):
    """The evaluator's query/gallery features of the Market tree, and its records."""
    cfg = load_config(CONFIG, opts + ["DATASETS.NAMES", "market1501", "OUTPUT_DIR", str(tmp_path), *extra])
    test_set = make_val_loaders(cfg)[0]
    model = build_inference_model(cfg, 1, torch.device("cpu"))
    evaluator = create_evaluator(cfg, model, torch.device("cpu"), len(test_set.dataset.query))
    result = evaluate_test_sets(cfg, evaluator, [test_set], "Test Results", split="test")[0]
    return result, evaluator.reid_metric.features, test_set.dataset, cfg


def test_cross_camera_yes_is_the_market_rule_and_no_is_camera_free(setup, tmp_path):
    _, opts = setup
    result, (qf, gf), ds, _ = features_and_records(opts, tmp_path / "yes")
    dist = torch.cdist(qf.double(), gf.double()).pow(2).numpy()
    arr = lambda recs, k: np.array([r[k] for r in recs])  # noqa: E731
    labels = arr(ds.query, 1), arr(ds.gallery, 1), arr(ds.query, 2), arr(ds.gallery, 2)
    mAP, rank1 = plain_map_cmc(dist, *labels)
    assert (result.mAP, result.rank(1)) == pytest.approx((mAP, rank1), abs=1e-6)
    free, _, _, _ = features_and_records(opts, tmp_path / "no", "TEST.CROSS_CAMERA", "no")
    # camera-free, plainly: no image is dropped (query and gallery are different files)
    mAP, rank1 = plain_map_cmc(dist, labels[0], labels[1], np.zeros(len(ds.query)), np.ones(len(ds.gallery)))
    assert (free.mAP, free.rank(1)) == pytest.approx((mAP, rank1), abs=1e-6)
    assert free.num_valid_queries == len(ds.query)


@pytest.mark.parametrize("rerank", ["no", "yes"])
def test_ranked_csv_lists_the_ranking_worst_first(setup, tmp_path, rerank):
    _, opts = setup
    result, (qf, gf), ds, cfg = features_and_records(opts, tmp_path, "TEST.VISUALIZE_ORDER", "worst",
                                                     "TEST.RANKED_LIST_TOPK", "4", "TEST.RE_RANKING", rerank,
                                                     "TEST.VISUALIZE", "3")
    if rerank == "yes":  # re_ranking itself is checked against the published algorithm in test_rerank.py
        dist = re_ranking(qf, gf, k1=20, k2=6, lambda_value=0.3).numpy()
    else:
        dist = torch.cdist(qf.double(), gf.double()).pow(2).numpy()
    assert os.path.isfile(os.path.join(cfg.OUTPUT_DIR, "ranked_test.png"))
    with open(os.path.join(cfg.OUTPUT_DIR, "ranked_test.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(ds.query)
    aps = [float(r["ap"]) for r in rows]
    assert aps == sorted(aps)  # lowest AP first
    by_name = {os.path.basename(p): (i, pid, cam) for i, (p, pid, cam) in enumerate(ds.query)}
    g_names = [os.path.basename(p) for p, _, _ in ds.gallery]
    for row in rows:
        i, pid, cam = by_name[os.path.basename(row["query"])]
        assert float(row["ap"]) == pytest.approx(result.ap[i], abs=1e-6)
        kept = [j for j in range(len(ds.gallery)) if not (ds.gallery[j][1] == pid and ds.gallery[j][2] == cam)]
        expected = sorted(kept, key=lambda j: (dist[i, j], j))[:4]
        assert [os.path.basename(row[f"name{k}"]) for k in range(1, 5)] == [g_names[j] for j in expected]
        assert [int(row[f"id{k}"]) for k in range(1, 5)] == [ds.gallery[j][1] for j in expected]
        np.testing.assert_allclose([float(row[f"distance{k}"]) for k in range(1, 5)], dist[i, expected], atol=1e-5)


def test_csv_without_cameras(setup, tmp_path):
    base, opts = setup
    market = os.path.join(base, "data", "market1501")
    lines = ["path,pid,split"]
    for split, folder in (("train", "bounding_box_train"), ("query", "query"), ("gallery", "bounding_box_test")):
        for name in sorted(os.listdir(os.path.join(market, folder))):
            if name.endswith(".jpg") and not name.startswith("-1"):
                lines.append(f"{os.path.join(market, folder, name)},{int(name[:4])},{split}")
    (tmp_path / "list.csv").write_text("\n".join(lines) + "\n")
    args = ["--config_file", CONFIG, *opts, "DATASETS.NAMES", "csv", "DATASETS.ROOT_DIR", str(tmp_path / "list.csv"),
            "OUTPUT_DIR", str(tmp_path / "out")]
    r = run_tool("test.py", *args)
    assert r.returncode == 2 and "TEST.CROSS_CAMERA 'no'" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_tool("test.py", *args, "TEST.CROSS_CAMERA", "no")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Test Results - " in r.stdout and "mAP:" in r.stdout


@pytest.mark.parametrize("opts, needles", [
    (["DATASETS.TEST_NAMES", "('market1501', 'market')"], ("DATASETS.TEST_NAMES", "market1501, synthetic")),
    (["TEST.REPEATS", "0"], ("TEST.REPEATS", "must lie in [1, inf)")),
])
def test_bad_input_is_one_line_and_keeps_the_output(setup, tmp_path, opts, needles):
    _, base_opts = setup
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text("[]")
    (out / "test_log.txt").write_text("earlier\n")
    r = run_tool("test.py", "--config_file", CONFIG, *base_opts, "OUTPUT_DIR", str(out), *opts)
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and all(n in r.stderr for n in needles), r.stderr
    assert (out / "metrics.json").read_text() == "[]" and (out / "test_log.txt").read_text() == "earlier\n"


def test_train_on_the_union_and_test_on_each_member(setup, tmp_path):
    _, opts = setup
    out = str(tmp_path / "run")
    r = run_tool("train.py", "--config_file", CONFIG, *opts, "DATASETS.NAMES", "('market1501', 'dukemtmc')",
                 "SOLVER.MAX_EPOCHS", "1", "OUTPUT_DIR", out, "TEST.VISUALIZE", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    entries = json.load(open(os.path.join(out, "metrics.json")))
    assert [(e["dataset"], e["epoch"]) for e in entries] == [("market1501", 1), ("dukemtmc", 1)]
    assert "Validation Results - Epoch: 1 - market1501" in r.stdout
    assert "Validation Results - Epoch: 1 - dukemtmc" in r.stdout
    for name in ("curves.png", "ranked_final_market1501.png", "ranked_final_dukemtmc.csv"):
        assert os.path.isfile(os.path.join(out, name)), name
    # curves.png draws one pair of lines per test set from these; model_best.pt follows the first set
    assert {k: [e["mAP"] for e in v] for k, v in RunDir(out).evaluations_by_set().items()} == {
        e["dataset"]: [e["mAP"]] for e in entries}
    assert RunDir(out).history()[1] == [entries[0]]
