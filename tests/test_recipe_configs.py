"""The shipped strong-baseline configs equal reid-strong-baseline's files value for value.

Its effective values are stated here by hand: its config/defaults.py, then each of its configs/*.yml on
top (michuanhaohao/reid-strong-baseline, master). Only paths are left out (MODEL.PRETRAIN_PATH, its
/home/haoluo/.torch/models/resnet50-19c8e357.pth: ours is '' = the torch hub cache; OUTPUT_DIR; TEST.WEIGHT,
a "path" placeholder in its files) and MODEL.DEVICE_ID (a GPU number).
"""
import os

import pytest

from reid_gc.config import load_config

CONFIGS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")

THEIR_DEFAULTS = {
    "MODEL.DEVICE": "cuda", "MODEL.NAME": "resnet50", "MODEL.LAST_STRIDE": 1, "MODEL.PRETRAIN_CHOICE": "imagenet",
    "MODEL.NECK": "bnneck", "MODEL.IF_WITH_CENTER": "no", "MODEL.METRIC_LOSS_TYPE": "triplet",
    "MODEL.IF_LABELSMOOTH": "on",
    "INPUT.SIZE_TRAIN": [384, 128], "INPUT.SIZE_TEST": [384, 128], "INPUT.PROB": 0.5, "INPUT.RE_PROB": 0.5,
    "INPUT.PIXEL_MEAN": [0.485, 0.456, 0.406], "INPUT.PIXEL_STD": [0.229, 0.224, 0.225], "INPUT.PADDING": 10,
    "DATASETS.NAMES": ("market1501",), "DATASETS.ROOT_DIR": "./data",
    "DATALOADER.NUM_WORKERS": 8, "DATALOADER.SAMPLER": "softmax", "DATALOADER.NUM_INSTANCE": 16,
    "SOLVER.OPTIMIZER_NAME": "Adam", "SOLVER.MAX_EPOCHS": 50, "SOLVER.BASE_LR": 3e-4, "SOLVER.BIAS_LR_FACTOR": 2,
    "SOLVER.MOMENTUM": 0.9, "SOLVER.MARGIN": 0.3, "SOLVER.CLUSTER_MARGIN": 0.3, "SOLVER.CENTER_LR": 0.5,
    "SOLVER.CENTER_LOSS_WEIGHT": 0.0005, "SOLVER.RANGE_K": 2, "SOLVER.RANGE_MARGIN": 0.3, "SOLVER.RANGE_ALPHA": 0,
    "SOLVER.RANGE_BETA": 1, "SOLVER.RANGE_LOSS_WEIGHT": 1, "SOLVER.WEIGHT_DECAY": 0.0005,
    "SOLVER.WEIGHT_DECAY_BIAS": 0.0, "SOLVER.GAMMA": 0.1, "SOLVER.STEPS": [30, 55], "SOLVER.WARMUP_FACTOR": 1 / 3,
    "SOLVER.WARMUP_ITERS": 500, "SOLVER.WARMUP_METHOD": "linear", "SOLVER.CHECKPOINT_PERIOD": 50,
    "SOLVER.LOG_PERIOD": 100, "SOLVER.EVAL_PERIOD": 50, "SOLVER.IMS_PER_BATCH": 64,
    "TEST.IMS_PER_BATCH": 128, "TEST.RE_RANKING": "no", "TEST.NECK_FEAT": "after", "TEST.FEAT_NORM": "yes",
}

