"""VehicleID: the parser on a tree in the real layout, the seeded one-gallery-image-per-vehicle draw, the
repeated protocol on a hand-made case, and tools/test.py on it."""
import json
import os

import numpy as np
import pytest
import torch
from fixtures_datasets import write_vehicleid
from run_helpers import SMALL, run_tool

from reid_gc.config import load_config
from reid_gc.data.datasets import init_dataset
from reid_gc.data.datasets.vehicleid import one_gallery_per_id
from reid_gc.evaluation.repeated import evaluate_splits
from reid_gc.modeling import build_model
from reid_gc.utils.errors import UserError

CONFIG = "configs/softmax_triplet.yml"


def test_parser_on_the_real_layout(tmp_path):
    root = write_vehicleid(str(tmp_path))
    ds = init_dataset("vehicleid", root, test_size=800)
    image_dir = os.path.join(root, "VehicleID_V1.0", "image")
    assert ds.num_train_pids == 6 and ds.num_train_imgs == 18
    assert sorted({pid for _, pid, _ in ds.train}) == list(range(6))  # relabelled
    assert len(ds.test) == 15 and ds.test[0] == (os.path.join(image_dir, "0000019.jpg"), 100, 0)
    # draw 0: one gallery image per vehicle, the other two are queries; no cameras
    assert sorted(pid for _, pid, _ in ds.gallery) == list(range(100, 105))
    assert len(ds.query) == 10 and {cam for _, _, cam in ds.query + ds.gallery + ds.train} == {0}
    assert sorted(ds.query + ds.gallery) == sorted(ds.test)
    assert all(os.path.isfile(p) for p, _, _ in ds.train + ds.test)


def test_the_draw_is_a_pure_function_of_the_seed():
    rng = np.random.default_rng(1)
    pids = rng.integers(0, 30, 200)
    names = [f"{i:07d}.jpg" for i in rng.permutation(200)]
    draws = [one_gallery_per_id(pids, names, seed) for seed in range(5)]
    for seed, gallery in enumerate(draws):
        assert np.array_equal(gallery, one_gallery_per_id(pids, names, seed))
        assert sorted(pids[gallery]) == sorted(set(pids))  # exactly one image per id
        # the same pairs in another order draw the same images
        perm = rng.permutation(200)
        again = one_gallery_per_id(pids[perm], [names[i] for i in perm], seed)
        assert {names[i] for i in perm[again]} == {names[i] for i in np.flatnonzero(gallery)}
    assert len({tuple(np.flatnonzero(g)) for g in draws}) > 1  # seeds do draw differently


def test_repeated_protocol_on_a_hand_made_case():
    # 1-D features: images 0..6 are vehicles 1..7 at 0, 10, ..., 60; images 7, 8, 9 are vehicles 1, 3, 2 at
    # 1, 44, 36.
    x = [0, 10, 20, 30, 40, 50, 60, 1, 44, 36]
    pids = [1, 2, 3, 4, 5, 6, 7, 1, 3, 2]
    feats = torch.tensor(x, dtype=torch.float64)[:, None]
    # Draw A: gallery 0..6, queries 7, 8, 9. Query at 1 finds vehicle 1 first (rank 1); query at 44 sees 40, 50,
    # 30, 60 then 20 (rank 5); query at 36 sees 40, 30, 50, 20, 60 then 10 (rank 6).
    # Draw B: gallery 7 (v1 at 1), 9 (v2 at 36), 8 (v3 at 44), 3..6; queries 0, 1, 2. Query at 0 finds 1 (rank 1);
    # query at 10 sees 1, 30, then 36 (rank 3); query at 20 sees 30, 36, 1, 40, then 44 (rank 5).
    splits = [([7, 8, 9], [0, 1, 2, 3, 4, 5, 6]), ([0, 1, 2], [7, 9, 8, 3, 4, 5, 6])]
    result = evaluate_splits(feats, np.array(pids), splits, max_rank=7)
    rank1, rank5 = [1 / 3, 1 / 3], [2 / 3, 1.0]
    maps = [(1 + 1 / 5 + 1 / 6) / 3, (1 + 1 / 3 + 1 / 5) / 3]
    assert result.repeats == 2
    assert result.rank(1) == pytest.approx(np.mean(rank1)) and result.rank(5) == pytest.approx(np.mean(rank5))
    assert result.mAP == pytest.approx(np.mean(maps))
    assert result.std["rank1"] == pytest.approx(0.0) and result.std["rank5"] == pytest.approx(1 / 6)
    assert result.std["mAP"] == pytest.approx(abs(maps[0] - maps[1]) / 2)
    np.testing.assert_allclose(result.ap, [1, 1 / 5, 1 / 6])  # per-query AP of the first draw


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    base = tmp_path_factory.mktemp("vehicleid")
    root = write_vehicleid(str(base / "data"))
    cfg = load_config(CONFIG, [*SMALL, "OUTPUT_DIR", str(base / "unused")])
    torch.manual_seed(0)
    model = build_model(cfg, 6)
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, 64, 32))
    ckpt = str(base / "model.pt")
    torch.save({"model": model.state_dict()}, ckpt)
    return base, [*SMALL, "DATASETS.NAMES", "vehicleid", "DATASETS.ROOT_DIR", root, "TEST.WEIGHT", ckpt]


def test_tools_test_averages_the_draws(tree):
    base, opts = tree
    out = str(base / "out")
    r = run_tool("test.py", "--config_file", CONFIG, *opts, "TEST.REPEATS", "3", "OUTPUT_DIR", out,
                 "TEST.CROSS_CAMERA", "yes", "TEST.ROC", "yes")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "Test Results - " in r.stdout and " ± " in r.stdout and "over 3 random query/gallery splits" in r.stdout
    entry = json.load(open(os.path.join(out, "metrics.json")))[-1]
    assert entry["dataset"] == "vehicleid" and entry["repeats"] == 3
    assert set(entry["std"]) == {"mAP", "mINP", "rank1", "rank5", "rank10"}
    assert entry["num_queries"] == 10 and entry["num_valid_queries"] == 10  # camera-free although 'yes'
    assert 0 <= entry["roc"]["auc"] <= 1
    assert os.path.isfile(os.path.join(out, "ranked_test.csv")) and os.path.isfile(os.path.join(out, "roc_test.png"))


def test_missing_test_list_is_one_line_and_keeps_the_output(tree, tmp_path):
    _, opts = tree
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text("[1]")
    r = run_tool("test.py", "--config_file", CONFIG, *opts, "DATASETS.VEHICLEID.TEST_SIZE", "1600",
                 "OUTPUT_DIR", str(out))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and "test_list_1600.txt" in r.stderr, r.stderr
    assert (out / "metrics.json").read_text() == "[1]" and sorted(os.listdir(out)) == ["metrics.json", "test_log.txt"]


def test_malformed_list_line(tmp_path):
    root = write_vehicleid(str(tmp_path))
    with open(os.path.join(root, "VehicleID_V1.0", "train_test_split", "train_list.txt"), "a") as f:
        f.write("0000099\n")
    with pytest.raises(UserError, match="line 19: expected '<image name> <vehicle id>'"):
        init_dataset("vehicleid", root)
