"""Backbone trunks by MODEL.NAME: one registry (BACKBONES) that config validation, the model, the
ImageNet weight loader and the benchmarks all read."""
import functools
import re
from dataclasses import dataclass
from typing import Callable, Tuple

from ...utils.errors import UserError
from .resnet import RESNETS, build_resnet, guess_resnet, resnet_spec, weights_file_name, weights_url
from .resnet_ibn import build_resnet_ibn
from .senet import build_senet

_CADENE = "http://data.lip6.fr/cadene/pretrainedmodels/"
_IBN = "https://github.com/XingangPan/IBN-Net/releases/download/v1.0/"
# torchvision's pre-0.13 file names (what reid-strong-baseline, torchreid and fast-reid point at)
_LEGACY_TORCHVISION = {"resnet18": "resnet18-5c106cde.pth", "resnet34": "resnet34-333f7ec4.pth",
                       "resnet50": "resnet50-19c8e357.pth", "resnet101": "resnet101-5d3b4d8f.pth",
                       "resnet152": "resnet152-b121ed2d.pth"}


@dataclass(frozen=True)
class BackboneSpec:
    build: Callable[[int], object]  # last_stride -> trunk (nn.Sequential ending at layer4), random init
    feat_dim: int  # channels of the trunk's output
    family: str  # 'resnet' (torchvision), 'senet' (pretrainedmodels) or 'ibn' (IBN-Net)
    blocks: Tuple[int, int, int, int]  # residual blocks per stage
    stem_relu: str  # module path (in the trunk) of the ReLU after the stem's first normalisation
    reference_stem_relu: bool  # whether reid-strong-baseline's trunk of this name applies that ReLU
    weights_files: Tuple[str, ...]  # ImageNet file names looked for in the torch hub cache, in order
    weights_url: str  # where the first of them is downloaded from when none is cached
    head_prefix: str  # the ImageNet classifier's keys in those files (skipped)


def _resnet(name):
    spec = RESNETS[name]
    files = (weights_file_name(name), _LEGACY_TORCHVISION[name])
    return BackboneSpec(functools.partial(build_resnet, name), spec.feat_dim, "resnet", spec.blocks, "relu",
                        False, files, weights_url(name), "fc.")


def _senet(kind, blocks, groups, file_name):
    return BackboneSpec(functools.partial(build_senet, kind, blocks, groups), 2048, "senet", blocks,
                        "layer0.relu1", True, (file_name,), _CADENE + file_name, "last_linear.")


def _ibn(kind, blocks, file_name, old_name):
    return BackboneSpec(functools.partial(build_resnet_ibn, kind, blocks), 2048, "ibn", blocks, "relu", True,
                        (file_name, old_name), _IBN + file_name, "fc.")


BACKBONES = {name: _resnet(name) for name in RESNETS}
BACKBONES.update({
    "se_resnet50": _senet("se_resnet", (3, 4, 6, 3), 1, "se_resnet50-ce0d4300.pth"),
    "se_resnet101": _senet("se_resnet", (3, 4, 23, 3), 1, "se_resnet101-7e38fcc6.pth"),
    "se_resnet152": _senet("se_resnet", (3, 8, 36, 3), 1, "se_resnet152-d17c99b7.pth"),
    "se_resnext50": _senet("se_resnext", (3, 4, 6, 3), 32, "se_resnext50_32x4d-a260b3a4.pth"),
    "se_resnext101": _senet("se_resnext", (3, 4, 23, 3), 32, "se_resnext101_32x4d-3b2fe3d8.pth"),
    "senet154": _senet("senet", (3, 8, 36, 3), 64, "senet154-c7b49a05.pth"),
    "resnet50_ibn_a": _ibn("a", (3, 4, 6, 3), "resnet50_ibn_a-d9d0bb7b.pth", "r50_ibn_a.pth"),
    "resnet101_ibn_a": _ibn("a", (3, 4, 23, 3), "resnet101_ibn_a-59ea0ac6.pth", "r101_ibn_a.pth"),
    "resnet50_ibn_b": _ibn("b", (3, 4, 6, 3), "resnet50_ibn_b-9ca61e85.pth", "r50_ibn_b.pth"),
})


def backbone_spec(name):
    try:
        return BACKBONES[name]
    except KeyError:
        raise UserError(f"MODEL.NAME '{name}' is not a known backbone: use one of {', '.join(BACKBONES)}") from None


def build_backbone(name, last_stride=1):
    if last_stride not in (1, 2):
        raise UserError(f"MODEL.LAST_STRIDE must be 1 or 2, got {last_stride!r}")
    return backbone_spec(name).build(last_stride)


def _stage_blocks(state, prefix, first):
    """Residual blocks per stage (layer1..4) in `state`, and the first conv of layer1's first block."""
    blocks = [set() for _ in range(4)]
    pattern = re.compile(re.escape(prefix) + r"layer([1-4])\.(\d+)\.conv1\.weight$")
    for key in state:
        m = pattern.match(key)
        if m:
            blocks[int(m.group(1)) - 1].add(int(m.group(2)))
    return tuple(len(b) for b in blocks), state.get(prefix + first)


def guess_backbone(state, prefix=""):
    """MODEL.NAME of the trunk whose weights `state` (name -> tensor, names after `prefix`) holds, or None."""
    counts, conv = _stage_blocks(state, prefix, "layer1.0.conv1.weight")
    if prefix + "layer0.conv1.weight" in state:  # pretrainedmodels' SENet layout
        if prefix + "layer0.conv3.weight" in state:
            family = {"senet"}
        else:  # SE-ResNeXt's 32x4d first block is 128 wide, SE-ResNet's 64
            family = {"se_resnext"} if conv is not None and conv.shape[0] == 128 else {"se_resnet"}
        candidates = [n for n, s in BACKBONES.items() if s.family == "senet" and s.blocks == counts
                      and s.build.args[0] in family]
    elif any(k.startswith(prefix) and (".bn1.IN." in k or re.search(r"layer\d\.\d+\.IN\.", k)) for k in state):
        kind = "a" if any(".bn1.IN." in k for k in state) else "b"
        candidates = [n for n, s in BACKBONES.items() if s.family == "ibn" and s.blocks == counts
                      and s.build.args[0] == kind]
    else:
        return guess_resnet(state, prefix)
    return candidates[0] if candidates else None


__all__ = ["BACKBONES", "BackboneSpec", "RESNETS", "backbone_spec", "build_backbone", "build_resnet",
           "guess_backbone", "guess_resnet", "resnet_spec", "weights_file_name", "weights_url"]
