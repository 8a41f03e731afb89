"""Batch-hard triplet loss (Hermans et al., "In Defense of the Triplet Loss"), vectorised.

For each anchor: the hardest positive is its farthest same-id sample (itself included, at distance ~0),
the hardest negative its nearest other-id sample; distances are Euclidean on the raw (unnormalised)
features. Loss = mean over anchors of relu(d_ap - d_an + margin), or softplus(d_ap - d_an) with margin 0
(the soft margin). Computed in float32 whatever the input dtype or autocast state.
"""
import torch
import torch.nn.functional as F
from torch import nn


def euclidean_dist(x, y):
    """(len(x), len(y)) Euclidean distances: sqrt of squared distances clamped at 1e-12, in float32."""
    with torch.autocast(device_type=x.device.type, enabled=False):
        x, y = x.float(), y.float()
        d2 = x.pow(2).sum(1, keepdim=True) + y.pow(2).sum(1).unsqueeze(0) - 2.0 * (x @ y.t())
        return d2.clamp(min=1e-12).sqrt()


def hard_example_mining(dist, labels):
    """(d_ap, d_an) per anchor from a square distance matrix and the anchors' labels.

    An anchor without any negative in the batch gets d_an = inf (its loss is then 0).
    """
    same = labels.unsqueeze(0) == labels.unsqueeze(1)
    d_ap = dist.masked_fill(~same, 0.0).amax(1)  # distances are >= 1e-6, and the anchor itself is a positive
    d_an = dist.masked_fill(same, float("inf")).amin(1)
    return d_ap, d_an


class TripletLoss(nn.Module):
    """Batch-hard triplet loss; `margin` None or 0 selects the soft margin softplus(d_ap - d_an)."""

    def __init__(self, margin=0.3):
        super().__init__()
        if margin is not None and margin < 0:
            raise ValueError(f"margin must be 0 (soft margin) or positive, got {margin}")
        self.margin = float(margin) if margin else None

    def forward(self, feat, labels):
        with torch.autocast(device_type=feat.device.type, enabled=False):
            n = feat.size(0)
            dist = euclidean_dist(feat, feat)
            # The self-distance is 0 mathematically; round-off in the expansion can make it positive.
            eye = torch.eye(n, dtype=torch.bool, device=feat.device)
            dist = dist.masked_fill(eye, 1e-6)
            d_ap, d_an = hard_example_mining(dist, labels)
            if self.margin is None:
                return F.softplus(d_ap - d_an).mean()
            return F.relu(d_ap - d_an + self.margin).mean()

    def extra_repr(self):
        return "soft margin" if self.margin is None else f"margin={self.margin}"
