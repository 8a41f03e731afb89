"""A tiny trained run shared by the API, export and search tests (one training per test session).

Trained with TEST.FLIP_FEAT yes and non-ImageNet pixel statistics, so every consumer must apply the
flip averaging and its own normalisation to agree with tools/extract.py.
"""
import os
from types import SimpleNamespace

import pytest
import torch
from run_helpers import SMALL, TINY_SYNTHETIC, run_tool

from reid_gc.config import load_config
from reid_gc.data.build import load_dataset

CONFIG = "configs/softmax_triplet.yml"
MEAN, STD = [0.5, 0.45, 0.4], [0.25, 0.2, 0.3]


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("trained")
    opts = [*SMALL, *TINY_SYNTHETIC, "DATASETS.ROOT_DIR", str(base / "data"), "OUTPUT_DIR", str(base / "out"),
            "SOLVER.MAX_EPOCHS", "1", "TEST.FLIP_FEAT", "yes", "INPUT.PIXEL_MEAN", str(MEAN),
            "INPUT.PIXEL_STD", str(STD)]
    r = run_tool("train.py", "--config_file", CONFIG, *opts)
    assert r.returncode == 0, r.stderr[-2000:]
    cfg = load_config(CONFIG, opts)
    dataset = load_dataset(cfg)
    weights = str(base / "out" / "model_best.pt")
    query_dir = os.path.dirname(dataset.query[0][0])
    gallery_dir = os.path.dirname(dataset.gallery[0][0])
    # tools/extract.py from the checkpoint alone: the reference every other consumer must match
    feats_path = str(base / "query_feats.pt")
    r = run_tool("extract.py", "--weights", weights, "--input", query_dir, "--output", feats_path,
                 "MODEL.DEVICE", "cpu", "DATALOADER.NUM_WORKERS", "0")
    assert r.returncode == 0, r.stderr[-2000:]
    saved = torch.load(feats_path, weights_only=True)
    return SimpleNamespace(base=base, opts=opts, cfg=cfg, dataset=dataset, weights=weights, query_dir=query_dir,
                           gallery_dir=gallery_dir, names=saved["names"], features=saved["features"])
