"""The base of the GC optimizers: the step loop, the single-tensor / multi-tensor path choice, checks."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.optimizer import _default_to_fused_or_foreach, required

from .centralization import GC_MODES, gc_applies

__all__ = ["GCOptimizer"]


def check_hyper(name: str, value: float, low: float = 0.0, high: Optional[float] = None) -> None:
    """Raises ValueError unless low <= value (< high)."""
    if not (low <= value and (high is None or value < high)):
        bound = f">= {low}" + ("" if high is None else f" and < {high}")
        raise ValueError(f"invalid {name}: {value!r} (must be {bound})")


def refuse_sparse(optimizer: Any, grad: Tensor) -> None:
    if grad.is_sparse:
        raise RuntimeError(
            f"{type(optimizer).__name__} does not support sparse gradients: Gradient Centralization "
            "needs dense gradients (use a dense embedding, or torch.optim.SparseAdam for sparse ones)")


def default_foreach(params: Sequence[Tensor]) -> bool:
    """torch's own choice: the multi-tensor path when every tensor is on a foreach device (CUDA ...)."""
    return _default_to_fused_or_foreach(list(params), differentiable=False, use_fused=False)[1]


def scalar_or_list(values: List[float]):
    """One float when all are equal (the usual case: all steps alike), else the list (ScalarList)."""
    return values[0] if values.count(values[0]) == len(values) else values


def foreach_add_scaled_(params: List[Tensor], tensors: List[Tensor], scales: List[float]) -> None:
    """params[i] += scales[i] * tensors[i]; may scale `tensors` (the step's own buffers) in place."""
    scale = scalar_or_list(scales)
    if isinstance(scale, list):
        torch._foreach_mul_(tensors, scale)
        torch._foreach_add_(params, tensors)
    else:
        torch._foreach_add_(params, tensors, alpha=scale)


class GCOptimizer(Optimizer):
    """A torch Optimizer whose subclasses centralize the tensors `gc_mode` selects.

    Subclasses set `gc_mode` ('gc', 'gcc' or None) and implement `_single_tensor_step` and
    `_multi_tensor_step(group, params, grads)`, both called under no_grad with the group's
    parameters that have a (dense) gradient. `foreach` (a group option) picks the path: None is torch's
    default (single-tensor on the CPU, multi-tensor when all tensors are on CUDA).
    """

    gc_mode: Optional[str] = None
    #: capabilities, declared with each optimizer (read by reid_gc.optim.capabilities)
    takes_momentum = False
    takes_betas = False

    def __init__(self, params, defaults: Dict[str, Any]):
        if self.gc_mode is not None and self.gc_mode not in GC_MODES:
            raise ValueError(f"gc_mode must be one of {sorted(GC_MODES)} or None, got {self.gc_mode!r}")
        if defaults["lr"] is not required:  # the algorithm-GC SGD, like torch's once, has no default lr
            check_hyper("learning rate", defaults["lr"])
        check_hyper("weight_decay value", defaults["weight_decay"])
        super().__init__(params, defaults)

    def __setstate__(self, state: Dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)

    def _group_gc_mode(self, group: Dict[str, Any]) -> Optional[str]:
        """The GC mode of one parameter group: the class's (the algorithm-GC drop-ins read the group's)."""
        return self.gc_mode

    def _gc_flags(self, params: Sequence[Tensor]) -> List[bool]:
        mode = getattr(self, "_active_gc_mode", self.gc_mode)
        return [gc_applies(p, mode) for p in params]

    @torch.no_grad()
    def step(self, closure=None):
        """Performs one optimization step; `closure` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads = [], []
            for p in group["params"]:
                if p.grad is not None:
                    refuse_sparse(self, p.grad)
                    params.append(p)
                    grads.append(p.grad)
            if not params:
                continue
            self._active_gc_mode = self._group_gc_mode(group)
            foreach = group["foreach"]
            if foreach is None:
                foreach = default_foreach(params)
            if foreach:
                self._multi_tensor_step(group, params, grads)
            else:
                self._single_tensor_step(group, params, grads)
        return loss

    def _single_tensor_step(self, group: Dict[str, Any], params: List[Tensor], grads: List[Tensor]) -> None:
        raise NotImplementedError

    def _multi_tensor_step(self, group: Dict[str, Any], params: List[Tensor], grads: List[Tensor]) -> None:
        raise NotImplementedError

    def _next_steps(self, params: Sequence[Tensor]) -> List[int]:
        """Increments and returns each parameter's step count t (from 1); accepts torch's tensor steps."""
        steps = []
        for p in params:
            state = self.state[p]
            t = state["step"] = int(state["step"]) + 1
            steps.append(t)
        return steps

    @staticmethod
    def _by_device_and_dtype(tensorlists: List[List[Optional[Tensor]]]):
        """[(lists of one device and dtype, their indices)], as torch's multi-tensor optimizers group."""
        grouped = Optimizer._group_tensors_by_device_and_dtype(tensorlists, with_indices=True)
        return list(grouped.values())
