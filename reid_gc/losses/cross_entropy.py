"""ID loss: cross entropy, optionally with label smoothing.

The strong baseline smooths the targets to (1 - eps) * onehot + eps / num_classes and takes the cross
entropy against them. torch's `label_smoothing=eps` is that same target distribution, so F.cross_entropy
computes it (tests/test_losses.py checks it against a hand computation).
"""
import torch.nn.functional as F
from torch import nn


class CrossEntropyLabelSmooth(nn.Module):
    """Cross entropy with targets (1 - epsilon) * onehot + epsilon / num_classes; epsilon 0 is plain CE."""

    def __init__(self, num_classes, epsilon=0.1):
        super().__init__()
        if not 0.0 <= epsilon < 1.0:
            raise ValueError(f"epsilon must lie in [0, 1), got {epsilon}")
        self.num_classes = int(num_classes)
        self.epsilon = float(epsilon)

    def forward(self, inputs, targets):
        if inputs.dim() != 2 or inputs.size(1) != self.num_classes:
            raise ValueError(f"expected scores of shape (batch, {self.num_classes}), got {tuple(inputs.shape)}")
        return F.cross_entropy(inputs.float(), targets, label_smoothing=self.epsilon)

    def extra_repr(self):
        return f"num_classes={self.num_classes}, epsilon={self.epsilon}"
