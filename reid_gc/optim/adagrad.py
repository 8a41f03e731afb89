"""Adagrad with Gradient Centralization: Adagrad_GC, Adagrad_GCC.

Rule (t step count from 1): d = GC(g + wd*p); s = s + d^2 (s starts at initial_accumulator_value);
p = p - (lr / (1 + (t-1)*lr_decay)) * d / (sqrt(s) + eps).
"""
from __future__ import annotations

import torch

from .base import GCOptimizer, check_hyper, scalar_or_list
from .centralization import centralize_, centralized, working_buffers

__all__ = ["Adagrad_GC", "Adagrad_GCC"]


class _Adagrad(GCOptimizer):
    """Adagrad (arguments as torch.optim.Adagrad) with GC of g + wd*p."""

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10, foreach=None):
        check_hyper("lr_decay value", lr_decay)
        check_hyper("initial_accumulator_value", initial_accumulator_value)
        check_hyper("epsilon value", eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, foreach=foreach)
        super().__init__(params, defaults)

    def _sums(self, group, params):
        sums = []
        for p in params:
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["sum"] = torch.full_like(p, group["initial_accumulator_value"],
                                               memory_format=torch.preserve_format)
            sums.append(state["sum"])
        return sums

    def _neg_clrs(self, group, steps):
        return [-group["lr"] / (1 + (t - 1) * group["lr_decay"]) for t in steps]

    def _single_tensor_step(self, group, params, grads):
        wd, eps = group["weight_decay"], group["eps"]
        sums = self._sums(group, params)
        neg_clrs = self._neg_clrs(group, self._next_steps(params))
        for p, g, s, gc, neg_clr in zip(params, grads, sums, self._gc_flags(params), neg_clrs):
            d = g.add(p, alpha=wd) if wd != 0 else g
            if gc:
                d = centralize_(d) if wd != 0 else centralized(d)
            s.addcmul_(d, d)
            p.addcdiv_(d, s.sqrt().add_(eps), value=neg_clr)

    def _multi_tensor_step(self, group, params, grads):
        wd, eps = group["weight_decay"], group["eps"]
        sums = self._sums(group, params)
        neg_clrs = self._neg_clrs(group, self._next_steps(params))
        for (ps, gs, ss), indices in self._by_device_and_dtype([params, grads, sums]):
            ds = working_buffers(torch._foreach_add(gs, ps, alpha=wd) if wd != 0 else gs, wd != 0,
                                 self._gc_flags(ps))
            torch._foreach_addcmul_(ss, ds, ds)
            stds = torch._foreach_sqrt(ss)
            torch._foreach_add_(stds, eps)
            torch._foreach_addcdiv_(ps, ds, stds, scalar_or_list([neg_clrs[i] for i in indices]))


class Adagrad_GC(_Adagrad):
    """Adagrad with GC for weights with ndim > 1 (conv and fc)."""
    gc_mode = "gc"


class Adagrad_GCC(_Adagrad):
    """Adagrad with GC for conv weights (ndim > 3)."""
    gc_mode = "gcc"
