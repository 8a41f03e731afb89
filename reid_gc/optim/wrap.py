"""GC for any torch.optim optimizer: `<TorchName>_GC` / `<TorchName>_GCC` classes made on demand.

The generated class is a subclass of the torch optimizer (same arguments, same state_dict). Before
its step it swaps each centralized parameter's gradient for a centralized copy, and puts the
original gradient object back afterwards, so `p.grad` is never modified.
"""
from __future__ import annotations

import functools
from typing import Dict, List, Tuple, Type

import torch
from torch.optim import Optimizer

from .base import refuse_sparse
from .centralization import GC_MODES, centralized, gc_applies

__all__ = ["WRAPPABLE", "gc_wrapped", "torch_optimizers"]

#: torch optimizers GC cannot wrap: LBFGS re-evaluates gradients inside its step; SparseAdam takes sparse ones.
NOT_WRAPPABLE = ("LBFGS", "SparseAdam")
SUFFIXES = {"_GC": "gc", "_GCC": "gcc"}


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

_cache: Dict[Tuple[str, str], Type[Optimizer]] = {}


def _torch_step(cls: Type[Optimizer]):
    """The torch optimizer's own step function, without the hook wrapper torch adds on first use
    (our class's step has its own, so step hooks run once)."""
    fn = cls.step
    return fn.__wrapped__ if getattr(fn, "hooked", False) else fn


def _swap_in_centralized_grads(optimizer) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    """Replaces the selected gradients by centralized copies; returns [(param, original grad)]."""
    swapped = []
    with torch.no_grad():
        for group in optimizer.param_groups:
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                refuse_sparse(optimizer, g)
                if gc_applies(p, optimizer.gc_mode):
                    swapped.append((p, g))
                    p.grad = centralized(g)
    return swapped


def gc_wrapped(torch_name: str, mode: str) -> Type[Optimizer]:
    """The class `<torch_name>_GC` (mode 'gc') or `<torch_name>_GCC` (mode 'gcc'): torch.optim.<torch_name>
    with its gradients centralized before each step. Cached: the same arguments give the same class."""
    if torch_name not in WRAPPABLE:
        raise ValueError(f"cannot wrap {torch_name!r}: wrappable torch optimizers: {', '.join(WRAPPABLE)}")
    if mode not in GC_MODES:
        raise ValueError(f"GC mode must be one of {sorted(GC_MODES)}, got {mode!r}")
    key = (torch_name, mode)
    if key not in _cache:
        base = torch_optimizers()[torch_name]

        def step(self, closure=None, **kwargs):  # kwargs: e.g. the grad scaler's, passed on
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            swapped = _swap_in_centralized_grads(self)
            try:
                _torch_step(base)(self, **kwargs)
            finally:
                for p, g in swapped:
                    p.grad = g
            return loss

        name = torch_name + {v: k for k, v in SUFFIXES.items()}[mode]
        what = "every weight with ndim > 1" if mode == "gc" else "conv weights (ndim > 3)"
        _cache[key] = type(name, (base,), {
            "gc_mode": mode, "step": step, "__module__": "reid_gc.optim", "__qualname__": name,
            "__doc__": f"torch.optim.{torch_name} with Gradient Centralization of the gradients of {what}."})
    return _cache[key]
