"""Drop-in for the GC authors' `algorithm-GC` optimizers (Yonghongwei/Gradient-Centralization):

    from reid_gc.optim.algorithm_gc import Ranger          # was: from algorithm.Ranger import Ranger
    optimizer = Ranger(model.parameters(), lr=1e-3, weight_decay=5e-4, use_gc=True, gc_conv_only=False,
                       gc_loc=False)

`SGD`, `Adam`, `AdamW`, `RAdam`, `PlainRAdam`, `Ranger` and `Lookahead` take the published constructor
arguments with the published defaults (plus a keyword-only `foreach`) and follow the published update rules,
on the GC family's fast single-tensor and multi-tensor paths. The switches: `use_gc` (GC at all),
`gc_conv_only` (conv weights, ndim > 3, instead of every weight with ndim > 1) and, for the adaptive rules,
`gc_loc`: True centralizes the incoming gradient, False the "generalized gradient" that moves the weight.

Published side effects kept, because they change results or what a caller sees:
- GC of the gradient works in `p.grad`'s own storage whenever the published step does (SGD without momentum
  and weight decay; Adam with gc_loc and no weight decay; AdamW, RAdam, PlainRAdam and Ranger with gc_loc),
  so p.grad is centralized after the step;
- in the first steps of RAdam, PlainRAdam and Ranger (before rectification) the update is computed in the
  running average's own storage: its weight decay and GC (gc_loc=False) change exp_avg for later steps;
- PlainRAdam applies the learning rate twice (p -= lr * lr * r * G);
- AdamW's decoupled decay is scaled by lr/(1-b1^t) (p -= lr/(1-b1^t) * (m/denom + wd*p)), and its default
  weight_decay is 1e-2 and gc_loc True.
Where our state differs from the published one: SGD with Nesterov keeps the centralized momentum buffer
(same weights); RAdam has no group 'buffer' cache. See reid_gc.optim.radam for the RAdam family's remaining
deliberate differences (closure, cache, degenerated_to_sgd=False).
"""
from __future__ import annotations

import torch
from torch.optim.optimizer import required

from .adam import _Adam
from .centralization import centralize_, gc_applies
from .lookahead import Lookahead
from .radam import Ranger as _Ranger
from .radam import RectifiedAdam
from .sgd import _SGD

__all__ = ["SGD", "Adam", "AdamW", "RAdam", "PlainRAdam", "Ranger", "Lookahead"]


def _mode(use_gc, gc_conv_only):
    return ("gcc" if gc_conv_only else "gc") if use_gc else None


class _Switches:
    """use_gc / gc_conv_only / gc_loc as instance attributes, as published (SGD keeps them per group)."""

    def _set_switches(self, use_gc, gc_conv_only, gc_loc):
        self.use_gc, self.gc_conv_only, self.gc_loc = use_gc, gc_conv_only, gc_loc
        self.gc_mode = _mode(use_gc, gc_conv_only)
        self.gc_update = not gc_loc

    def __getstate__(self):  # torch's keeps defaults, state and groups only; the switches travel too
        return dict(super().__getstate__(), switches=(self.use_gc, self.gc_conv_only, self.gc_loc))

    def __setstate__(self, state):
        switches = state.pop("switches", None)
        super().__setstate__(state)
        if switches is not None:
            self._set_switches(*switches)


class SGD(_SGD):
    """The authors' SGD: torch's SGD rule with GC of the step's direction d (gradient + weight decay, through
    momentum): p -= lr * GC(d). `use_gc` and `gc_conv_only` are parameter-group options, as published."""

    def __init__(self, params, lr=required, momentum=0, dampening=0, weight_decay=0, nesterov=False, use_gc=False,
                 gc_conv_only=False, *, foreach=None):
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        self._switch_defaults = dict(use_gc=use_gc, gc_conv_only=gc_conv_only)
        super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                         nesterov=nesterov, foreach=foreach)

    def add_param_group(self, param_group):
        for key, value in getattr(self, "_switch_defaults", {}).items():
            param_group.setdefault(key, value)
        super().add_param_group(param_group)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("use_gc", False)
            group.setdefault("gc_conv_only", False)

    def _group_gc_mode(self, group):
        return _mode(group["use_gc"], group["gc_conv_only"])

    @torch.no_grad()
    def step(self, closure=None):
        loss = super().step(closure)
        # Published: without momentum and weight decay the direction d is p.grad itself, centralized in place.
        for group in self.param_groups:
            mode = self._group_gc_mode(group)
            if mode is not None and group["momentum"] == 0 and group["weight_decay"] == 0:
                for p in group["params"]:
                    if p.grad is not None and gc_applies(p, mode):
                        centralize_(p.grad)
        return loss


class Adam(_Switches, _Adam):
    """The authors' Adam: torch's Adam (L2 weight decay in the gradient); gc_loc=True: GC(g + wd*p) before the
    moments, gc_loc=False: p -= lr/(1-b1^t) * GC(m / (sqrt(v)/sqrt(1-b2^t) + eps))."""

    grad_in_place = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, use_gc=False,
                 gc_conv_only=False, gc_loc=False, *, foreach=None):
        self._set_switches(use_gc, gc_conv_only, gc_loc)
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach)


class AdamW(_Switches, _Adam):
    """The authors' AdamW: m, v of GC(g) (gc_loc=True, the default) and p -= lr/(1-b1^t) * G with
    G = m / (sqrt(v)/sqrt(1-b2^t) + eps) + wd*p, centralized when gc_loc=False."""

    decoupled_weight_decay = True
    grad_in_place = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 use_gc=False, gc_conv_only=False, gc_loc=True, *, foreach=None):
        self._set_switches(use_gc, gc_conv_only, gc_loc)
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         foreach=foreach)

    def _decay(self, group, t):
        beta1, _ = group["betas"]
        return group["lr"] * group["weight_decay"] / (1 - beta1 ** t)


class RAdam(_Switches, RectifiedAdam):
    """The authors' RAdam (see reid_gc.optim.radam for the rule and its in-place first steps)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, degenerated_to_sgd=True,
                 use_gc=False, gc_conv_only=False, gc_loc=False, *, foreach=None):
        self._set_switches(use_gc, gc_conv_only, gc_loc)
        self.degenerated_to_sgd = degenerated_to_sgd
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         degenerated_to_sgd=degenerated_to_sgd, foreach=foreach)


class PlainRAdam(RAdam):
    """The authors' PlainRAdam: RAdam's rule with the learning rate applied twice, as published."""

    lr_twice = True


class Ranger(_Switches, _Ranger):
    """The authors' Ranger: their RAdam rule with Lookahead built in (see reid_gc.optim.radam)."""

    def __init__(self, params, lr=1e-3, alpha=0.5, k=6, N_sma_threshhold=5, betas=(.95, 0.999), eps=1e-5,
                 weight_decay=0, use_gc=False, gc_conv_only=False, gc_loc=False, *, foreach=None):
        self._set_switches(use_gc, gc_conv_only, gc_loc)
        self.alpha, self.k, self.N_sma_threshhold = alpha, k, N_sma_threshhold
        super().__init__(params, lr=lr, alpha=alpha, k=k, N_sma_threshhold=N_sma_threshhold, betas=betas, eps=eps,
                         weight_decay=weight_decay, foreach=foreach)
