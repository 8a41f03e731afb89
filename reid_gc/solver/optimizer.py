"""make_optimizer(cfg, model): the solver's parameter groups handed to the optimizer the config names."""
import inspect

import torch

from ..optim import resolve_optimizer
from ..utils.errors import UserError


def param_groups(cfg, model):
    """Two groups at most, keyed by (lr, weight decay): weights, and biases (BIAS_LR_FACTOR,
    WEIGHT_DECAY_BIAS). Few groups keep the multi-tensor optimizer path fast; frozen tensors are left out."""
    s = cfg.SOLVER
    weights, biases = [], []
    for name, p in model.named_parameters():
        if p.requires_grad:
            (biases if name.endswith("bias") else weights).append(p)
    groups = [
        {"params": weights, "lr": s.BASE_LR, "weight_decay": s.WEIGHT_DECAY},
        {"params": biases, "lr": s.BASE_LR * s.BIAS_LR_FACTOR, "weight_decay": s.WEIGHT_DECAY_BIAS},
    ]
    return [g for g in groups if g["params"]]


def optimizer_class(name):
    """The optimizer class SOLVER.OPTIMIZER_NAME `name` stands for; a UserError listing the valid names if none."""
    try:
        return resolve_optimizer(name)
    except ValueError as e:
        raise UserError(f"SOLVER.OPTIMIZER_NAME: {e}") from None


def make_optimizer(cfg, model, center_criterion=None):
    """Returns (optimizer, center_optimizer or None)."""
    name = cfg.SOLVER.OPTIMIZER_NAME
    cls = optimizer_class(name)
    kwargs = {"lr": cfg.SOLVER.BASE_LR}
    accepted = inspect.signature(cls).parameters
    if name.startswith("SGD") and "momentum" in accepted:
        kwargs["momentum"] = cfg.SOLVER.MOMENTUM
    groups = param_groups(cfg, model)
    if "fused" in accepted and cls.__module__.startswith("torch.optim") and \
            all(p.is_cuda and p.dtype == torch.float32 for g in groups for p in g["params"]):
        kwargs["fused"] = True  # torch's one-kernel step: the fastest on a GPU, same update
    optimizer = cls(groups, **kwargs)
    center_optimizer = None
    if center_criterion is not None:
        center_optimizer = torch.optim.SGD(center_criterion.parameters(), lr=cfg.SOLVER.CENTER_LR)
    return optimizer, center_optimizer