# What each of its yml files sets (paths left out, see above).
_TRICKS = {
    "INPUT.SIZE_TRAIN": [256, 128], "INPUT.SIZE_TEST": [256, 128], "INPUT.PROB": 0.5, "INPUT.RE_PROB": 0.5,
    "INPUT.PADDING": 10, "DATASETS.NAMES": ("market1501",), "DATALOADER.SAMPLER": "softmax_triplet",
    "DATALOADER.NUM_INSTANCE": 4, "DATALOADER.NUM_WORKERS": 8, "SOLVER.OPTIMIZER_NAME": "Adam",
    "SOLVER.MAX_EPOCHS": 120, "SOLVER.BASE_LR": 0.00035, "SOLVER.CLUSTER_MARGIN": 0.3, "SOLVER.CENTER_LR": 0.5,
    "SOLVER.CENTER_LOSS_WEIGHT": 0.0005, "SOLVER.RANGE_K": 2, "SOLVER.RANGE_MARGIN": 0.3, "SOLVER.RANGE_ALPHA": 0,
    "SOLVER.RANGE_BETA": 1, "SOLVER.RANGE_LOSS_WEIGHT": 1, "SOLVER.BIAS_LR_FACTOR": 1, "SOLVER.WEIGHT_DECAY": 0.0005,
    "SOLVER.WEIGHT_DECAY_BIAS": 0.0005, "SOLVER.IMS_PER_BATCH": 64, "SOLVER.STEPS": [40, 70], "SOLVER.GAMMA": 0.1,
    "SOLVER.WARMUP_FACTOR": 0.01, "SOLVER.WARMUP_ITERS": 10, "SOLVER.WARMUP_METHOD": "linear",
    "SOLVER.CHECKPOINT_PERIOD": 40, "SOLVER.LOG_PERIOD": 20, "SOLVER.EVAL_PERIOD": 40, "TEST.IMS_PER_BATCH": 128,
    "TEST.RE_RANKING": "no", "TEST.NECK_FEAT": "after", "TEST.FEAT_NORM": "yes",
}
THEIR_FILES = {
    "softmax.yml": {
        "INPUT.SIZE_TRAIN": [256, 128], "INPUT.SIZE_TEST": [256, 128], "INPUT.PROB": 0.5, "INPUT.RE_PROB": 0.5,
        "INPUT.PADDING": 10, "DATASETS.NAMES": ("market1501",), "DATALOADER.SAMPLER": "softmax",
        "DATALOADER.NUM_WORKERS": 8, "SOLVER.OPTIMIZER_NAME": "Adam", "SOLVER.MAX_EPOCHS": 120,
        "SOLVER.BASE_LR": 0.00035, "SOLVER.BIAS_LR_FACTOR": 1, "SOLVER.WEIGHT_DECAY": 0.0005,
        "SOLVER.WEIGHT_DECAY_BIAS": 0.0005, "SOLVER.IMS_PER_BATCH": 64, "SOLVER.STEPS": [30, 55],
        "SOLVER.GAMMA": 0.1, "SOLVER.WARMUP_FACTOR": 0.01, "SOLVER.WARMUP_ITERS": 5, "SOLVER.WARMUP_METHOD": "linear",
        "SOLVER.CHECKPOINT_PERIOD": 20, "SOLVER.LOG_PERIOD": 20, "SOLVER.EVAL_PERIOD": 20, "TEST.IMS_PER_BATCH": 128,
    },
    "softmax_triplet.yml": {
        "MODEL.PRETRAIN_CHOICE": "imagenet", "MODEL.METRIC_LOSS_TYPE": "triplet", "MODEL.IF_LABELSMOOTH": "on",
        "MODEL.IF_WITH_CENTER": "no", **_TRICKS,
    },
    "softmax_triplet_with_center.yml": {
        "MODEL.PRETRAIN_CHOICE": "imagenet", "MODEL.METRIC_LOSS_TYPE": "triplet_center",
        "MODEL.IF_LABELSMOOTH": "on", "MODEL.IF_WITH_CENTER": "yes", **_TRICKS,
    },
    "baseline.yml": {
        "MODEL.PRETRAIN_CHOICE": "imagenet", "MODEL.LAST_STRIDE": 2, "MODEL.NECK": "no",
        "MODEL.METRIC_LOSS_TYPE": "triplet", "MODEL.IF_LABELSMOOTH": "off", "MODEL.IF_WITH_CENTER": "no",
        **_TRICKS, "INPUT.RE_PROB": 0.0, "SOLVER.WARMUP_ITERS": 0,
    },
}


def _value(cfg, key):
    node = cfg
    for part in key.split("."):
        node = node[part]
    return node


def _same(ours, theirs):
    if isinstance(theirs, float) or isinstance(ours, float):
        return ours == pytest.approx(theirs, rel=1e-12, abs=0)
    if isinstance(theirs, (list, tuple)):
        return [*ours] == [*theirs]
    return ours == theirs


@pytest.mark.parametrize("name", sorted(THEIR_FILES))
def test_shipped_config_equals_reid_strong_baselines_file(name):
    cfg = load_config(os.path.join(CONFIGS, name))
    expected = {**THEIR_DEFAULTS, **THEIR_FILES[name]}
    different = {k: (_value(cfg, k), v) for k, v in expected.items() if not _same(_value(cfg, k), v)}
    assert not different, f"{name}: (ours, theirs) differ for {different}"
    assert cfg.MODEL.PRETRAIN_PATH == ""  # their absolute path to resnet50-19c8e357.pth: ours finds it itself


def test_the_comparison_catches_a_changed_value(tmp_path):
    changed = tmp_path / "softmax.yml"
    changed.write_text(open(os.path.join(CONFIGS, "softmax.yml")).read().replace("[30, 55]", "[40, 70]"))
    cfg = load_config(str(changed))
    assert not _same(_value(cfg, "SOLVER.STEPS"), THEIR_FILES["softmax.yml"]["SOLVER.STEPS"])
