"""torchvision ResNet trunks (everything before the average pool) with a configurable last stride."""
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Tuple

from torch import nn
from torchvision import models
from torchvision.models.resnet import BasicBlock, Bottleneck

from ...utils.errors import UserError

# The modules a trunk keeps, in order; their names are those of torchvision's ResNet, so a torchvision
# state dict without fc.* loads into the trunk unchanged.
TRUNK_MODULES = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4")


@dataclass(frozen=True)
class ResNetSpec:
    builder: Callable[..., nn.Module]  # torchvision constructor
    weights: object  # torchvision weights enum member (ImageNet, the original torchvision recipe)
    feat_dim: int  # channels of layer4's output
    blocks: Tuple[int, int, int, int]  # residual blocks per stage
    bottleneck: bool  # Bottleneck (conv1-3) or BasicBlock (conv1-2)


RESNETS = {
    "resnet18": ResNetSpec(models.resnet18, models.ResNet18_Weights.IMAGENET1K_V1, 512, (2, 2, 2, 2), False),
    "resnet34": ResNetSpec(models.resnet34, models.ResNet34_Weights.IMAGENET1K_V1, 512, (3, 4, 6, 3), False),
    "resnet50": ResNetSpec(models.resnet50, models.ResNet50_Weights.IMAGENET1K_V1, 2048, (3, 4, 6, 3), True),
    "resnet101": ResNetSpec(models.resnet101, models.ResNet101_Weights.IMAGENET1K_V1, 2048, (3, 4, 23, 3), True),
    "resnet152": ResNetSpec(models.resnet152, models.ResNet152_Weights.IMAGENET1K_V1, 2048, (3, 8, 36, 3), True),
}


def resnet_spec(name):
    try:
        return RESNETS[name]
    except KeyError:
        raise UserError(f"MODEL.NAME '{name}' is not a known backbone: use one of {', '.join(RESNETS)}") from None


def build_resnet(name, last_stride=1):
    """The trunk of torchvision's `name` as an nn.Sequential (conv1 ... layer4), random init.

    `last_stride` 1 keeps layer4 at the resolution of layer3 (the strong baseline's choice); 2 is
    torchvision's ResNet.
    """
    spec = resnet_spec(name)
    if last_stride not in (1, 2):
        raise UserError(f"MODEL.LAST_STRIDE must be 1 or 2, got {last_stride!r}")
    net = spec.builder(weights=None)  # torchvision initialises convs (kaiming) and BN (1, 0) itself
    first = net.layer4[0]
    if isinstance(first, Bottleneck):
        first.conv2.stride = (last_stride, last_stride)  # torchvision strides the 3x3 conv (ResNet v1.5)
    elif isinstance(first, BasicBlock):
        first.conv1.stride = (last_stride, last_stride)
    else:  # pragma: no cover - every registered builder makes one of the two
        raise TypeError(f"unexpected block type {type(first).__name__} in {name}")
    first.downsample[0].stride = (last_stride, last_stride)
    return nn.Sequential(OrderedDict((m, getattr(net, m)) for m in TRUNK_MODULES))


def guess_resnet(keys, prefix=""):
    """The registered ResNet whose trunk has parameter names `keys` (after `prefix`), or None."""
    blocks = [set() for _ in range(4)]
    bottleneck = False
    pattern = re.compile(re.escape(prefix) + r"layer([1-4])\.(\d+)\.(conv\d)\.weight$")
    for key in keys:
        m = pattern.match(key)
        if m:
            blocks[int(m.group(1)) - 1].add(int(m.group(2)))
            bottleneck = bottleneck or m.group(3) == "conv3"
    counts = tuple(len(b) for b in blocks)
    for name, spec in RESNETS.items():
        if spec.blocks == counts and spec.bottleneck == bottleneck:
            return name
    return None


def weights_file_name(name) -> str:
    """The file name torchvision gives `name`'s ImageNet weights in the torch hub cache."""
    return resnet_spec(name).weights.url.rsplit("/", 1)[-1]


def weights_url(name) -> str:
    return resnet_spec(name).weights.url


