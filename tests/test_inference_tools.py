"""tools/test.py's ranked-list picture, tools/extract.py and tools/export.py on a tiny synthetic dataset."""
import os

import numpy as np
import pytest
import torch
from PIL import Image
from run_helpers import SMALL, TINY_SYNTHETIC, run_tool

from reid_gc.config import load_config
from reid_gc.data.build import load_dataset, make_val_loader
from reid_gc.engine.evaluator import METRIC_NAME, create_evaluator
from reid_gc.engine.testing import build_inference_model
from reid_gc.modeling import build_model

CONFIG = "configs/softmax_triplet.yml"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A dataset and a checkpoint of a randomly initialised model (the tools need no trained one)."""
    base = tmp_path_factory.mktemp("tools")
    opts = [*SMALL, *TINY_SYNTHETIC, "DATASETS.ROOT_DIR", str(base / "data"), "OUTPUT_DIR", str(base / "out")]
    cfg = load_config(CONFIG, opts)
    dataset = load_dataset(cfg)
    torch.manual_seed(0)
    model = build_model(cfg, dataset.num_train_pids)
    # make the BN statistics non-trivial so the features depend on them
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, 64, 32))
    ckpt = str(base / "model.pt")
    torch.save({"model": model.state_dict()}, ckpt)
    return cfg, opts, dataset, ckpt, base


def test_visualize_writes_the_ranked_lists(setup):
    cfg, opts, dataset, ckpt, base = setup
    r = run_tool("test.py", "--config_file", CONFIG, *opts, "TEST.WEIGHT", ckpt, "TEST.VISUALIZE", "3")
    assert r.returncode == 0, r.stderr[-2000:]
    path = os.path.join(cfg.OUTPUT_DIR, "ranked_test.png")
    img = Image.open(path)
    h, w = cfg.INPUT.SIZE_TEST
    # 3 rows of query + top-10, each cell at least the image size
    assert img.width >= 11 * w and img.height >= 3 * h
    assert img.height < 4 * (h + 20) and img.width < 11 * (w + 20)
    assert len(img.convert("RGB").getcolors(maxcolors=1 << 20)) > 50  # real pictures, not an empty canvas


def test_extract_matches_the_evaluator(setup, tmp_path):
    cfg, opts, dataset, ckpt, base = setup
    query_dir = os.path.dirname(dataset.query[0][0])
    out = str(tmp_path / "feats.pt")
    r = run_tool("extract.py", "--config_file", CONFIG, "--input", query_dir, "--output", out, *opts,
                 "TEST.WEIGHT", ckpt)
    assert r.returncode == 0, r.stderr[-2000:]
    saved = torch.load(out, weights_only=True)
    names, feats = saved["names"], saved["features"]
    assert len(names) == len(dataset.query) and feats.shape[0] == len(names)

    test_cfg = cfg.clone()
    test_cfg.defrost()
    test_cfg.TEST.WEIGHT = ckpt
    model = build_inference_model(test_cfg, dataset.num_train_pids, torch.device("cpu"))
    evaluator = create_evaluator(test_cfg, model, torch.device("cpu"), len(dataset.query))
    evaluator.run(make_val_loader(test_cfg, dataset))
    assert evaluator.state.metrics[METRIC_NAME].num_queries == len(dataset.query)
    qf = evaluator.reid_metric.features[0]
    by_name = {os.path.basename(p): qf[i] for i, (p, _, _) in enumerate(dataset.query)}
    for name, f in zip(names, feats):
        assert torch.allclose(f, by_name[os.path.basename(name)], atol=1e-5)

    npy = str(tmp_path / "feats.npy")
    r = run_tool("extract.py", "--config_file", CONFIG, "--input", query_dir, "--output", npy, *opts,
                 "TEST.WEIGHT", ckpt)
    assert r.returncode == 0, r.stderr[-2000:]
    assert np.allclose(np.load(npy), feats.numpy())
    assert open(str(tmp_path / "feats.names.txt")).read().split() == names


def test_extract_errors(setup, tmp_path):
    cfg, opts, dataset, ckpt, base = setup
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    r = run_tool("extract.py", "--config_file", CONFIG, "--input", str(empty), "--output", str(tmp_path / "f.pt"),
                 *opts, "TEST.WEIGHT", ckpt)
    assert r.returncode == 2 and "no images" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_tool("extract.py", "--config_file", CONFIG, "--input", str(empty), "--output", str(tmp_path / "f.csv"),
                 *opts, "TEST.WEIGHT", ckpt)
    assert r.returncode == 2 and "must end in .pt or .npy" in r.stderr


def test_checkpoint_of_another_architecture_is_named(setup):
    cfg, opts, dataset, ckpt, base = setup
    r = run_tool("test.py", "--config_file", CONFIG, *opts, "MODEL.NAME", "resnet34", "TEST.WEIGHT", ckpt)
    assert r.returncode == 2
    line = r.stderr.strip().splitlines()
    assert len(line) == 1 and "resnet18" in line[0] and "model.pt" in line[0]


def test_export_onnx_matches_torch(setup, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    cfg, opts, dataset, ckpt, base = setup
    path = str(tmp_path / "model.onnx")
    r = run_tool("export.py", "--config_file", CONFIG, "--output", path, "--input", "uint8", *opts,
                 "TEST.WEIGHT", ckpt)
    assert r.returncode == 0, r.stderr[-2000:]
    # independent check on real images, at a batch size not used during export
    test_cfg = cfg.clone()
    test_cfg.defrost()
    test_cfg.TEST.WEIGHT = ckpt
    model = build_inference_model(test_cfg, dataset.num_train_pids, torch.device("cpu")).eval()
    imgs = next(iter(make_val_loader(test_cfg, dataset)))[0][:5]  # uint8, resized: what a deployment feeds
    mean = torch.tensor(cfg.INPUT.PIXEL_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(cfg.INPUT.PIXEL_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = torch.nn.functional.normalize(model((imgs / 255 - mean) / std), dim=1).numpy()
    got = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"images": imgs.numpy()})[0]
    assert np.abs(got - expected).max() < 1e-4
