"""An independent statement of reid-strong-baseline's model (modeling/baseline.py and its backbones),
written plainly for the tests: ResNet without the stem ReLU, SE-ResNet-50 (pretrainedmodels layout),
ResNet-50-IBN-a with its unused ImageNet fc. Pickled whole by the tests, so it lives in a module."""
import os

import torch
from torch import nn


class RefBottleneck(nn.Module):  # torchvision v1.5: the 3x3 strides
    def __init__(self, cin, p, stride, down, ibn=False):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, p, 1, bias=False)
        self.bn1 = RefIBN(p) if ibn else nn.BatchNorm2d(p)
        self.conv2 = nn.Conv2d(p, p, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(p)
        self.conv3 = nn.Conv2d(p, 4 * p, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * p)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = down

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        r = x if self.downsample is None else self.downsample(x)
        return self.relu(y + r)


class RefIBN(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.half = p // 2
        self.IN = nn.InstanceNorm2d(p // 2, affine=True)
        self.BN = nn.BatchNorm2d(p - p // 2)

    def forward(self, x):
        return torch.cat([self.IN(x[:, :self.half].contiguous()), self.BN(x[:, self.half:].contiguous())], 1)


class RefSEModule(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, c // 16, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(c // 16, c, 1)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        return x * self.sigmoid(self.fc2(self.relu(self.fc1(self.avg_pool(x)))))


class RefSEResNetBottleneck(nn.Module):  # Caffe style: the first 1x1 strides
    def __init__(self, cin, p, stride, down):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, p, 1, stride, bias=False)
        self.bn1 = nn.BatchNorm2d(p)
        self.conv2 = nn.Conv2d(p, p, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(p)
        self.conv3 = nn.Conv2d(p, 4 * p, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * p)
        self.relu = nn.ReLU(inplace=True)
        self.se_module = RefSEModule(4 * p)
        self.downsample = down

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        r = x if self.downsample is None else self.downsample(x)
        return self.relu(self.se_module(y) + r)


def _layers(module, block, counts, last_stride, **kw):
    cin = 64
    for i, (p, n) in enumerate(zip((64, 128, 256, 512), counts)):
        stride = (1, 2, 2, last_stride)[i]
        extra = {"ibn": kw["ibn"] and p != 512} if "ibn" in kw else {}
        down = nn.Sequential(nn.Conv2d(cin, 4 * p, 1, stride, bias=False), nn.BatchNorm2d(4 * p))
        blocks = [block(cin, p, stride, down, **extra)] + [block(4 * p, p, 1, None, **extra) for _ in range(n - 1)]
        setattr(module, f"layer{i + 1}", nn.Sequential(*blocks))
        cin = 4 * p


class RefResNet(nn.Module):
    """reid-strong-baseline's ResNet-50: conv1, bn1, maxpool; no ReLU after bn1."""

    def __init__(self, last_stride):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        _layers(self, RefBottleneck, (3, 4, 6, 3), last_stride)

    def forward(self, x):
        x = self.maxpool(self.bn1(self.conv1(x)))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class RefIBNResNet(nn.Module):
    """ResNet-50-IBN-a as reid-strong-baseline has it: stem ReLU present, an fc that forward never uses."""

    def __init__(self, last_stride):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        _layers(self, RefBottleneck, (3, 4, 6, 3), last_stride, ibn=True)
        self.avgpool = nn.AvgPool2d(7)
        self.fc = nn.Linear(2048, 1000)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class RefSENet(nn.Module):
    """SE-ResNet-50: layer0 = conv1 7x7, bn1, relu1, ceil-mode pool; 1x1 downsampling everywhere."""

    def __init__(self, last_stride):
        super().__init__()
        self.layer0 = nn.Sequential()
        self.layer0.add_module("conv1", nn.Conv2d(3, 64, 7, 2, 3, bias=False))
        self.layer0.add_module("bn1", nn.BatchNorm2d(64))
        self.layer0.add_module("relu1", nn.ReLU(inplace=True))
        self.layer0.add_module("pool", nn.MaxPool2d(3, 2, ceil_mode=True))
        _layers(self, RefSEResNetBottleneck, (3, 4, 6, 3), last_stride)
        self.avg_pool = nn.AvgPool2d(7, stride=1)
        self.dropout = None

    def forward(self, x):
        x = self.layer0(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


TRUNKS = {"resnet50": RefResNet, "se_resnet50": RefSENet, "resnet50_ibn_a": RefIBNResNet}


class Baseline(nn.Module):
    """reid-strong-baseline's Baseline with BNNeck: gap, BatchNorm1d (bias frozen), bias-free classifier."""
    in_planes = 2048

    def __init__(self, num_classes, model_name, last_stride=1, neck_feat="after"):
        super().__init__()
        self.base = TRUNKS[model_name](last_stride)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.num_classes = num_classes
        self.neck = "bnneck"
        self.neck_feat = neck_feat
        self.bottleneck = nn.BatchNorm1d(self.in_planes)
        self.bottleneck.bias.requires_grad_(False)
        self.classifier = nn.Linear(self.in_planes, num_classes, bias=False)

    def forward(self, x):
        g = self.gap(self.base(x)).flatten(1)
        f = self.bottleneck(g)
        if self.training:
            return self.classifier(f), g
        return f if self.neck_feat == "after" else g


def randomize_statistics(model, seed):
    """BN statistics and affine terms far from (0, 1), with negative shifts in the stem so that a ReLU
    after the stem's BN clips about half of its outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
                n = m.num_features
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(n, generator=g) * 0.5 + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
            elif isinstance(m, nn.InstanceNorm2d) and m.affine:
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
        stem_bn = model.base.layer0.bn1 if hasattr(model.base, "layer0") else model.base.bn1
        stem_bn.bias.copy_(torch.randn(stem_bn.num_features, generator=g) - 0.3)
        model.bottleneck.bias.zero_()
    return model


class RunsCode:
    """An object whose unpickling would run a shell command (pickle's __reduce__)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class CallsSubprocess:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import subprocess
        return subprocess.call, (["touch", self.marker],)


class CallsAFunction:
    """Unpickling calls tests' helper `touch` (no system module involved): must be refused as a call."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return touch, (self.marker,)


def touch(path):
    open(path, "w").close()
