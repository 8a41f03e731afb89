"""The GC authors' rectified Adam rules (their `algorithm-GC` folder): PlainRAdam and Ranger, with GC.

t step count from 1, g the gradient, b1, b2 = betas, N_max = 2/(1-b2) - 1,
N_t = N_max - 2 t b2^t / (1 - b2^t):
- GC on the gradient ("_GC", "_GCC"; the authors' gc_loc=True): g = GC(g), in p.grad's own storage as published;
- m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
- rectified (N_t >= 5; Ranger: N_t > N_sma_threshhold): r = sqrt((1-b2^t) (N_t-4)/(N_max-4) (N_t-2)/N_t
  N_max/(N_max-2)) / (1-b1^t) and G = m / (sqrt(v) + eps), a new tensor;
- otherwise, with degenerated_to_sgd (always for Ranger): r = 1/(1-b1^t) and G = m itself, so that the two
  in-place operations below also change the running average m, exactly as the published step does;
  without degenerated_to_sgd the tensor is not moved this step (the published code fails there, see below);
- G = G + wd*p (in place); GC on the update ("_GC2", "_GCC2"; gc_loc=False): G = GC(G) (in place);
- p = p - lr*r*G; PlainRAdam, as published, applies lr twice: p = p - lr*lr*r*G;
- Ranger only: every k-th step of a tensor (t % k == 0) slow = slow + alpha*(p - slow); p = slow, with slow the
  tensor's value before its first step (state 'slow_buffer').

Deliberate differences from the published files: a closure is evaluated (Ranger ignored it); Ranger reads
alpha, k and N_sma_threshhold from the parameter group (the published step read the constructor's alpha and
threshold); the N_t / r cache (RAdam's group 'buffer', Ranger's radam_buffer) is not kept: they are
recomputed per step and group, which gives the same numbers; with degenerated_to_sgd=False the published
step reaches an undefined update in the first steps (NameError, or the previous tensor's update): here those
steps update the moments only, as the original RAdam does.
"""
from __future__ import annotations

import math

import torch

from .base import GCOptimizer, check_hyper
from .centralization import centralize_, centralize_all_

__all__ = ["PlainRAdam", "PlainRAdam_GC", "PlainRAdam_GCC", "PlainRAdam_GC2", "PlainRAdam_GCC2",
           "Ranger", "Ranger_GC", "Ranger_GCC", "Ranger_GC2", "Ranger_GCC2", "RectifiedAdam"]


