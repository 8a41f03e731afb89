"""scripts/veri.sh (through scripts/_dataset.sh, as every per-dataset script) on a generated VeRi-776 tree and
scripts/vehicleid.sh (which adds its medium and large test lists) on a generated VehicleID tree: both recipes
train, and each run is tested on its last epoch's checkpoint (never on model_best.pt, which is selected on the
test set); configs/veri.yml is the center-loss recipe at 256x256."""
import json
import os
import subprocess
import sys

import pytest
from fixtures_datasets import make_files, write_vehicleid
from run_helpers import ROOT

from reid_gc.config import load_config

TINY = ["MODEL.NAME", "resnet18", "MODEL.PRETRAIN_CHOICE", "scratch", "MODEL.DEVICE", "cpu", "SOLVER.MAX_EPOCHS", "2",
        "SOLVER.IMS_PER_BATCH", "8", "DATALOADER.NUM_INSTANCE", "4", "DATALOADER.NUM_WORKERS", "0",
        "SOLVER.EVAL_PERIOD", "2", "SOLVER.CHECKPOINT_PERIOD", "1", "TEST.IMS_PER_BATCH", "16",
        "INPUT.SIZE_TRAIN", "[32, 32]", "INPUT.SIZE_TEST", "[32, 32]"]


def make_veri(root):
    base = os.path.join(root, "veri")
    make_files(os.path.join(base, "image_train"),
               [f"{v:04d}_c{c:03d}_{1000 * v + c:08d}_{k}.jpg" for v in (1, 2, 3, 4) for c in (1, 2) for k in (0, 1)])
    make_files(os.path.join(base, "image_query"), ["0005_c003_00030600_0.jpg", "0006_c004_00030610_0.jpg"])
    make_files(os.path.join(base, "image_test"), ["0005_c005_00031855_1.jpg", "0006_c006_00040505_0.jpg",
                                                  "0007_c007_00040000_0.jpg"])
    return root


def test_veri_config_is_the_center_loss_recipe_at_256x256():
    veri = load_config(os.path.join(ROOT, "configs", "veri.yml"))
    market = load_config(os.path.join(ROOT, "configs", "softmax_triplet_with_center.yml"))
    assert list(veri.INPUT.SIZE_TRAIN) == [256, 256] and list(veri.INPUT.SIZE_TEST) == [256, 256]
    assert tuple(veri.DATASETS.NAMES) == ("veri",) and veri.OUTPUT_DIR == "out/veri"
    for cfg in (veri, market):
        cfg.defrost()
        cfg.INPUT.SIZE_TRAIN = cfg.INPUT.SIZE_TEST = [0, 0]
        cfg.DATASETS.NAMES, cfg.OUTPUT_DIR = (), ""
    assert veri == market


@pytest.mark.slow
def test_veri_script_trains_both_recipes_and_tests_the_last_epoch(tmp_path):
    data, out = make_veri(str(tmp_path / "data")), str(tmp_path / "out")
    r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "veri.sh"), data, out, *TINY], cwd=ROOT,
                       capture_output=True, text=True, env=dict(os.environ, PYTHON=sys.executable), timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    for run in ("sgd_gcc", "adam"):
        folder = os.path.join(out, "veri", run)
        tests = [e for e in json.load(open(os.path.join(folder, "metrics.json"))) if e["source"] == "test"]
        assert [(e["weight"], e["re_ranking"]) for e in tests] == [
            (os.path.join(folder, "checkpoint_2.pt"), False), (os.path.join(folder, "checkpoint_2.pt"), True)]
    assert "SGD_GCC" in open(os.path.join(out, "veri", "sgd_gcc", "config.yml")).read()


@pytest.mark.slow
def test_vehicleid_script_tests_every_list_on_the_last_epoch(tmp_path):
    data = write_vehicleid(str(tmp_path / "data"), lists=(800, 1600, 2400))
    out = str(tmp_path / "out")
    r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "vehicleid.sh"), data, out, *TINY, "TEST.REPEATS", "2"],
                       cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, PYTHON=sys.executable),
                       timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    for run in ("sgd_gcc", "adam"):
        folder = os.path.join(out, "vehicleid", run)
        tests = [e for e in json.load(open(os.path.join(folder, "metrics.json"))) if e["source"] == "test"]
        last = os.path.join(folder, "checkpoint_2.pt")
        assert [(e["weight"], e["re_ranking"], e["num_queries"]) for e in tests] == [
            (last, False, 10), (last, True, 10), (last, False, 10), (last, False, 10)]
