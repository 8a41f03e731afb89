"""Adam and the paper's AdamW with Gradient Centralization.

t step count from 1, c = sqrt(1 - b2^t), s = lr * c / (1 - b1^t):
- Adam_GC, Adam_GCC: d = GC(g + wd*p); m = b1*m + (1-b1)*d; v = b2*v + (1-b2)*d^2 (amsgrad: vmax = max(vmax, v)
  in place of v); p = p - (lr/(1-b1^t)) * m / (sqrt(v)/c + eps)  =  p - s * m / (sqrt(v) + eps*c).
- Adam_GC2, Adam_GCC2 (keep the weight mean): no GC on d; p = p - GC(u), u the update above.
- AdamW, AdamW_GC, AdamW_GCC: torch.optim.AdamW's rule, d = GC(g) where it applies (no wd in d);
  u = lr*wd*p + (lr/(1-b1^t)) * m / (sqrt(v)/c + eps); p = p - u.
- AdamW_GC2, AdamW_GCC2: AdamW with no GC on d and p = p - GC(u) (the whole change, decay included).
`reid_gc.optim.AdamW` is torch's AdamW rule on this code path (so `AdamW` and `AdamW_GC` differ only by GC);
the GC authors' algorithm-GC AdamW (decay scaled by lr/(1-b1^t)) is `reid_gc.optim.algorithm_gc.AdamW`.
"""
from __future__ import annotations

import math

import torch

from .base import GCOptimizer, check_hyper, foreach_add_scaled_, scalar_or_list
from .centralization import centralize_, centralize_all_, centralized, working_buffers

__all__ = ["Adam_GC", "Adam_GCC", "Adam_GC2", "Adam_GCC2",
           "AdamW", "AdamW_GC", "AdamW_GCC", "AdamW_GC2", "AdamW_GCC2"]


