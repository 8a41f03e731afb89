"""Exports as trackers load them: ONNX fed as BoxMOT feeds crops, TorchScript, fast-reid's BoT layout,
each giving tools/extract.py's features (with TEST.FLIP_FEAT and the model's own pixel statistics)."""
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from inference_fixtures import MEAN, STD
from PIL import Image
from reference_bot import as_fastreid, fastreid_forward
from run_helpers import run_tool

from reid_gc.inference.api import load_model
from reid_gc.inference.export import export_onnx, export_torchscript

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def boxmot_style_crops(paths, size):
    """BoxMOT's documented crop preprocessing, restated: a BGR crop (as cv2 reads it) -> resize to (H, W)
    -> BGR to RGB -> /255 -> minus ImageNet mean, over ImageNet std -> NCHW float32. The resize here is
    PIL's bilinear (what tools/extract.py uses), so that the features can be compared to 1e-4."""
    batch = []
    for p in paths:
        with Image.open(p) as img:
            bgr = np.asarray(img.convert("RGB"))[..., ::-1]  # what cv2.imread gives
        rgb_small = np.asarray(Image.fromarray(np.ascontiguousarray(bgr[..., ::-1])).resize(
            (size[1], size[0]), Image.Resampling.BILINEAR))
        x = (rgb_small.astype(np.float32) / 255 - IMAGENET_MEAN) / IMAGENET_STD
        batch.append(x.transpose(2, 0, 1))
    return np.stack(batch).astype(np.float32)


def reference(trained, k=6):
    paths = [os.path.join(trained.query_dir, n) for n in trained.names[:k]]
    return paths, trained.features[:k]


