"""Baseline model: shapes, last stride, BNNeck details, and every way of initialising it."""
import os
import urllib.error

import pytest
import torch
import torch.nn.functional as F
import torchvision

from reid_gc.config import get_defaults
from reid_gc.modeling import Baseline, build_model
from reid_gc.modeling.backbones import BACKBONES
from reid_gc.utils.errors import UserError

H, W = 64, 32  # small input: the trunk downsamples by 16 (last stride 1) or 32


def _model(num_classes=5, last_stride=1, name="resnet18", neck="bnneck", neck_feat="after",
           choice="scratch", path=""):
    return Baseline(num_classes, last_stride, name, neck, neck_feat, choice, path)


def _images(n=4, seed=0):
    return torch.randn(n, 3, H, W, generator=torch.Generator().manual_seed(seed))


@pytest.fixture
def no_download(monkeypatch):
    """Fail the test if anything tries to download; returns the list of attempted calls."""
    calls = []

    def refuse(url, dst, hash_prefix=None, progress=True):
        calls.append((url, dst, hash_prefix))
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    return calls


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    hub = torch.hub.get_dir()
    assert hub.startswith(str(tmp_path)), "torch.hub.set_dir was called elsewhere; TORCH_HOME is ignored"
    return hub


def _tv_state(name="resnet18", seed=0):
    torch.manual_seed(seed)
    return getattr(torchvision.models, name)().state_dict()


def _assert_trunk_equals(model, state):
    trunk = model.base.state_dict()
    assert not any(k.startswith("fc.") for k in trunk)
    assert set(trunk) == {k for k in state if not k.startswith("fc.")}
    for k, v in trunk.items():
        assert torch.equal(v, state[k]), k


