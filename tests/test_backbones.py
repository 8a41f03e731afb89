"""reid-strong-baseline's backbones: their release layouts, shapes and stems; ImageNet files as people have
them (hub cache names, wrapped and prefixed checkpoints); the stem ReLU as a recorded option."""
import logging
import os
import urllib.error

import pytest
import rsb_reference as ref
import torch
import torch.nn.functional as F
import torchvision

from reid_gc.config import load_config
from reid_gc.modeling import Baseline
from reid_gc.modeling.backbones import BACKBONES, build_backbone, guess_backbone
from reid_gc.modeling.foreign import load_trained_weights
from reid_gc.utils.errors import UserError

REFERENCE_NAMES = {"resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "se_resnet50", "se_resnet101",
                   "se_resnet152", "se_resnext50", "se_resnext101", "senet154", "resnet50_ibn_a"}


@pytest.fixture
def no_download(monkeypatch):
    calls = []

    def refuse(url, dst, hash_prefix=None, progress=True):
        calls.append(url)
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    return calls


@pytest.fixture
def hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = os.path.join(torch.hub.get_dir(), "checkpoints")
    os.makedirs(folder)
    return folder


def test_every_reference_name_is_registered_and_the_config_accepts_it():
    assert REFERENCE_NAMES | {"resnet101_ibn_a", "resnet50_ibn_b"} == set(BACKBONES)
    for name in BACKBONES:
        assert load_config(opts=["MODEL.NAME", name]).MODEL.NAME == name


def test_unknown_model_name_lists_the_valid_names():
    with pytest.raises(UserError) as err:
        load_config(opts=["MODEL.NAME", "se_resnext"])
    msg = str(err.value)
    assert "\n" not in msg and "'se_resnext'" in msg
    assert all(name in msg for name in REFERENCE_NAMES | {"resnet50_ibn_b"})


# The release files' shapes, stated from pretrainedmodels' and IBN-Net's definitions.
SHAPES = {
    "se_resnet50": {"layer0.conv1.weight": (64, 3, 7, 7), "layer1.0.conv1.weight": (64, 64, 1, 1),
                    "layer1.0.se_module.fc1.weight": (16, 256, 1, 1), "layer1.0.se_module.fc1.bias": (16,),
                    "layer2.0.downsample.0.weight": (512, 256, 1, 1), "layer4.2.conv3.weight": (2048, 512, 1, 1)},
    "se_resnext50": {"layer1.0.conv1.weight": (128, 64, 1, 1), "layer1.0.conv2.weight": (128, 4, 3, 3),
                     "layer4.0.conv2.weight": (1024, 32, 3, 3), "layer3.5.se_module.fc2.weight": (1024, 64, 1, 1)},
    "senet154": {"layer0.conv1.weight": (64, 3, 3, 3), "layer0.conv3.weight": (128, 64, 3, 3),
                 "layer1.0.conv1.weight": (128, 128, 1, 1), "layer1.0.conv2.weight": (256, 2, 3, 3),
                 "layer1.0.downsample.0.weight": (256, 128, 1, 1), "layer2.0.downsample.0.weight": (512, 256, 3, 3),
                 "layer3.35.conv3.weight": (1024, 1024, 1, 1)},
    "resnet50_ibn_a": {"layer1.0.bn1.IN.weight": (32,), "layer1.0.bn1.BN.running_var": (32,),
                       "layer3.5.bn1.IN.bias": (128,), "layer4.0.bn1.running_mean": (512,)},
    "resnet50_ibn_b": {"bn1.weight": (64,), "layer1.2.IN.weight": (256,), "layer2.3.IN.bias": (512,)},
}
ABSENT = {"resnet50_ibn_a": ["layer4.0.bn1.IN.weight", "bn1.IN.weight"],
          "resnet50_ibn_b": ["bn1.running_mean", "layer1.1.IN.weight", "layer3.5.IN.weight", "layer1.0.bn1.IN.weight"],
          "senet154": ["layer0.pool.weight"], "se_resnext50": ["layer0.conv2.weight"]}


