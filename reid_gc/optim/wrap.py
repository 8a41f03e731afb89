"""GC for any torch.optim optimizer: `<TorchName>_GC`, `_GCC`, `_GC2`, `_GCC2` classes made on demand.

The generated class is a subclass of the torch optimizer (same arguments, same state_dict).
- `_GC` / `_GCC` (GC of the gradient): before torch's step each centralized parameter's gradient is swapped
  for GC(g + wd*p) when the optimizer adds L2 weight decay to the gradient (the group's weight decay is set to
  0 for that step, so it is counted once), GC(g) when its decay is decoupled (AdamW, decoupled_weight_decay);
  the original gradient object is put back afterwards, so `p.grad` is never modified.
- `_GC2` / `_GCC2` (GC of the update): torch's step runs unchanged, then each selected parameter's change
  p_new - p_old is centralized, i.e. p_new minus its row-mean change: every row keeps its mean (a copy of the
  selected weights is held during the step, as torch's multi-tensor steps hold temporaries).
"""
from __future__ import annotations

import functools
from typing import Dict, Tuple, Type

import torch
from torch.optim import Optimizer

from .base import refuse_sparse
from .capabilities import TORCH, Capabilities
from .centralization import GC_MODES, centralize_, centralized, gc_applies, row_means

__all__ = ["WRAPPABLE", "gc_wrapped", "torch_optimizers"]

#: torch optimizers GC cannot wrap: LBFGS re-evaluates gradients inside its step; SparseAdam takes sparse ones.
NOT_WRAPPABLE = ("LBFGS", "SparseAdam")
#: suffix -> (GC mode, GC of the update instead of the gradient)
SUFFIXES = {"_GC": ("gc", False), "_GCC": ("gcc", False), "_GC2": ("gc", True), "_GCC2": ("gcc", True)}


@functools.lru_cache(maxsize=None)
def torch_optimizers() -> Dict[str, Type[Optimizer]]:
    """torch.optim's optimizer classes by name (this torch version's)."""
    found = {}
    for name in dir(torch.optim):
        obj = getattr(torch.optim, name)
        if isinstance(obj, type) and issubclass(obj, Optimizer) and obj is not Optimizer:
            found[name] = obj
    return found


WRAPPABLE = sorted(n for n in torch_optimizers() if n not in NOT_WRAPPABLE)

_cache: Dict[Tuple[str, str, bool], Type[Optimizer]] = {}


def _torch_step(cls: Type[Optimizer]):
    """The torch optimizer's own step function, without the hook wrapper torch adds on first use
    (our class's step has its own, so step hooks run once)."""
    fn = cls.step
    return fn.__wrapped__ if getattr(fn, "hooked", False) else fn


def _folds_weight_decay(optimizer, group) -> bool:
    """Whether the optimizer adds the group's weight decay to the gradient (L2), so GC sees g + wd*p."""
    return (optimizer.capabilities.weight_decay == "l2" and group.get("weight_decay", 0) != 0
            and not group.get("decoupled_weight_decay", False))


def _swap_in_centralized_grads(optimizer):
    """Replaces the selected gradients by GC(g [+ wd*p]) and zeroes folded weight decays;
    returns ([(param, original grad)], [(group, weight decay)]) to put back."""
    swapped, decays = [], []
    with torch.no_grad():
        for group in optimizer.param_groups:
            fold = _folds_weight_decay(optimizer, group)
            wd = group.get("weight_decay", 0)
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                refuse_sparse(optimizer, g)
                if fold:
                    swapped.append((p, g))
                    p.grad = g.add(p, alpha=wd)
                    if gc_applies(p, optimizer.gc_mode):
                        centralize_(p.grad)  # this step's own buffer
                elif gc_applies(p, optimizer.gc_mode):
                    swapped.append((p, g))
                    p.grad = centralized(g)
            if fold:
                decays.append((group, wd))
                group["weight_decay"] = 0
    return swapped, decays


def _gc_step(self, base, kwargs):
    swapped, decays = _swap_in_centralized_grads(self)
    try:
        _torch_step(base)(self, **kwargs)
    finally:
        for p, g in swapped:
            p.grad = g
        for group, wd in decays:
            group["weight_decay"] = wd


def _gc2_step(self, base, kwargs):
    with torch.no_grad():
        selected = [p for group in self.param_groups for p in group["params"]
                    if p.grad is not None and gc_applies(p, self.gc_mode)]
        for p in selected:
            refuse_sparse(self, p.grad)
        params = [p.detach() for p in selected]
        # A copy, not just the old row means: the mean of p_new - p_old is then exact to the change's own
        # precision (a difference of two means of p would carry |p|'s rounding, large beside a small change).
        old = torch._foreach_mul(params, 1.0) if params else []
    _torch_step(base)(self, **kwargs)
    if params:
        with torch.no_grad():
            torch._foreach_sub_(old, params)  # old := p_old - p_new = -change
            torch._foreach_add_(params, row_means(old))


def gc_wrapped(torch_name: str, mode: str, on_update: bool = False) -> Type[Optimizer]:
    """The class `<torch_name>_GC` (mode 'gc') or `_GCC` (mode 'gcc'), or with `on_update` `_GC2` / `_GCC2`:
    torch.optim.<torch_name> with GC of the gradient before each step, or of each step's change.
    Cached: the same arguments give the same class."""
    if torch_name not in WRAPPABLE:
        raise ValueError(f"cannot wrap {torch_name!r}: wrappable torch optimizers: {', '.join(WRAPPABLE)}")
    if mode not in GC_MODES:
        raise ValueError(f"GC mode must be one of {sorted(GC_MODES)}, got {mode!r}")
    key = (torch_name, mode, bool(on_update))
    if key not in _cache:
        base = torch_optimizers()[torch_name]
        inner = _gc2_step if on_update else _gc_step

        def step(self, closure=None, **kwargs):  # kwargs: e.g. the grad scaler's, passed on
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            inner(self, base, kwargs)
            return loss

        name = torch_name + {v: k for k, v in SUFFIXES.items()}[(mode, bool(on_update))]
        what = "every weight with ndim > 1" if mode == "gc" else "conv weights (ndim > 3)"
        where = "the change of each step (weight means kept)" if on_update else "the gradient (plus L2 decay)"
        _cache[key] = type(name, (base,), {
            "gc_mode": mode, "gc_update": bool(on_update), "step": step, "__module__": "reid_gc.optim",
            "__qualname__": name, "capabilities": TORCH.get(torch_name, Capabilities()),
            "__doc__": f"torch.optim.{torch_name} with Gradient Centralization of {where} of {what}."})
    return _cache[key]