class _Adam(GCOptimizer):
    """Adam / paper-AdamW; `gc_update` False: GC on the gradient, True: GC on the update ("_GC2")."""

    decoupled_weight_decay = False
    gc_update = False
    #: GC of the gradient in p.grad's own storage when no copy is needed (the algorithm-GC drop-ins, as published).
    grad_in_place = False
    takes_betas = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 *, foreach=None):
        check_hyper("epsilon value", eps)
        check_hyper("beta parameter at index 0", betas[0], 0.0, 1.0)
        check_hyper("beta parameter at index 1", betas[1], 0.0, 1.0)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        foreach=foreach)
        super().__init__(params, defaults)

    def _states(self, group, params):
        """[(exp_avg, exp_avg_sq, max_exp_avg_sq or None)] per parameter, created on first use."""
        out = []
        for p in params:
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            if group["amsgrad"] and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
            out.append((state["exp_avg"], state["exp_avg_sq"], state.get("max_exp_avg_sq")))
        return out

    def _scalars(self, group, t):
        """(s, eps added to sqrt(v)) of step t; see the module's rules."""
        beta1, beta2 = group["betas"]
        c = math.sqrt(1 - beta2 ** t)
        return group["lr"] * c / (1 - beta1 ** t), group["eps"] * c

    def _decay(self, group, t):
        """The decoupled weight decay's share of p removed at step t: torch's AdamW, lr*wd."""
        return group["lr"] * group["weight_decay"]

    def _single_tensor_step(self, group, params, grads):
        beta1, beta2 = group["betas"]
        wd, amsgrad = group["weight_decay"], group["amsgrad"]
        coupled = wd != 0 and not self.decoupled_weight_decay
        decoupled = wd != 0 and self.decoupled_weight_decay
        states, steps = self._states(group, params), self._next_steps(params)
        for p, g, (exp_avg, exp_avg_sq, max_exp_avg_sq), t, gc in zip(
                params, grads, states, steps, self._gc_flags(params)):
            d = g.add(p, alpha=wd) if coupled else g
            if gc and not self.gc_update:
                d = centralize_(d) if coupled or self.grad_in_place else centralized(d)
            exp_avg.lerp_(d, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(d, d, value=1 - beta2)
            del d
            if amsgrad:
                exp_avg_sq = torch.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            s, eps = self._scalars(group, t)
            denom = exp_avg_sq.sqrt().add_(eps)
            if gc and self.gc_update:
                u = torch.div(exp_avg, denom, out=denom)
                if decoupled:
                    u.add_(p, alpha=self._decay(group, t) / s)
                p.add_(centralize_(u), alpha=-s)
            else:
                if decoupled:
                    p.mul_(1 - self._decay(group, t))
                p.addcdiv_(exp_avg, denom, value=-s)

    def _multi_tensor_step(self, group, params, grads):
        beta1, beta2 = group["betas"]
        wd, amsgrad = group["weight_decay"], group["amsgrad"]
        coupled = wd != 0 and not self.decoupled_weight_decay
        decoupled = wd != 0 and self.decoupled_weight_decay
        states = list(zip(*self._states(group, params)))
        steps = self._next_steps(params)
        lists = [params, grads, list(states[0]), list(states[1]), list(states[2])]
        for (ps, gs, exp_avgs, exp_avg_sqs, max_sqs), indices in self._by_device_and_dtype(lists):
            gc = self._gc_flags(ps)
            ds = torch._foreach_add(gs, ps, alpha=wd) if coupled else gs
            if not self.gc_update:
                ds = working_buffers(ds, coupled or self.grad_in_place, gc)
            torch._foreach_lerp_(exp_avgs, ds, 1 - beta1)
            torch._foreach_mul_(exp_avg_sqs, beta2)
            torch._foreach_addcmul_(exp_avg_sqs, ds, ds, value=1 - beta2)
            del ds
            if amsgrad:
                torch._foreach_maximum_(max_sqs, exp_avg_sqs)
                exp_avg_sqs = max_sqs
            scalars = [self._scalars(group, steps[i]) for i in indices]
            neg_s = [-s for s, _ in scalars]
            decays = [self._decay(group, steps[i]) for i in indices]
            denoms = torch._foreach_sqrt(exp_avg_sqs)
            torch._foreach_add_(denoms, scalar_or_list([eps for _, eps in scalars]))
            if self.gc_update:
                # u = m / denom (in denom's memory) [+ wd*p]; GC(u); p -= s*u.
                torch._foreach_div_(denoms, exp_avgs)
                torch._foreach_reciprocal_(denoms)
                if decoupled:
                    ratios = [d / -ns for d, ns in zip(decays, neg_s)]
                    ratio = scalar_or_list(ratios)
                    if isinstance(ratio, list):
                        torch._foreach_add_(denoms, torch._foreach_mul(ps, ratio))
                    else:
                        torch._foreach_add_(denoms, ps, alpha=ratio)
                centralize_all_([u for u, c in zip(denoms, gc) if c])
                foreach_add_scaled_(ps, denoms, neg_s)
            else:
                if decoupled:
                    torch._foreach_mul_(ps, scalar_or_list([1 - d for d in decays]))
                torch._foreach_addcdiv_(ps, exp_avgs, denoms, scalar_or_list(neg_s))


class Adam_GC(_Adam):
    """Adam with GC of g + wd*p for weights with ndim > 1 (conv and fc)."""
    gc_mode = "gc"


class Adam_GCC(_Adam):
    """Adam with GC of g + wd*p for conv weights (ndim > 3)."""
    gc_mode = "gcc"


class Adam_GC2(_Adam):
    """Adam keeping the weight mean: p = p - GC(update), weights with ndim > 1."""
    gc_mode, gc_update = "gc", True


class Adam_GCC2(_Adam):
    """Adam keeping the weight mean: p = p - GC(update), conv weights (ndim > 3)."""
    gc_mode, gc_update = "gcc", True


class AdamW(_Adam):
    """torch.optim.AdamW's rule on the GC family's code path: p = p*(1 - lr*wd) - lr/(1-b1^t) * m/(sqrt(v)/c + eps)."""
    decoupled_weight_decay = True


class AdamW_GC(AdamW):
    """AdamW with GC of g for weights with ndim > 1 (conv and fc)."""
    gc_mode = "gc"


class AdamW_GCC(AdamW):
    """AdamW with GC of g for conv weights (ndim > 3)."""
    gc_mode = "gcc"


class AdamW_GC2(AdamW):
    """AdamW keeping the weight mean: p = p - GC(u), weights with ndim > 1."""
    gc_mode, gc_update = "gc", True


class AdamW_GCC2(AdamW):
    """AdamW keeping the weight mean: p = p - GC(u), conv weights (ndim > 3)."""
    gc_mode, gc_update = "gcc", True
