"""Every GC optimizer trains through tools/train.py: the loss falls on the synthetic dataset."""
import importlib
import json
import os

import pytest
from run_helpers import ROOT, SMALL, TINY_SYNTHETIC

from reid_gc.optim import optimizer_names

FIXED = [n for n in optimizer_names() if "<" not in n]
# Learning rates that suit each rule on a network trained from scratch.
LR = {"SGD": "0.02", "Adam": "0.001", "AdamW": "0.001", "Adagrad": "0.01"}


def load_train_tool():
    """The module behind tools/train.py and `reid-gc train`."""
    return importlib.import_module("reid_gc.cli.train")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("synthetic"))


def test_the_family_is_complete():
    assert len(FIXED) == 16


@pytest.mark.parametrize("name", FIXED + ["RAdam_GCC"])
def test_training_with_each_optimizer_lowers_the_loss(name, data_root, tmp_path):
    family = name.split("_")[0].rstrip("W") if not name.startswith("AdamW") else "AdamW"
    lr = LR.get(family, "0.001")
    out = str(tmp_path / "run")
    load_train_tool().main(["--config_file", os.path.join(ROOT, "configs", "softmax_triplet.yml"), *SMALL,
                            *TINY_SYNTHETIC, "DATASETS.ROOT_DIR", data_root, "OUTPUT_DIR", out,
                            "SOLVER.OPTIMIZER_NAME", name, "SOLVER.BASE_LR", lr, "SOLVER.MAX_EPOCHS", "4",
                            "SOLVER.EVAL_PERIOD", "4", "SOLVER.CHECKPOINT_PERIOD", "4", "SOLVER.WARMUP_ITERS", "0",
                            "INPUT.SIZE_TRAIN", "[32, 16]", "INPUT.SIZE_TEST", "[32, 16]"])
    epochs = json.load(open(os.path.join(out, "epochs.json")))
    losses = [e["loss"] for e in epochs]
    assert len(losses) == 4
    assert losses[-1] < losses[0], losses
