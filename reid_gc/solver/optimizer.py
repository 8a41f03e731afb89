"""make_optimizer(cfg, model): the solver's parameter groups handed to the optimizer the config names."""
import inspect

import torch

from ..optim import Lookahead, capabilities, resolve_optimizer
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
    """The optimizer class SOLVER.OPTIMIZER_NAME `name` stands for; a UserError listing the valid names if none,
    or saying why the training step cannot drive it (LBFGS, SparseAdam, Muon and their GC forms)."""
    try:
        cls = resolve_optimizer(name)
    except ValueError as e:
        raise UserError(f"SOLVER.OPTIMIZER_NAME: {e}") from None
    refused = capabilities(cls).refused
    if refused:
        raise UserError(f"SOLVER.OPTIMIZER_NAME {name} cannot train a re-id model: {refused}; "
                        "use e.g. Adam, SGD_GCC or Ranger_GC2")
    return cls


def check_solver(cfg):
    """The optimizer-related keys, each refused in one line naming the key and what it accepts."""
    s = cfg.SOLVER
    optimizer_class(s.OPTIMIZER_NAME)
    for key in ("WEIGHT_DECAY", "WEIGHT_DECAY_BIAS"):
        if s[key] < 0:
            raise UserError(f"config key SOLVER.{key} must be 0 or more, got {s[key]}")
    if s.LOOKAHEAD_K < 0:
        raise UserError(f"config key SOLVER.LOOKAHEAD_K must be an integer >= 0 (0 = off), got {s.LOOKAHEAD_K}")
    if not 0.0 <= s.LOOKAHEAD_ALPHA <= 1.0:
        raise UserError(f"config key SOLVER.LOOKAHEAD_ALPHA must lie in [0, 1], got {s.LOOKAHEAD_ALPHA}")
    if s.GRAD_CLIP < 0:
        raise UserError(f"config key SOLVER.GRAD_CLIP must be >= 0 (a gradient norm; 0 = off), got {s.GRAD_CLIP}")
    betas = list(s.BETAS)
    if betas and (len(betas) != 2 or not all(isinstance(b, (int, float)) and not isinstance(b, bool)
                                             and 0.0 <= b < 1.0 for b in betas)):
        raise UserError(f"config key SOLVER.BETAS must be two numbers in [0, 1) like [0.9, 0.999] "
                        f"(or [] for the optimizer's own), got {betas}")
    if s.EPS < 0 and s.EPS != -1:
        raise UserError(f"config key SOLVER.EPS must be >= 0 (or -1 for the optimizer's own), got {s.EPS}")


def optimizer_kwargs(cfg, cls, groups):
    """The constructor arguments the config gives `cls`, by its declared capabilities and signature."""
    s = cfg.SOLVER
    caps = capabilities(cls)
    accepted = inspect.signature(cls).parameters
    kwargs = {"lr": s.BASE_LR}
    if caps.momentum and "momentum" in accepted:
        kwargs["momentum"] = s.MOMENTUM
    if caps.betas and s.BETAS and "betas" in accepted:
        kwargs["betas"] = tuple(float(b) for b in s.BETAS)
    if caps.betas and s.EPS != -1 and "eps" in accepted:
        kwargs["eps"] = s.EPS
    if "degenerated_to_sgd" in accepted:
        kwargs["degenerated_to_sgd"] = s.DEGENERATED_TO_SGD == "yes"
    if s.LOOKAHEAD_K > 0 and "k" in accepted and "alpha" in accepted:  # Ranger: its own Lookahead
        kwargs.update(k=s.LOOKAHEAD_K, alpha=s.LOOKAHEAD_ALPHA)
    if "fused" in accepted and cls.__module__.startswith("torch.optim") and \
            all(p.is_cuda and p.dtype == torch.float32 for g in groups for p in g["params"]):
        kwargs["fused"] = True  # torch's one-kernel step: the fastest on a GPU, same update
    return kwargs


def make_optimizer(cfg, model, center_criterion=None):
    """Returns (optimizer, center_optimizer or None); SOLVER.LOOKAHEAD_K > 0 wraps the optimizer in Lookahead
    (Ranger* set their built-in one instead)."""
    s = cfg.SOLVER
    cls = optimizer_class(s.OPTIMIZER_NAME)
    groups = param_groups(cfg, model)
    kwargs = optimizer_kwargs(cfg, cls, groups)
    try:
        optimizer = cls(groups, **kwargs)
    except ValueError as e:  # the optimizer's own hyper-parameter checks
        raise UserError(f"SOLVER.OPTIMIZER_NAME {s.OPTIMIZER_NAME}: {e}") from None
    if s.LOOKAHEAD_K > 0 and "k" not in kwargs:
        optimizer = Lookahead(optimizer, k=s.LOOKAHEAD_K, alpha=s.LOOKAHEAD_ALPHA)
    center_optimizer = None
    if center_criterion is not None:
        center_optimizer = torch.optim.SGD(center_criterion.parameters(), lr=cfg.SOLVER.CENTER_LR)
    return optimizer, center_optimizer