@pytest.mark.parametrize("name", list(SHAPES))
def test_release_layout_shapes(name):
    state = build_backbone(name).state_dict()
    for key, shape in SHAPES[name].items():
        assert tuple(state[key].shape) == shape, key
    for key in ABSENT.get(name, []):
        assert key not in state
    assert guess_backbone(state) == name


def test_senet_strides_and_last_stride():
    trunk = build_backbone("se_resnet50", last_stride=1)
    assert trunk.layer2[0].conv1.stride == (2, 2) and trunk.layer2[0].conv2.stride == (1, 1)  # Caffe style
    assert trunk.layer4[0].conv1.stride == (1, 1) and trunk.layer4[0].downsample[0].stride == (1, 1)
    assert trunk.layer0.pool.ceil_mode
    x = torch.randn(1, 3, 64, 32)
    with torch.no_grad():
        assert build_backbone("se_resnext50", 1).eval()(x).shape == (1, 2048, 4, 2)
        assert build_backbone("se_resnext50", 2).eval()(x).shape == (1, 2048, 2, 1)
    assert build_backbone("se_resnext50").layer2[0].conv2.stride == (2, 2)


def test_ibn_b_instance_norms_where_ibn_net_puts_them():
    torch.manual_seed(0)
    trunk = build_backbone("resnet50_ibn_b").eval()
    x = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        stem = trunk.conv1(x)
        expected = F.relu(F.instance_norm(stem, weight=trunk.bn1.weight, bias=trunk.bn1.bias, eps=1e-5))
        assert torch.allclose(trunk.relu(trunk.bn1(stem)), expected, atol=1e-5)
        block = trunk.layer1[2]
        y = torch.randn(2, 256, 16, 8)
        branch = block.bn3(block.conv3(F.relu(block.bn2(block.conv2(F.relu(block.bn1(block.conv1(y))))))))
        want = F.relu(F.instance_norm(branch + y, weight=block.IN.weight, bias=block.IN.bias, eps=1e-5))
        assert torch.allclose(block(y), want, atol=1e-5)


# ------------------------------------------------------------------------------- ImageNet release files
def _release_files():
    """Release layouts, built from the independent statement in rsb_reference (plus the ImageNet head)."""
    torch.manual_seed(0)
    ibn = ref.RefIBNResNet(2).state_dict()  # IBN-Net's file: the trunk and its fc
    se = ref.RefSENet(2).state_dict()
    se.update({"last_linear.weight": torch.randn(1000, 2048), "last_linear.bias": torch.randn(1000)})
    tv = torchvision.models.resnet18().state_dict()
    return {
        "resnet50_ibn_a": ("resnet50_ibn_a-d9d0bb7b.pth", ibn, "fc."),
        "resnet50_ibn_a (old)": ("r50_ibn_a.pth", {"state_dict": {f"module.{k}": v for k, v in ibn.items()},
                                                   "epoch": 100, "arch": "resnet50_ibn_a"}, "fc."),
        "se_resnet50": ("se_resnet50-ce0d4300.pth", se, "last_linear."),
        "resnet18": ("resnet18-5c106cde.pth", tv, "fc."),  # torchvision's pre-0.13 name
    }


@pytest.mark.parametrize("label", ["resnet50_ibn_a", "resnet50_ibn_a (old)", "se_resnet50", "resnet18"])
def test_release_file_in_the_hub_cache_loads_every_tensor(label, hub, no_download, caplog):
    file_name, content, head = _release_files()[label]
    torch.save(content, os.path.join(hub, file_name))
    state = content.get("state_dict", content)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    name = label.split(" ")[0]
    with caplog.at_level(logging.INFO, logger="reid_gc"):
        model = Baseline(5, 1, name, pretrain_choice="imagenet")
    trunk = model.base.state_dict()
    used = [k for k in state if not k.startswith(head)]
    skipped = [k for k in state if k.startswith(head)]
    assert len(skipped) == 2 and set(used) | set(skipped) == set(state)
    for k in used:
        assert torch.equal(trunk[k], state[k]), k
    line = next(r.getMessage() for r in caplog.records if "loaded ImageNet weights" in r.getMessage())
    assert f"{len(used)} tensors used, 2 skipped (the ImageNet classifier): {', '.join(skipped)}" in line
    assert file_name in line and no_download == []


