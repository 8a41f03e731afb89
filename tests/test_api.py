"""Self-describing checkpoints and the Python API (FeatureExtractor)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from inference_fixtures import CONFIG
from PIL import Image
from run_helpers import ROOT, run_tool

from reid_gc import FeatureExtractor
from reid_gc.config.defaults import get_defaults
from reid_gc.utils.errors import UserError


def test_import_reid_gc_is_light():
    code = "import sys, reid_gc; print(reid_gc.__version__, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    version, torch_loaded = out.stdout.split()
    assert torch_loaded == "False" and version.count(".") == 2


def test_every_checkpoint_records_its_model(trained):
    runtime = {"DEVICE", "DEVICE_ID", "COMPILE", "CHANNELS_LAST", "SYNC_BN", "PRETRAIN_PATH", "PRETRAIN_CHOICE"}
    expected_model_keys = {f"MODEL.{k}" for k in get_defaults().MODEL} - {f"MODEL.{k}" for k in runtime}
    for name in ("model_best.pt", "checkpoint_1.pt"):
        ckpt = torch.load(os.path.join(trained.base, "out", name), weights_only=True)
        record = ckpt["reid_gc"]
        config = record["config"]
        assert expected_model_keys <= set(config), name
        assert not {f"MODEL.{k}" for k in runtime} & set(config)
        assert config["MODEL.NAME"] == "resnet18" and config["INPUT.SIZE_TEST"] == [64, 32]
        assert config["TEST.FLIP_FEAT"] == "yes" and config["INPUT.PIXEL_MEAN"] == [0.5, 0.45, 0.4]
        assert config["DATASETS.NAMES"] == ["synthetic"] and config["TEST.NECK_FEAT"] == "after"
        assert record["feat_dim"] == 512 and record["num_classes"] == 8
        assert record["version"] == __import__("reid_gc").__version__


def test_api_gives_extract_features_for_every_input_form(trained):
    paths = [os.path.join(trained.query_dir, n) for n in trained.names[:5]]
    expected = trained.features[:5]
    extract = FeatureExtractor(trained.weights, device="cpu", batch_size=2)
    assert extract.flip and extract.normalize
    got = extract(paths)
    assert got.shape == expected.shape and got.dtype == torch.float32
    assert (got - expected).abs().max() < 1e-4
    rgb = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    assert (extract([Image.open(p) for p in paths]) - expected).abs().max() < 1e-4
    assert (extract(rgb) - expected).abs().max() < 1e-4
    assert (extract([a[..., ::-1].copy() for a in rgb], bgr=True) - expected).abs().max() < 1e-4
    assert (extract(paths[0]) - expected[:1]).abs().max() < 1e-4
    # a batch tensor already at INPUT.SIZE_TEST (resized as the loaders do): uint8 and float 0..1
    resized = torch.from_numpy(np.stack([np.asarray(Image.open(p).convert("RGB").resize(
        (32, 64), Image.Resampling.BILINEAR)) for p in paths])).permute(0, 3, 1, 2).contiguous()
    assert (extract(resized) - expected).abs().max() < 1e-4
    assert (extract(resized.float() / 255) - expected).abs().max() < 1e-4
    assert (extract(resized.flip(1), bgr=True) - expected).abs().max() < 1e-4
    raw = FeatureExtractor(trained.weights, normalize=False)(paths)
    assert not torch.allclose(raw.norm(dim=1), torch.ones(5), atol=1e-3)
    assert (torch.nn.functional.normalize(raw, dim=1) - expected).abs().max() < 1e-4


def test_api_bad_input(trained, tmp_path):
    extract = FeatureExtractor(trained.weights)
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(UserError, match="bad.jpg"):
        extract([str(bad)])
    with pytest.raises(UserError, match="HWC uint8"):
        extract(np.zeros((64, 32), dtype=np.float32))
    with pytest.raises(UserError, match=r"\(N, 3, H, W\)"):
        extract(torch.zeros(3, 64, 32))


def test_test_py_works_from_the_checkpoint_alone(trained, tmp_path):
    out = str(tmp_path / "eval")
    r = run_tool("test.py", "TEST.WEIGHT", trained.weights, "DATASETS.ROOT_DIR", str(trained.base / "data"),
                 "OUTPUT_DIR", out, "MODEL.DEVICE", "cpu", "DATALOADER.NUM_WORKERS", "0")
    assert r.returncode == 0, r.stderr[-2000:]
    tested = json.load(open(os.path.join(out, "metrics.json")))[-1]
    trained_eval = json.load(open(os.path.join(trained.base, "out", "metrics.json")))[-1]
    assert abs(tested["mAP"] - trained_eval["mAP"]) < 1e-6  # same data, same flip, same network


@pytest.mark.slow
def test_old_checkpoint_needs_its_config_and_works_with_it(trained, tmp_path):
    old = str(tmp_path / "old.pt")
    torch.save({"model": torch.load(trained.weights, weights_only=True)["model"]}, old)
    r = run_tool("test.py", "TEST.WEIGHT", old, "DATASETS.ROOT_DIR", str(trained.base / "data"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "old.pt" in lines[0] and "--config_file" in lines[0]
    out = str(tmp_path / "f.pt")
    r = run_tool("extract.py", "--config_file", CONFIG, "--weights", old, "--input", trained.query_dir,
                 "--output", out, *trained.opts)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (torch.load(out, weights_only=True)["features"] - trained.features).abs().max() < 1e-5


def test_a_given_config_wins_with_a_warning_for_the_network(trained, tmp_path):
    out = str(tmp_path / "f.pt")
    r = run_tool("extract.py", "--weights", trained.weights, "--input", trained.query_dir, "--output", out,
                 "MODEL.LAST_STRIDE", "2", "TEST.FLIP_FEAT", "no", "MODEL.DEVICE", "cpu")
    assert r.returncode == 0, r.stderr[-2000:]
    warned = [line for line in (r.stdout + r.stderr).splitlines() if "changes the network" in line]
    assert len(warned) == 1 and "MODEL.LAST_STRIDE" in warned[0]  # FLIP_FEAT changes no weight: no warning
    feats = torch.load(out, weights_only=True)["features"]
    assert (feats - trained.features).abs().max() > 1e-3  # the overrides were applied


def test_api_applies_test_flip_feat_as_configured(trained):
    """The record says FLIP_FEAT yes; KEY VALUE pairs turn it off. Both against the network stated
    independently (tests/reference_bot.py) at the model's own normalisation."""
    from inference_fixtures import MEAN, STD
    from reference_bot import as_fastreid, fastreid_forward

    paths = [os.path.join(trained.query_dir, n) for n in trained.names[:4]]
    pixels = torch.from_numpy(np.stack([np.asarray(Image.open(p).convert("RGB").resize(
        (32, 64), Image.Resampling.BILINEAR)) for p in paths])).permute(0, 3, 1, 2).float()
    x = (pixels / 255 - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    s = as_fastreid(torch.load(trained.weights, weights_only=True)["model"])
    plain = fastreid_forward(s, x, 1, normalised=True)
    flipped = (plain + fastreid_forward(s, x.flip(3), 1, normalised=True)) / 2
    normalize = torch.nn.functional.normalize
    assert (FeatureExtractor(trained.weights)(paths) - normalize(flipped, dim=1)).abs().max() < 1e-4
    no_flip = FeatureExtractor(trained.weights, opts=["TEST.FLIP_FEAT", "no"])
    assert not no_flip.flip
    assert (no_flip(paths) - normalize(plain, dim=1)).abs().max() < 1e-4
    assert (normalize(plain, dim=1) - normalize(flipped, dim=1)).abs().max() > 1e-3  # the flip matters here
