"""reid-strong-baseline's training files, written the way its tools/train.py and ignite's ModelCheckpoint
leave them after epoch `epoch` of a run: <name>_model_<epoch>.pth (the model's state dict),
<name>_optimizer_<epoch>.pth, and with center loss <name>_center_param_<epoch>.pth and
<name>_optimizer_center_<epoch>.pth.

Its optimizer rule, stated here: one parameter group per parameter of model.named_parameters() that
requires a gradient, lr BASE_LR (x BIAS_LR_FACTOR for names containing 'bias') and its weight decay;
torch.optim.<OPTIMIZER_NAME>(groups) (SGD with momentum=MOMENTUM); the centers' own SGD at CENTER_LR.
A few steps on random gradients give the optimizers a state to carry over.
"""
import os

import torch
from torch import nn


class TheirCenterLoss(nn.Module):
    """Its CenterLoss holds one parameter, `centers` (num_classes x feat_dim)."""

    def __init__(self, num_classes, feat_dim):
        super().__init__()
        self.centers = nn.Parameter(torch.randn(num_classes, feat_dim))


def their_optimizer(model, name="Adam", base_lr=3.5e-4, bias_lr_factor=1, weight_decay=5e-4,
                    weight_decay_bias=5e-4, momentum=0.9):
    groups = []
    for key, value in model.named_parameters():
        if not value.requires_grad:
            continue
        lr, wd = base_lr, weight_decay
        if "bias" in key:
            lr, wd = base_lr * bias_lr_factor, weight_decay_bias
        groups.append({"params": [value], "lr": lr, "weight_decay": wd, "initial_lr": lr})
    if name == "SGD":
        return torch.optim.SGD(groups, lr=base_lr, momentum=momentum)
    return getattr(torch.optim, name)(groups, lr=base_lr)


def write_their_run(folder, model, model_name, epoch, num_classes=None, feat_dim=None, optimizer="Adam",
                    steps=2, seed=0, extra_state=(), whole=False):
    """Write the files of `model` (an nn.Module with their parameter names; keys in `extra_state` are left
    out of the saved state dict) after `steps` optimizer steps (optimizer None: the model file alone);
    `whole` pickles the model object itself, as its ignite ModelCheckpoint did; returns {kind: path}."""
    torch.manual_seed(seed)
    if optimizer is None:
        path = os.path.join(folder, f"{model_name}_model_{epoch}.pth")
        os.makedirs(folder, exist_ok=True)
        torch.save({k: v for k, v in model.state_dict().items() if k not in extra_state}, path)
        return {"model": path}
    opt = their_optimizer(model, optimizer)
    center = center_opt = None
    if num_classes:
        center = TheirCenterLoss(num_classes, feat_dim)
        center_opt = torch.optim.SGD(center.parameters(), lr=0.5)
    for _ in range(steps):
        for p in model.parameters():
            if p.requires_grad:
                p.grad = torch.randn_like(p)
        opt.step()
        if center is not None:
            center.centers.grad = torch.randn_like(center.centers)
            center_opt.step()
    os.makedirs(folder, exist_ok=True)
    paths = {"model": os.path.join(folder, f"{model_name}_model_{epoch}.pth"),
             "optimizer": os.path.join(folder, f"{model_name}_optimizer_{epoch}.pth")}
    torch.save(model if whole else {k: v for k, v in model.state_dict().items() if k not in extra_state},
               paths["model"])
    torch.save(opt.state_dict(), paths["optimizer"])
    if center is not None:
        paths["center_param"] = os.path.join(folder, f"{model_name}_center_param_{epoch}.pth")
        paths["optimizer_center"] = os.path.join(folder, f"{model_name}_optimizer_center_{epoch}.pth")
        torch.save(center.state_dict(), paths["center_param"])
        torch.save(center_opt.state_dict(), paths["optimizer_center"])
    return paths