def test_ibn_file_given_to_resnet50_names_what_it_holds(tmp_path, no_download):
    path = tmp_path / "resnet50_ibn_a-d9d0bb7b.pth"
    torch.save(_release_files()["resnet50_ibn_a"][1], path)
    with pytest.raises(UserError) as err:
        Baseline(5, 1, "resnet50", pretrain_choice="imagenet", pretrain_path=str(path))
    msg = str(err.value)
    assert "\n" not in msg and "it holds resnet50_ibn_a weights: set MODEL.NAME resnet50_ibn_a" in msg


def test_truncated_weight_file_is_one_line(tmp_path):
    path = tmp_path / "se_resnet50-ce0d4300.pth"
    torch.save(_release_files()["se_resnet50"][1], path)
    path.write_bytes(path.read_bytes()[:50000])
    with pytest.raises(UserError) as err:
        Baseline(5, 1, "se_resnet50", pretrain_choice="imagenet", pretrain_path=str(path))
    assert "\n" not in str(err.value) and "truncated or corrupt" in str(err.value)


def test_offline_failure_names_the_release_file(hub, no_download):
    with pytest.raises(UserError) as err:
        Baseline(5, 1, "resnet50_ibn_a", pretrain_choice="imagenet")
    msg = str(err.value)
    assert "put resnet50_ibn_a-d9d0bb7b.pth (from https://github.com/XingangPan/IBN-Net/releases/download/v1.0/" \
           f"resnet50_ibn_a-d9d0bb7b.pth) in {hub}" in msg and "\n" not in msg


# -------------------------------------------------------------------------------------------- the stem
def test_stem_relu_option_and_its_record():
    x = torch.randn(2, 3, 64, 32)
    torch.manual_seed(0)
    with_relu = Baseline(5, 1, "resnet18").eval()
    without = Baseline(5, 1, "resnet18", stem_relu=False).eval()
    without.load_state_dict(with_relu.state_dict())  # the record travels with the weights
    assert without.has_stem_relu and isinstance(without.base.relu, torch.nn.ReLU)
    state = with_relu.state_dict()
    state["stem_relu"] = torch.tensor(0, dtype=torch.uint8)
    with_relu.load_state_dict(state)
    assert not with_relu.has_stem_relu and isinstance(with_relu.base.relu, torch.nn.Identity)
    with torch.no_grad():
        trunk = with_relu.base
        pooled = trunk.layer4(trunk.layer3(trunk.layer2(trunk.layer1(trunk.maxpool(trunk.bn1(trunk.conv1(x)))))))
        assert torch.allclose(with_relu(x), with_relu.bottleneck(pooled.mean((2, 3))), atol=1e-5)
    senet = Baseline(5, 1, "se_resnet50", stem_relu=False)
    assert isinstance(senet.base.layer0.relu1, torch.nn.Identity)


def test_old_reid_gc_checkpoint_without_record_keeps_the_relu(tmp_path):
    torch.manual_seed(0)
    src = Baseline(5, 1, "resnet18")
    state = {k: v for k, v in src.state_dict().items() if k != "stem_relu"}
    path = tmp_path / "checkpoint_3.pt"
    torch.save({"model": state, "optimizer": {}, "epoch": 3}, path)
    dst = Baseline(5, 1, "resnet18", stem_relu=False)
    load_trained_weights(dst, str(path))
    assert dst.has_stem_relu
    strict = Baseline(5, 1, "resnet18")
    strict.load_state_dict(state)  # resume's strict load of a file from before the record
