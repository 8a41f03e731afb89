"""The strong baseline's own command lines on a generated Market-1501 tree, through tools/train.py and
tools/test.py as a user runs them (subprocesses), and the CLIs' one-line user errors."""
import json
import os

import pytest
from run_helpers import SMALL, run_tool, write_market


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    return write_market(str(tmp_path_factory.mktemp("data")))


@pytest.fixture(scope="module")
def trained(market, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("out") / "market")
    r = run_tool("train.py", "--config_file=configs/softmax_triplet_with_center.yml", "MODEL.DEVICE_ID", "('0')",
                 "DATASETS.NAMES", "('market1501')", "DATASETS.ROOT_DIR", f"('{market}')", "OUTPUT_DIR",
                 f"('{out}')", "SOLVER.OPTIMIZER_NAME", "('SGD')", "SOLVER.BASE_LR", "0.01", *SMALL)
    return r, out


def reference_evaluation(checkpoint, config):
    """(mAP, Rank-1) of a checkpoint on the Market-1501 tree, written out simply: PIL bilinear resize,
    normalisation, the model's eval feature, L2 norm, Euclidean distance, and per query the gallery without
    its own camera's images of the same id (reid-strong-baseline's protocol)."""
    import numpy as np
    import torch
    from PIL import Image

    from reid_gc.config import load_config
    from reid_gc.modeling import build_model

    cfg = load_config(config)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["model"]
    model = build_model(cfg, state["classifier.weight"].shape[0], pretrained=False)
    model.load_state_dict(state)
    model.eval()
    h, w = cfg.INPUT.SIZE_TEST
    mean, std = np.array(cfg.INPUT.PIXEL_MEAN), np.array(cfg.INPUT.PIXEL_STD)

    def split(name):
        folder = os.path.join(cfg.DATASETS.ROOT_DIR, "market1501", name)
        files = sorted(f for f in os.listdir(folder) if f.endswith(".jpg") and not f.startswith("-1"))
        x = np.stack([(np.asarray(Image.open(os.path.join(folder, f)).convert("RGB").resize((w, h), Image.BILINEAR))
                       / 255.0 - mean) / std for f in files])
        with torch.no_grad():
            feats = torch.nn.functional.normalize(model(torch.tensor(x, dtype=torch.float32).permute(0, 3, 1, 2)))
        ids = [(int(f.split("_")[0]), int(f.split("_")[1][1])) for f in files]
        return feats.double(), ids

    qf, q_ids = split("query")
    gf, g_ids = split("bounding_box_test")
    dist = torch.cdist(qf, gf)
    aps, top1 = [], []
    for i, (pid, cam) in enumerate(q_ids):
        order = [j for j in dist[i].argsort().tolist() if not (g_ids[j][0] == pid and g_ids[j][1] == cam)]
        hits = [g_ids[j][0] == pid for j in order]
        if not any(hits):
            continue
        found, precisions = 0, []
        for rank, hit in enumerate(hits, 1):
            if hit:
                found += 1
                precisions.append(found / rank)
        aps.append(sum(precisions) / found)
        top1.append(float(hits[0]))
    return sum(aps) / len(aps), sum(top1) / len(top1)


def test_strong_baseline_command_line_trains_and_evaluates(trained):
    r, out = trained
    assert r.returncode == 0, r.stderr[-3000:]
    log = open(os.path.join(out, "log.txt")).read()
    for line in ("mAP: ", "CMC curve, Rank-1  :", "CMC curve, Rank-5  :", "CMC curve, Rank-10 :",
                 "Epoch[1] Iteration[2/", "Validation Results - Epoch: 2"):
        assert line in log
    # the dataset table: 8 train ids relabelled, 6 query ids, junk dropped, distractors kept
    assert "train" in log and "query" in log and "gallery" in log
    history = json.load(open(os.path.join(out, "metrics.json")))
    assert [h["epoch"] for h in history] == [1, 2]
    for h in history:
        assert len(h["cmc"]) == 50 and h["num_valid_queries"] == 18
    # the epoch-2 figures, recomputed from checkpoint_2.pt by the simple reference below
    ref_map, ref_rank1 = reference_evaluation(os.path.join(out, "checkpoint_2.pt"), os.path.join(out, "config.yml"))
    assert history[1]["mAP"] == pytest.approx(ref_map, abs=1e-4)
    assert history[1]["rank1"] == pytest.approx(ref_rank1, abs=1e-6)
    assert os.path.isfile(os.path.join(out, "config.yml"))
    assert os.path.isfile(os.path.join(out, "checkpoint_2.pt"))
    assert os.path.isfile(os.path.join(out, "model_best.pt"))
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]