# ------------------------------------------------------------------------------------------------ shapes
def test_registry_names_the_torchvision_resnets():
    assert {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152"} <= set(BACKBONES)
    assert {n for n, s in BACKBONES.items() if s.family == "resnet"} == {"resnet18", "resnet34", "resnet50",
                                                                          "resnet101", "resnet152"}


@pytest.mark.parametrize("neck", ["bnneck", "no"])
def test_resnet18_train_and_eval_shapes(neck):
    model = _model(num_classes=7, neck=neck)
    assert model.in_planes == 512
    score, feat = model(_images())
    assert score.shape == (4, 7) and feat.shape == (4, 512)
    model.eval()
    with torch.no_grad():
        assert model(_images()).shape == (4, 512)


def test_resnet50_eval_shape():
    model = _model(name="resnet50", last_stride=2).eval()
    assert model.in_planes == 2048
    with torch.no_grad():
        assert model(torch.randn(1, 3, 32, 32)).shape == (1, 2048)


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
def test_last_stride(name):
    x = torch.randn(1, 3, H, W)
    sizes = {}
    for stride in (1, 2):
        model = _model(name=name, last_stride=stride)
        first = model.base.layer4[0]
        strided = first.conv2 if name == "resnet50" else first.conv1
        assert strided.stride == (stride, stride) and first.downsample[0].stride == (stride, stride)
        if name == "resnet18":
            with torch.no_grad():
                sizes[stride] = tuple(model.base.eval()(x).shape[2:])
    if sizes:
        assert sizes == {1: (H // 16, W // 16), 2: (H // 32, W // 32)}


def test_classifier_not_run_in_eval():
    model = _model()
    calls = []
    model.classifier.register_forward_hook(lambda *a: calls.append(1))
    model(_images())
    assert calls == [1]
    model.eval()
    with torch.no_grad():
        model(_images())
    assert calls == [1]


# ------------------------------------------------------------------------------------------------ BNNeck
def test_bnneck_bias_frozen_at_zero_through_an_optimizer_step():
    model = _model()
    bn = model.bottleneck
    assert not bn.bias.requires_grad and torch.equal(bn.bias, torch.zeros(512))
    assert torch.equal(bn.weight, torch.ones(512)) and bn.weight.requires_grad
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, weight_decay=0.1)
    score, feat = model(torch.randn(2, 3, 32, 16))
    (F.cross_entropy(score, torch.tensor([0, 1])) + feat.pow(2).mean()).backward()
    opt.step()
    assert bn.bias.grad is None and torch.equal(bn.bias, torch.zeros(512))
    assert not torch.equal(bn.weight, torch.ones(512))


def test_classifier_init():
    torch.manual_seed(0)
    bnneck = _model(num_classes=100).classifier
    assert bnneck.bias is None
    no_neck = _model(num_classes=100, neck="no")
    assert not hasattr(no_neck, "bottleneck")
    assert no_neck.classifier.bias is not None and torch.equal(no_neck.classifier.bias, torch.zeros(100))
    for layer in (bnneck, no_neck.classifier):
        w = layer.weight
        assert w.shape == (100, 512)
        assert abs(w.mean().item()) < 5e-5 and 0.00095 < w.std().item() < 0.00105


def test_neck_feat_after_and_before():
    torch.manual_seed(0)
    after = _model(neck_feat="after")
    bn = after.bottleneck
    with torch.no_grad():  # non-trivial statistics, so 'after' differs from 'before'
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
    before = _model(neck_feat="before")
    before.load_state_dict(after.state_dict())
    x = _images()
    after.eval(), before.eval()
    with torch.no_grad():
        pooled = after.base(x).mean(dim=(2, 3))
        expected = (pooled - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight
        assert torch.allclose(before(x), pooled, atol=1e-5)
        assert torch.allclose(after(x), expected, atol=1e-4)
        assert not torch.allclose(after(x), before(x), atol=1e-2)
        no_neck = _model(neck="no", neck_feat="after").eval()
        assert torch.allclose(no_neck(x), no_neck.base(x).mean(dim=(2, 3)), atol=1e-5)


def test_build_model_reads_the_config():
    cfg = get_defaults()
    cfg.MODEL.NAME, cfg.MODEL.LAST_STRIDE, cfg.MODEL.PRETRAIN_CHOICE = "resnet18", 2, "scratch"
    cfg.MODEL.NECK, cfg.TEST.NECK_FEAT = "bnneck", "before"
    model = build_model(cfg, 9)
    assert isinstance(model, Baseline)
    assert (model.model_name, model.neck, model.neck_feat, model.classifier.out_features) == \
        ("resnet18", "bnneck", "before", 9)
    assert model.base.layer4[0].conv1.stride == (2, 2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="resnet19"), "MODEL.NAME 'resnet19' is not a known backbone: use one of resnet18, resnet34, "),
    (dict(last_stride=3), "MODEL.LAST_STRIDE"),
    (dict(neck="bn"), "config key MODEL.NECK is 'bn'; accepted values: bnneck, no"),
    (dict(neck_feat="middle"), "config key TEST.NECK_FEAT is 'middle'; accepted values: after, before"),
    (dict(choice="self"), "MODEL.PRETRAIN_CHOICE 'self' needs MODEL.PRETRAIN_PATH"),
])
def test_bad_arguments_are_user_errors(kwargs, message):
    with pytest.raises(UserError) as err:
        _model(**kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


# ------------------------------------------------------------------------------------- ImageNet weights
def test_imagenet_from_pretrain_path(tmp_path, no_download):
    state = _tv_state()
    path = tmp_path / "resnet18-custom.pth"
    torch.save(state, path)
    torch.manual_seed(123)
    model = _model(choice="imagenet", path=str(path))
    _assert_trunk_equals(model, state)
    assert no_download == []


def test_imagenet_pretrain_path_of_another_architecture(tmp_path, no_download):
    path = tmp_path / "r18.pth"
    torch.save(_tv_state("resnet18"), path)
    with pytest.raises(UserError) as err:
        _model(name="resnet50", choice="imagenet", path=str(path))
    msg = str(err.value)
    assert "\n" not in msg and str(path) in msg and "does not fit resnet50" in msg
    assert "it holds resnet18 weights: set MODEL.NAME resnet18" in msg


def test_imagenet_pretrain_path_missing_file(tmp_path):
    with pytest.raises(UserError, match="MODEL.PRETRAIN_PATH .*nope.pth not found"):
        _model(choice="imagenet", path=str(tmp_path / "nope.pth"))


def test_imagenet_from_torch_hub_cache_without_network(torch_home, no_download):
    state = _tv_state(seed=1)
    cached = os.path.join(torch_home, "checkpoints", "resnet18-f37072fd.pth")  # torchvision's file name
    os.makedirs(os.path.dirname(cached))
    torch.save(state, cached)  # random weights: the hash in the name does not match, and is not checked
    model = _model(choice="imagenet")
    _assert_trunk_equals(model, state)
    assert no_download == []


def test_imagenet_offline_failure_says_where_to_put_the_file(torch_home, no_download):
    with pytest.raises(UserError) as err:
        _model(choice="imagenet")
    msg = str(err.value)
    checkpoints = os.path.join(torch_home, "checkpoints")
    assert "\n" not in msg
    assert msg.startswith("could not download ImageNet weights for resnet18 (")
    assert f"put resnet18-f37072fd.pth (from https://download.pytorch.org/models/resnet18-f37072fd.pth) " \
           f"in {checkpoints} or set MODEL.PRETRAIN_PATH" in msg
    assert msg.endswith("MODEL.PRETRAIN_CHOICE 'scratch'")
    assert no_download == [("https://download.pytorch.org/models/resnet18-f37072fd.pth",
                            os.path.join(checkpoints, "resnet18-f37072fd.pth"), "f37072fd")]


def test_imagenet_download_lands_in_the_hub_cache(torch_home, monkeypatch):
    state = _tv_state(seed=2)
    calls = []

    def fake_download(url, dst, hash_prefix=None, progress=True):
        calls.append(dst)
        torch.save(state, dst)

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    _assert_trunk_equals(_model(choice="imagenet"), state)
    _assert_trunk_equals(_model(choice="imagenet"), state)  # second time from the cache
    assert calls == [os.path.join(torch_home, "checkpoints", "resnet18-f37072fd.pth")]


# -------------------------------------------------------------------------------------------------- self
def test_self_loads_the_whole_model(tmp_path):
    torch.manual_seed(0)
    src = _model(num_classes=6)
    with torch.no_grad():
        src.bottleneck.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "model_10.pt"
    torch.save({"model": src.state_dict(), "epoch": 10}, path)
    torch.manual_seed(1)
    dst = _model(num_classes=6, choice="self", path=str(path))
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v), k
    with pytest.raises(UserError, match="trained with 6 classes, this model has 4"):
        _model(num_classes=4, choice="self", path=str(path))
