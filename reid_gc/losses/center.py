"""Center loss (Wen et al., ECCV 2016) as the strong baseline defines it.

loss = (1 / batch) * sum_i clamp(||x_i - c_{y_i}||^2, 1e-12, 1e12), with learnable centers c (randn init).
The centers are trained by their own SGD (SOLVER.CENTER_LR); the engine divides their gradient by
SOLVER.CENTER_LOSS_WEIGHT before that step so the weight scales only the features' gradient.
Computed in float32 whatever the input dtype or autocast state.
"""
import torch
from torch import nn


class CenterLoss(nn.Module):
    def __init__(self, num_classes, feat_dim):
        super().__init__()
        self.num_classes = int(num_classes)
        self.feat_dim = int(feat_dim)
        self.centers = nn.Parameter(torch.randn(self.num_classes, self.feat_dim))

    def forward(self, feat, labels):
        if feat.dim() != 2 or feat.size(1) != self.feat_dim:
            raise ValueError(f"expected features of shape (batch, {self.feat_dim}), got {tuple(feat.shape)}")
        with torch.autocast(device_type=feat.device.type, enabled=False):
            centers = self.centers.float().index_select(0, labels)
            dist = (feat.float() - centers).pow(2).sum(1).clamp(min=1e-12, max=1e12)
            return dist.sum() / feat.size(0)

    def extra_repr(self):
        return f"num_classes={self.num_classes}, feat_dim={self.feat_dim}"