def test_test_tool_evaluates_a_saved_checkpoint(trained, market):
    _, out = trained
    r = run_tool("test.py", "--config_file", "configs/softmax_triplet_with_center.yml", "DATASETS.ROOT_DIR",
                 market, "OUTPUT_DIR", out, "TEST.WEIGHT", os.path.join(out, "checkpoint_2.pt"), *SMALL)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "mAP: " in r.stdout and "CMC curve, Rank-1  :" in r.stdout
    history = json.load(open(os.path.join(out, "metrics.json")))
    assert history[-1]["source"] == "test"
    # the same weights evaluated after training and by test.py give the same numbers
    assert history[-1]["mAP"] == pytest.approx(history[1]["mAP"], abs=1e-6)


@pytest.mark.parametrize("args, message", [
    (["DATASETS.ROOT_DIR", "/nonexistent"], "expected"),
    (["SOLVER.OPTIMIZER_NAME", "SGDD"], "SOLVER.OPTIMIZER_NAME"),
    (["SOLVER.BASE_LRR", "0.1"], "unknown config key SOLVER.BASE_LRR"),
])
def test_user_errors_exit_2_with_one_line(args, message, market, tmp_path):
    base = ["DATASETS.ROOT_DIR", market, "OUTPUT_DIR", str(tmp_path / "o"), *SMALL]
    r = run_tool("train.py", "--config_file", "configs/softmax_triplet.yml", *base, *args)
    assert r.returncode == 2, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_undecodable_image_is_named(market, tmp_path):
    import shutil
    data = tmp_path / "d"
    shutil.copytree(market, data)
    train = data / "market1501" / "bounding_box_train"
    bad = sorted(os.listdir(train))[0]
    (train / bad).write_bytes(b"not a jpeg")
    r = run_tool("train.py", "--config_file", "configs/softmax_triplet.yml", "DATASETS.ROOT_DIR", str(data),
                 "OUTPUT_DIR", str(tmp_path / "o"), *SMALL)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and bad in lines[0] and "cannot be decoded" in lines[0]


def snapshot(folder):
    """Every file below folder -> its bytes."""
    found = {}
    for dirpath, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(dirpath, name)
            found[os.path.relpath(path, folder)] = open(path, "rb").read()
    return found


def test_a_run_that_fails_to_start_leaves_the_previous_run_alone_and_a_fresh_run_archives_it(
        trained, market, tmp_path):
    import shutil
    _, out = trained
    run_dir = str(tmp_path / "run")
    shutil.copytree(out, run_dir)
    before = snapshot(run_dir)
    base = ["--config_file", "configs/softmax_triplet_with_center.yml", "DATASETS.ROOT_DIR", market,
            "OUTPUT_DIR", run_dir, *SMALL]
    # fails after the dataset is read, while building the model: nothing in OUTPUT_DIR may change
    r = run_tool("train.py", *base, "MODEL.PRETRAIN_CHOICE", "imagenet", "MODEL.PRETRAIN_PATH",
                 str(tmp_path / "missing.pth"))
    assert r.returncode == 2 and "MODEL.PRETRAIN_PATH" in r.stderr
    assert snapshot(run_dir) == before

    # a fresh run that starts moves the previous run, byte for byte, into archive/<time>/
    r = run_tool("train.py", *base, "SOLVER.MAX_EPOCHS", "1")
    assert r.returncode == 0, r.stderr[-3000:]
    archives = os.listdir(os.path.join(run_dir, "archive"))
    assert len(archives) == 1
    assert snapshot(os.path.join(run_dir, "archive", archives[0])) == before
    log = open(os.path.join(run_dir, "log.txt")).read()
    assert "moved the previous run's files" in log and "Validation Results - Epoch: 2" not in log
    assert log.index("running with config file") < log.index("Dataset statistics") < log.index("Epoch[1]")
    assert [h["epoch"] for h in json.load(open(os.path.join(run_dir, "metrics.json")))] == [1]
