"""SGD with Gradient Centralization: SGD_GC, SGD_GCC, and decoupled weight decay SGDW, SGDW_GC, SGDW_GCC.

Rule (g gradient, p parameter): d = g + wd*p (SGDW: d = g); d = GC(d) where it applies; momentum buffer
b = d on the first step, else b = momentum*b + (1-dampening)*d; d = d + momentum*b if nesterov else b;
p = p - lr*d (SGDW: and p = p - lr*wd*p_old).
"""
from __future__ import annotations

import torch

from .base import GCOptimizer, check_hyper
from .centralization import row_mean, working_buffers

__all__ = ["SGD_GC", "SGD_GCC", "SGD_GC2", "SGD_GCC2", "SGDW", "SGDW_GC", "SGDW_GCC"]


class _SGD(GCOptimizer):
    """SGD (momentum, dampening, nesterov as torch.optim.SGD) with GC of the gradient + weight decay."""

    decoupled_weight_decay = False
    takes_momentum = True

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 *, foreach=None):
        check_hyper("momentum value", momentum)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, foreach=foreach)
        super().__init__(params, defaults)

    def _single_tensor_step(self, group, params, grads):
        lr, wd, momentum = group["lr"], group["weight_decay"], group["momentum"]
        dampening, nesterov = group["dampening"], group["nesterov"]
        coupled = wd != 0 and not self.decoupled_weight_decay
        for p, g, gc in zip(params, grads, self._gc_flags(params)):
            d = g.add(p, alpha=wd) if coupled else g
            # GC: d - mu, in place on d when d is this step's buffer, else on the first buffer written.
            mu = row_mean(d) if gc else None
            if mu is not None and d is not g:
                d = d.sub_(mu)
                mu = None
            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = d.clone() if mu is None else d.sub(mu)
                else:
                    if dampening == 0:
                        torch.add(d, buf, alpha=momentum, out=buf)
                    else:
                        buf.mul_(momentum).add_(d, alpha=1 - dampening)
                    if mu is not None:
                        buf.sub_(mu, alpha=1 - dampening)
                if nesterov:
                    d = d.add(buf, alpha=momentum) if d is g else d.add_(buf, alpha=momentum)
                    if mu is not None:
                        d.sub_(mu)
                else:
                    d = buf
                mu = None
            if wd != 0 and not coupled:
                p.mul_(1 - lr * wd)
            p.add_(d, alpha=-lr)
            if mu is not None:
                p.add_(mu, alpha=lr)

    def _multi_tensor_step(self, group, params, grads):
        lr, wd, momentum = group["lr"], group["weight_decay"], group["momentum"]
        dampening, nesterov = group["dampening"], group["nesterov"]
        coupled = wd != 0 and not self.decoupled_weight_decay
        bufs = [self.state[p].get("momentum_buffer") for p in params]
        for (ps, gs, bs), indices in self._by_device_and_dtype([params, grads, bufs]):
            gc = self._gc_flags(ps)
            ds = working_buffers(torch._foreach_add(gs, ps, alpha=wd) if coupled else gs, coupled, gc)
            owned = coupled or all(gc)
            if momentum != 0:
                if any(b is None for b in bs):
                    for i, (b, d) in enumerate(zip(bs, ds)):
                        if b is None:
                            bs[i] = self.state[params[indices[i]]]["momentum_buffer"] = d.clone()
                        else:
                            b.mul_(momentum).add_(d, alpha=1 - dampening)
                else:
                    torch._foreach_mul_(bs, momentum)
                    torch._foreach_add_(bs, ds, alpha=1 - dampening)
                if not nesterov:
                    ds = bs
                elif owned:
                    torch._foreach_add_(ds, bs, alpha=momentum)
                else:
                    ds = torch._foreach_add(ds, bs, alpha=momentum)
            if wd != 0 and not coupled:
                torch._foreach_mul_(ps, 1 - lr * wd)
            torch._foreach_add_(ps, ds, alpha=-lr)


class SGD_GC(_SGD):
    """SGD with GC on every weight with ndim > 1 (conv and fc)."""
    gc_mode = "gc"


class SGD_GCC(_SGD):
    """SGD with GC on conv weights only (ndim > 3)."""
    gc_mode = "gcc"


class SGDW(_SGD):
    """SGD with decoupled weight decay, p = p - lr*d - lr*wd*p_old; no GC."""
    decoupled_weight_decay = True


class SGDW_GC(SGDW):
    """SGDW with GC on every weight with ndim > 1."""
    gc_mode = "gc"


class SGDW_GCC(SGDW):
    """SGDW with GC on conv weights only (ndim > 3)."""
    gc_mode = "gcc"


class SGD_GC2(_SGD):
    """torch's SGD with GC of each step's change, weights with ndim > 1. SGD's rule is linear in d, so the
    centralized change lr * GC(buffer) is exactly SGD_GC's step: the same arithmetic (with the buffer kept
    centralized), instead of a generic wrapper's copy of the weights."""
    gc_mode = "gc"


class SGD_GCC2(_SGD):
    """SGD with GC of each step's change, conv weights (ndim > 3): SGD_GCC's arithmetic (see SGD_GC2)."""
    gc_mode = "gcc"