def test_export_needs_no_config_and_onnx_float_input_gives_extract_features(trained, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    r = run_tool("export.py", "--weights", trained.weights, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    path = tmp_path / "resnet18_synthetic.onnx"  # <arch>_<dataset>.onnx: BoxMOT reads the arch from the name
    assert path.is_file()
    paths, expected = reference(trained)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inp = session.get_inputs()[0]
    assert inp.type == "tensor(float)" and inp.shape[1:] == [3, 64, 32] and not isinstance(inp.shape[0], int)
    got = session.run(None, {inp.name: boxmot_style_crops(paths, (64, 32))})[0]
    assert np.abs(got - expected.numpy()).max() < 1e-4
    # flip averaging is in the exported graph: without it the features would differ clearly
    assert trained.cfg.TEST.FLIP_FEAT == "yes"


@pytest.mark.slow
def test_every_input_kind_and_torchscript_agree_with_extract(trained, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    paths, expected = reference(trained)
    pixels = np.stack([np.asarray(Image.open(p).convert("RGB").resize((32, 64), Image.Resampling.BILINEAR))
                       for p in paths]).transpose(0, 3, 1, 2)
    cfg, model = load_model(trained.weights)  # in this process: the CLI path is tested above
    for kind, batch in (("uint8", pixels.astype(np.uint8)), ("float255", pixels.astype(np.float32))):
        out = str(tmp_path / f"m_{kind}.onnx")
        export_onnx(cfg, model, out, kind)
        got = ort.InferenceSession(out, providers=["CPUExecutionProvider"]).run(None, {"images": batch})[0]
        assert np.abs(got - expected.numpy()).max() < 1e-4, kind
    ts = str(tmp_path / "m.torchscript")
    export_torchscript(cfg, model, ts, "float")
    with torch.no_grad():
        got = torch.jit.load(ts)(torch.from_numpy(boxmot_style_crops(paths, (64, 32))))
    assert (got - expected).abs().max() < 1e-4


def test_flip_feat_is_applied_by_every_export(trained, tmp_path):
    """TEST.FLIP_FEAT no on the command line: the export then differs from the flip-averaged reference,
    and equals the plain features computed independently from the weights."""
    ort = pytest.importorskip("onnxruntime")
    paths, flipped = reference(trained)
    out = str(tmp_path / "noflip.onnx")
    r = run_tool("export.py", "--weights", trained.weights, "--output", out, "TEST.FLIP_FEAT", "no")
    assert r.returncode == 0, r.stderr[-2000:]
    got = ort.InferenceSession(out, providers=["CPUExecutionProvider"]).run(
        None, {"images": boxmot_style_crops(paths, (64, 32))})[0]
    assert np.abs(got - flipped.numpy()).max() > 1e-3
    # independent: plain forward of the network at the model's own normalisation
    crops = boxmot_style_crops(paths, (64, 32)) * IMAGENET_STD[:, None, None] + IMAGENET_MEAN[:, None, None]
    x = (torch.from_numpy(crops) - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        scripted = torch.jit.load(_torchscript(trained, tmp_path, "no"))(torch.from_numpy(crops_as_fed(paths)))
    assert np.abs(got - scripted.numpy()).max() < 1e-4
    s = as_fastreid(torch.load(trained.weights, weights_only=True)["model"])
    plain = F.normalize(fastreid_forward(s, x, last_stride=1, normalised=True), dim=1)
    assert np.abs(got - plain.numpy()).max() < 1e-4
    both = (fastreid_forward(s, x, 1, normalised=True) + fastreid_forward(s, x.flip(3), 1, normalised=True)) / 2
    assert (F.normalize(both, dim=1) - flipped).abs().max() < 1e-4


def crops_as_fed(paths):
    return boxmot_style_crops(paths, (64, 32))


def _torchscript(trained, tmp_path, flip):
    out = str(tmp_path / f"flip_{flip}.torchscript")
    cfg, model = load_model(trained.weights, opts=["TEST.FLIP_FEAT", flip])
    export_torchscript(cfg, model, out, "float")
    return out


def test_fastreid_layout_gives_the_same_features(trained, tmp_path):
    out = str(tmp_path / "bot_R18.pth")
    r = run_tool("export.py", "--weights", trained.weights, "--format", "fastreid", "--output", out)
    assert r.returncode == 0, r.stderr[-2000:]
    s = torch.load(out, weights_only=True)["model"]
    assert "backbone.conv1.weight" in s and "backbone.layer4.1.bn2.running_var" in s
    assert {"heads.bottleneck.0.weight", "heads.bottleneck.0.bias", "heads.bottleneck.0.running_mean",
            "heads.bottleneck.0.running_var", "heads.weight", "pixel_mean", "pixel_std"} <= set(s)
    assert not any(k.startswith(("base.", "classifier.", "bottleneck.")) for k in s)
    assert s["heads.weight"].shape == (8, 512) and s["pixel_mean"].shape == (1, 3, 1, 1)
    assert torch.allclose(s["pixel_mean"].flatten(), torch.tensor(MEAN) * 255)
    settings = yaml.safe_load(open(str(tmp_path / "bot_R18.yml")))
    assert settings["MODEL"]["BACKBONE"]["DEPTH"] == "18x" and settings["TEST"]["FLIP"]["ENABLED"] is True
    assert settings["MODEL"]["HEADS"]["WITH_BNNECK"] is True
    paths, expected = reference(trained)
    images = torch.from_numpy(np.stack([np.asarray(Image.open(p).convert("RGB").resize(
        (32, 64), Image.Resampling.BILINEAR)) for p in paths]).transpose(0, 3, 1, 2)).float()
    last_stride = settings["MODEL"]["BACKBONE"]["LAST_STRIDE"]
    kw = dict(pixel_mean=s["pixel_mean"], pixel_std=s["pixel_std"])
    feats = (fastreid_forward(s, images, last_stride, **kw) + fastreid_forward(s, images.flip(3), last_stride, **kw))
    assert (F.normalize(feats / 2, dim=1) - expected).abs().max() < 1e-4


@pytest.mark.slow
def test_export_errors_are_one_line(trained, tmp_path):
    old = str(tmp_path / "old.pt")
    torch.save({"model": torch.load(trained.weights, weights_only=True)["model"]}, old)  # no record
    r = run_tool("export.py", "--weights", old)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "--config_file" in lines[0] and "old.pt" in lines[0]
    r = run_tool("export.py", "--weights", trained.weights, "--output", str(tmp_path / "x.pt"))
    assert r.returncode == 2 and ".onnx" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("neck,neck_feat", [("bnneck", "before"), ("no", "after")])
def test_fastreid_layout_without_the_bnneck_feature(tmp_path, neck, neck_feat):
    """A model evaluated before its BNNeck (or without one) is written without heads.bottleneck: fast-reid's
    head then returns the pooled feature, which is what our model returns."""
    from reid_gc.config import load_config
    from reid_gc.inference.fastreid import export_fastreid
    from reid_gc.modeling import build_model

    weights = str(tmp_path / "w.pt")
    cfg = load_config("", ["MODEL.NAME", "resnet18", "MODEL.NECK", neck, "TEST.NECK_FEAT", neck_feat,
                           "INPUT.SIZE_TEST", "[64, 32]", "MODEL.PRETRAIN_CHOICE", "scratch", "TEST.WEIGHT", weights,
                           "MODEL.LAST_STRIDE", "2"])
    torch.manual_seed(0)
    model = build_model(cfg, 5, pretrained=False)
    model.train()
    with torch.no_grad():
        model(torch.randn(6, 3, 64, 32))  # non-trivial BN statistics
    model.eval()
    torch.save({"model": model.state_dict()}, weights)
    out = str(tmp_path / "bot.pth")
    export_fastreid(cfg, model, out)
    s = torch.load(out, weights_only=True)["model"]
    assert not any(k.startswith("heads.bottleneck") for k in s) and s["heads.weight"].shape == (5, 512)
    settings = yaml.safe_load(open(str(tmp_path / "bot.yml")))
    assert settings["MODEL"]["HEADS"]["WITH_BNNECK"] is False and settings["MODEL"]["BACKBONE"]["LAST_STRIDE"] == 2
    images = torch.randint(0, 256, (3, 3, 64, 32)).float()
    got = fastreid_forward(s, images, 2, pixel_mean=s["pixel_mean"], pixel_std=s["pixel_std"])
    mean = torch.tensor(cfg.INPUT.PIXEL_MEAN).view(1, 3, 1, 1) * 255
    std = torch.tensor(cfg.INPUT.PIXEL_STD).view(1, 3, 1, 1) * 255
    with torch.no_grad():
        expected = model((images - mean) / std)
    assert (got - expected).abs().max() < 1e-4
