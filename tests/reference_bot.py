"""fast-reid's BoT (Baseline) forward in evaluation, stated independently of reid-gc's code, from a state
dict in fast-reid's layout; used to check our exports and, through a renaming by hand, our model."""
import torch.nn.functional as F


def as_fastreid(state):
    """Our checkpoint's keys renamed by hand to fast-reid's (for the independent forward below)."""
    out = {"backbone." + k[5:]: v for k, v in state.items() if k.startswith("base.")}
    out.update({"heads.bottleneck.0." + k[11:]: v for k, v in state.items() if k.startswith("bottleneck.")})
    return out


def _bn(x, s, prefix):
    return F.batch_norm(x, s[prefix + ".running_mean"], s[prefix + ".running_var"], s[prefix + ".weight"],
                        s[prefix + ".bias"], training=False, eps=1e-5)


def fastreid_forward(s, images, last_stride, normalised=False, pixel_mean=None, pixel_std=None):
    """fast-reid's Baseline in eval, stated independently from its layout: (images - pixel_mean) /
    pixel_std; ResNet (7x7/2 conv, BN, ReLU, 3x3/2 max pool; stages of residual blocks, the first block of
    stages 2-4 strided on its 3x3 conv (conv2 of a bottleneck, conv1 of a basic block), stage 4 by
    LAST_STRIDE, with a 1x1 conv + BN shortcut); global average pool; the BN neck heads.bottleneck.0 on the
    (N, C, 1, 1) feature; the feature after it."""
    x = images if normalised else (images - pixel_mean) / pixel_std
    x = F.relu(_bn(F.conv2d(x, s["backbone.conv1.weight"], stride=2, padding=3), s, "backbone.bn1"))
    x = F.max_pool2d(x, 3, 2, 1)
    for stage in range(1, 5):
        b = 0
        while f"backbone.layer{stage}.{b}.conv1.weight" in s:
            p = f"backbone.layer{stage}.{b}"
            stride = (1 if stage == 1 else 2 if stage < 4 else last_stride) if b == 0 else 1
            bottleneck = p + ".conv3.weight" in s
            out = F.relu(_bn(F.conv2d(x, s[p + ".conv1.weight"], stride=1 if bottleneck else stride,
                                      padding=0 if bottleneck else 1), s, p + ".bn1"))
            out = _bn(F.conv2d(out, s[p + ".conv2.weight"], stride=stride if bottleneck else 1, padding=1), s,
                      p + ".bn2")
            if bottleneck:
                out = _bn(F.conv2d(F.relu(out), s[p + ".conv3.weight"]), s, p + ".bn3")
            short = x
            if p + ".downsample.0.weight" in s:
                short = _bn(F.conv2d(x, s[p + ".downsample.0.weight"], stride=stride), s, p + ".downsample.1")
            x = F.relu(out + short)
            b += 1
    pooled = x.mean(dim=(2, 3), keepdim=True)
    if "heads.bottleneck.0.weight" in s:
        pooled = _bn(pooled, s, "heads.bottleneck.0")
    return pooled[..., 0, 0]