class RectifiedAdam(GCOptimizer):
    """The rule above; subclasses set `gc_mode`, `gc_update` (GC on the update), `lr_twice` (PlainRAdam)
    and `lookahead` (Ranger). Arguments as the authors' RAdam/PlainRAdam, plus `foreach`."""

    gc_update = False
    lr_twice = False
    lookahead = False
    takes_betas = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, degenerated_to_sgd=True,
                 *, foreach=None):
        self._check(eps, betas)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        degenerated_to_sgd=degenerated_to_sgd, foreach=foreach)
        super().__init__(params, defaults)

    @staticmethod
    def _check(eps, betas):
        check_hyper("epsilon value", eps)
        check_hyper("beta parameter at index 0", betas[0], 0.0, 1.0)
        check_hyper("beta parameter at index 1", betas[1], 0.0, 1.0)

    def _states(self, params):
        out = []
        for p in params:
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                if self.lookahead:
                    state["slow_buffer"] = p.detach().clone()
            out.append((state["exp_avg"], state["exp_avg_sq"], state.get("slow_buffer")))
        return out

    def _step_size(self, group, t):
        """(lr * r, rectified) of step t; (None, False) when the tensor does not move this step."""
        beta1, beta2 = group["betas"]
        beta2_t = beta2 ** t
        n_max = 2 / (1 - beta2) - 1
        n_t = n_max - 2 * t * beta2_t / (1 - beta2_t)
        if self.lookahead:
            rectified = n_t > group["N_sma_threshhold"]
        else:
            rectified = n_t >= 5
        if rectified:
            r = math.sqrt((1 - beta2_t) * (n_t - 4) / (n_max - 4) * (n_t - 2) / n_t * n_max / (n_max - 2))
        elif self.lookahead or group["degenerated_to_sgd"]:
            r = 1.0
        else:
            return None, False
        lr = group["lr"]
        return lr * r / (1 - beta1 ** t) * (lr if self.lr_twice else 1.0), rectified

    def _single_tensor_step(self, group, params, grads):
        beta1, beta2 = group["betas"]
        wd, eps = group["weight_decay"], group["eps"]
        states, steps = self._states(params), self._next_steps(params)
        for p, g, (exp_avg, exp_avg_sq, slow), t, gc in zip(params, grads, states, steps, self._gc_flags(params)):
            if gc and not self.gc_update:
                centralize_(g)
            exp_avg.mul_(beta1).add_(g, alpha=1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            size, rectified = self._step_size(group, t)
            if size is not None:
                own = gc and self.gc_update
                if rectified:
                    denom = exp_avg_sq.sqrt().add_(eps)
                    if wd == 0 and not own:
                        p.addcdiv_(exp_avg, denom, value=-size)
                        denom = None
                    else:
                        update = torch.div(exp_avg, denom, out=denom)
                else:
                    update = exp_avg  # the published step works in m's own storage here
                if not rectified or denom is not None:
                    if wd != 0:
                        update.add_(p, alpha=wd)
                    if own:
                        centralize_(update)
                    p.add_(update, alpha=-size)
            if self.lookahead and t % group["k"] == 0:
                slow.lerp_(p, group["alpha"])
                p.copy_(slow)

    def _multi_tensor_step(self, group, params, grads):
        beta1, beta2 = group["betas"]
        wd, eps = group["weight_decay"], group["eps"]
        exp_avgs, exp_avg_sqs, slows = (list(x) for x in zip(*self._states(params)))
        steps = self._next_steps(params)
        for (ps, gs, ms, vs, ss), indices in self._by_device_and_dtype([params, grads, exp_avgs, exp_avg_sqs,
                                                                         slows]):
            gc = self._gc_flags(ps)
            if not self.gc_update:
                centralize_all_([g for g, c in zip(gs, gc) if c])
            torch._foreach_mul_(ms, beta1)
            torch._foreach_add_(ms, gs, alpha=1 - beta1)
            torch._foreach_mul_(vs, beta2)
            torch._foreach_addcmul_(vs, gs, gs, value=1 - beta2)
            by_step = {}
            for j, i in enumerate(indices):
                by_step.setdefault(steps[i], []).append(j)
            for t, js in by_step.items():
                size, rectified = self._step_size(group, t)
                if size is not None:
                    self._apply(group, [ps[j] for j in js], [ms[j] for j in js], [vs[j] for j in js],
                                [gc[j] for j in js], size, rectified, wd, eps)
                if self.lookahead and t % group["k"] == 0:
                    sync_p, sync_s = [ps[j] for j in js], [ss[j] for j in js]
                    torch._foreach_lerp_(sync_s, sync_p, group["alpha"])
                    torch._foreach_copy_(sync_p, sync_s)

    def _apply(self, group, ps, ms, vs, gc, size, rectified, wd, eps):
        """p -= size * G for one step count's tensors (multi-tensor path)."""
        own = self.gc_update and any(gc)
        if rectified:
            denoms = torch._foreach_sqrt(vs)
            torch._foreach_add_(denoms, eps)
            if wd == 0 and not own:
                torch._foreach_addcdiv_(ps, ms, denoms, value=-size)
                return
            updates = torch._foreach_div(ms, denoms)
            del denoms
        else:
            updates = ms  # the published step works in m's own storage here
        if wd != 0:
            torch._foreach_add_(updates, ps, alpha=wd)
        if own:
            centralize_all_([u for u, c in zip(updates, gc) if c])
        torch._foreach_add_(ps, updates, alpha=-size)


class PlainRAdam(RectifiedAdam):
    """The authors' PlainRAdam (no GC): the rule above with lr applied twice, as published."""
    lr_twice = True


class PlainRAdam_GC(PlainRAdam):
    """PlainRAdam with GC of the gradient (gc_loc=True) of every weight with ndim > 1."""
    gc_mode = "gc"


class PlainRAdam_GCC(PlainRAdam):
    """PlainRAdam with GC of the gradient (gc_loc=True) of conv weights (ndim > 3)."""
    gc_mode = "gcc"


class PlainRAdam_GC2(PlainRAdam):
    """PlainRAdam with GC of the update (gc_loc=False) of every weight with ndim > 1: weight means are kept."""
    gc_mode, gc_update = "gc", True


class PlainRAdam_GCC2(PlainRAdam):
    """PlainRAdam with GC of the update (gc_loc=False) of conv weights (ndim > 3): their means are kept."""
    gc_mode, gc_update = "gcc", True


class Ranger(RectifiedAdam):
    """The authors' Ranger (no GC): their RAdam rule (always degenerating to SGD, threshold N_sma_threshhold)
    with Lookahead built in (k, alpha). Arguments and defaults as published, plus `foreach`."""

    lookahead = True

    def __init__(self, params, lr=1e-3, alpha=0.5, k=6, N_sma_threshhold=5, betas=(.95, 0.999), eps=1e-5,
                 weight_decay=0, *, foreach=None):
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"invalid slow update rate alpha: {alpha!r} (must be in [0, 1])")
        if not k >= 1:
            raise ValueError(f"invalid lookahead steps k: {k!r} (must be >= 1)")
        if not lr > 0:
            raise ValueError(f"invalid learning rate: {lr!r} (must be > 0)")
        if not eps > 0:
            raise ValueError(f"invalid epsilon value: {eps!r} (must be > 0)")
        self._check(eps, betas)
        defaults = dict(lr=lr, alpha=alpha, k=k, step_counter=0, betas=tuple(betas),
                        N_sma_threshhold=N_sma_threshhold, eps=eps, weight_decay=weight_decay, foreach=foreach)
        GCOptimizer.__init__(self, params, defaults)


class Ranger_GC(Ranger):
    """Ranger with GC of the gradient (gc_loc=True) of every weight with ndim > 1."""
    gc_mode = "gc"


class Ranger_GCC(Ranger):
    """Ranger with GC of the gradient (gc_loc=True) of conv weights (ndim > 3)."""
    gc_mode = "gcc"


class Ranger_GC2(Ranger):
    """Ranger with GC of the update (gc_loc=False, the authors' advice) of every weight with ndim > 1."""
    gc_mode, gc_update = "gc", True


class Ranger_GCC2(Ranger):
    """Ranger with GC of the update (gc_loc=False) of conv weights (ndim > 3)."""
    gc_mode, gc_update = "gcc", True
