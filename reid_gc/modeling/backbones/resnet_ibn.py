"""IBN-Net trunks (ResNet-IBN-a and -b, XingangPan/IBN-Net), module names as in its release files.

IBN-a: the first normalisation of every bottleneck in layers 1-3 is `IBN`, InstanceNorm on the first
half of the channels and BatchNorm on the rest. IBN-b: the stem's normalisation is an InstanceNorm,
and the last block of layers 1 and 2 applies an InstanceNorm after the residual add, before the ReLU.
"""
from collections import OrderedDict

import torch
from torch import nn


class IBN(nn.Module):
    def __init__(self, planes, ratio=0.5):
        super().__init__()
        self.half = int(planes * ratio)
        self.IN = nn.InstanceNorm2d(self.half, affine=True)
        self.BN = nn.BatchNorm2d(planes - self.half)

    def forward(self, x):
        a, b = torch.split(x, [self.half, x.shape[1] - self.half], dim=1)
        return torch.cat((self.IN(a.contiguous()), self.BN(b.contiguous())), dim=1)


class BottleneckIBN(nn.Module):
    """torchvision-style bottleneck (stride on the 3x3) with IBN-a's bn1 or IBN-b's trailing IN."""
    expansion = 4

    def __init__(self, inplanes, planes, ibn=None, stride=1, downsample=None):
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = IBN(planes) if ibn == "a" else nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.IN = nn.InstanceNorm2d(out, affine=True) if ibn == "b" else None
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out = out + (x if self.downsample is None else self.downsample(x))
        if self.IN is not None:
            out = self.IN(out)
        return self.relu(out)


def _stage(inplanes, planes, blocks, stride, ibn):
    out = planes * BottleneckIBN.expansion
    downsample = None
    if stride != 1 or inplanes != out:
        downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
    layers = []
    for i in range(blocks):
        # IBN-b puts its InstanceNorm only after the last block of a stage; IBN-a is in every block
        kind = ibn if ibn != "b" or i == blocks - 1 else None
        layers.append(BottleneckIBN(inplanes if i == 0 else out, planes, kind, stride if i == 0 else 1,
                                    downsample if i == 0 else None))
    return nn.Sequential(*layers)


IBN_LAYOUT = {"a": ("a", "a", "a", None), "b": ("b", "b", None, None)}


def build_resnet_ibn(kind, blocks, last_stride=1):
    """conv1 ... layer4 of ResNet-IBN-`kind` ('a' or 'b'); IBN-Net's init (He normal on fan-out, norms 1/0)."""
    layout = IBN_LAYOUT[kind]
    mods = [("conv1", nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)),
            ("bn1", nn.InstanceNorm2d(64, affine=True) if kind == "b" else nn.BatchNorm2d(64)),
            ("relu", nn.ReLU(inplace=True)),
            ("maxpool", nn.MaxPool2d(3, stride=2, padding=1))]
    inplanes = 64
    for i, (planes, stride) in enumerate(((64, 1), (128, 2), (256, 2), (512, last_stride))):
        mods.append((f"layer{i + 1}", _stage(inplanes, planes, blocks[i], stride, layout[i])))
        inplanes = planes * BottleneckIBN.expansion
    trunk = nn.Sequential(OrderedDict(mods))
    for m in trunk.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d)) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return trunk
