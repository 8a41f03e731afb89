"""SENet trunks (SE-ResNet, SE-ResNeXt 32x4d, SENet-154) as reid-strong-baseline builds them.

Module names follow the `pretrainedmodels` package (layer0.conv1, layerN.i.se_module.fc1, ...), so its
ImageNet files and reid-strong-baseline's trained state dicts load by name. Each trunk ends at layer4
(no pooling, dropout or last_linear: the re-id head pools itself); `last_stride` strides layer4.
"""
import math
from collections import OrderedDict

from torch import nn


class SEModule(nn.Module):
    """Squeeze-and-excitation: channel gates from the globally pooled input (1x1 convs with bias)."""

    def __init__(self, channels, reduction):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, channels // reduction, kernel_size=1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(channels // reduction, channels, kernel_size=1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        gate = self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))
        return x * gate


class SEBottleneck(nn.Module):
    """1x1 -> 3x3 (grouped) -> 1x1, SE gate on the residual branch before the add.

    The three kinds differ only in widths and in which conv strides (`kind`):
    'senet' (SENet-154): 2p -> 4p -> 4p, stride on the 3x3;
    'se_resnet': p -> p -> 4p, stride on the first 1x1 (Caffe style);
    'se_resnext': w -> w -> 4p with w = floor(p * 4 / 64) * groups, stride on the 3x3.
    """
    expansion = 4

    def __init__(self, kind, inplanes, planes, groups, reduction, stride=1, downsample=None):
        super().__init__()
        out = planes * self.expansion
        if kind == "senet":
            mid1, mid2, stride1, stride2 = planes * 2, planes * 4, 1, stride
        elif kind == "se_resnet":
            mid1, mid2, stride1, stride2 = planes, planes, stride, 1
        elif kind == "se_resnext":
            width = math.floor(planes * 4 / 64) * groups
            mid1, mid2, stride1, stride2 = width, width, 1, stride
        else:  # pragma: no cover - the registry only names the three kinds
            raise ValueError(kind)
        self.conv1 = nn.Conv2d(inplanes, mid1, 1, stride=stride1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid1)
        self.conv2 = nn.Conv2d(mid1, mid2, 3, stride=stride2, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(mid2)
        self.conv3 = nn.Conv2d(mid2, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.se_module = SEModule(out, reduction)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.se_module(out) + shortcut)


def _layer0(inplanes, input_3x3):
    """The stem: one 7x7 conv, or (SENet-154) three 3x3 convs; then a ceil-mode 3x3 max pool."""
    if input_3x3:
        mods = [("conv1", nn.Conv2d(3, 64, 3, stride=2, padding=1, bias=False)), ("bn1", nn.BatchNorm2d(64)),
                ("relu1", nn.ReLU(inplace=True)),
                ("conv2", nn.Conv2d(64, 64, 3, padding=1, bias=False)), ("bn2", nn.BatchNorm2d(64)),
                ("relu2", nn.ReLU(inplace=True)),
                ("conv3", nn.Conv2d(64, inplanes, 3, padding=1, bias=False)), ("bn3", nn.BatchNorm2d(inplanes)),
                ("relu3", nn.ReLU(inplace=True))]
    else:
        mods = [("conv1", nn.Conv2d(3, inplanes, 7, stride=2, padding=3, bias=False)),
                ("bn1", nn.BatchNorm2d(inplanes)), ("relu1", nn.ReLU(inplace=True))]
    mods.append(("pool", nn.MaxPool2d(3, stride=2, ceil_mode=True)))  # ceil mode: Caffe's pooling
    return nn.Sequential(OrderedDict(mods))


def _stage(kind, inplanes, planes, blocks, groups, reduction, stride, down_kernel):
    downsample = None
    out = planes * SEBottleneck.expansion
    if stride != 1 or inplanes != out:
        downsample = nn.Sequential(
            nn.Conv2d(inplanes, out, down_kernel, stride=stride, padding=down_kernel // 2, bias=False),
            nn.BatchNorm2d(out))
    layers = [SEBottleneck(kind, inplanes, planes, groups, reduction, stride, downsample)]
    layers += [SEBottleneck(kind, out, planes, groups, reduction) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


def build_senet(kind, blocks, groups, last_stride=1):
    """layer0 ... layer4 of an SENet. SENet-154 ('senet') has the 3x3 stem, 128 stem channels and 3x3
    downsampling convs in layers 2-4; the SE-ResNe(X)ts a 7x7 stem, 64 channels and 1x1 downsampling."""
    wide = kind == "senet"
    inplanes = 128 if wide else 64
    down_kernel = 3 if wide else 1
    mods = [("layer0", _layer0(inplanes, input_3x3=wide))]
    for i, (planes, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, last_stride))):
        # layer1 always downsamples with a 1x1 conv (only the channel count changes there)
        mods.append((f"layer{i + 1}", _stage(kind, inplanes, planes, blocks[i], groups, 16, stride,
                                             1 if i == 0 else down_kernel)))
        inplanes = planes * SEBottleneck.expansion
    return nn.Sequential(OrderedDict(mods))
