"""Gradient Centralization (GC): the operation itself and which tensors it applies to.

GC of a tensor X with ndim >= 2 is X minus the mean of X over every dim but dim 0, i.e. one mean per
output channel (conv weight) or row (fc weight). `centralize_` and `centralized` apply it to any tensor
with ndim >= 2 and leave tensors with ndim < 2 alone; which tensors of a model get it is the caller's
choice, made here by the GC mode of an optimizer:

- ``"gc"``  ("_GC" optimizers):  every tensor with ndim > 1 (conv and fc weights);
- ``"gcc"`` ("_GCC" optimizers): only tensors with ndim > 3 (conv weights);
- ``None``: no tensor.

Biases and norm parameters (ndim 1) never get it.
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import torch
from torch import Tensor

__all__ = ["GC_MODES", "centralize_", "centralized", "gc_applies"]

#: GC mode -> the smallest ndim that mode centralizes.
GC_MODES = {"gc": 2, "gcc": 4}


def gc_applies(tensor: Tensor, mode: Optional[str]) -> bool:
    """Whether an optimizer with GC mode `mode` ('gc', 'gcc' or None) centralizes `tensor`."""
    return mode is not None and tensor.dim() >= GC_MODES[mode]


def row_mean(tensor: Tensor) -> Tensor:
    """The mean over every dim but dim 0, kept as a broadcastable (C, 1, ..., 1) tensor."""
    return tensor.mean(dim=tuple(range(1, tensor.dim())), keepdim=True)


def centralize_(tensor: Tensor) -> Tensor:
    """Centralizes `tensor` in place (no-op for ndim < 2) and returns it."""
    if tensor.dim() >= 2:
        tensor.sub_(row_mean(tensor))
    return tensor


def centralized(tensor: Tensor) -> Tensor:
    """A new, centralized tensor (a copy of `tensor` for ndim < 2); `tensor` is left unchanged."""
    if tensor.dim() >= 2:
        return tensor.sub(row_mean(tensor))
    return tensor.clone()


#: batch the means on the CPU too (tests set it to check the GPU path's arithmetic on the CPU)
BATCH_ON_CPU = False


def row_means(tensors: Sequence[Tensor], batched: Optional[bool] = None) -> List[Tensor]:
    """row_mean of every tensor (ndim >= 2). Batched (default: off the CPU, where kernel launches cost
    more than the copy): tensors of one shape, dtype and device are stacked and reduced by one mean, one
    kernel per shape instead of one per tensor (ResNet-50 has 161 tensors but about 30 weight shapes)."""
    means: List[Optional[Tensor]] = [None] * len(tensors)
    by_shape = {}
    for i, t in enumerate(tensors):
        by_shape.setdefault((tuple(t.shape), t.dtype, t.device), []).append(i)
    for (shape, _, device), indices in by_shape.items():
        batch_here = batched if batched is not None else (device.type != "cpu" or BATCH_ON_CPU)
        if len(indices) == 1 or not batch_here:
            for i in indices:
                means[i] = row_mean(tensors[i])
            continue
        stacked = torch.stack([tensors[i] for i in indices])
        batch = stacked.mean(dim=tuple(range(2, stacked.dim())), keepdim=True)
        for i, m in zip(indices, batch.unbind(0)):
            means[i] = m
    return means


def centralize_all_(tensors: Sequence[Tensor], batched: Optional[bool] = None) -> None:
    """Centralizes every tensor (ndim >= 2) of a list in place: the multi-tensor path's GC, with the
    means batched by shape (row_means) and one foreach subtraction."""
    if tensors:
        torch._foreach_sub_(list(tensors), row_means(tensors, batched))


def working_buffers(grads: List[Tensor], owned: bool, gc: Sequence[bool]) -> List[Tensor]:
    """The step's working buffers `d`, centralized where `gc[i]`.

    `owned`: `grads` are buffers of this step (e.g. g + wd*p), centralized in place; otherwise they
    are the parameters' gradients, left untouched: a centralized copy replaces those that need GC.
    """
    if not any(gc):
        return grads
    selected = [g for g, c in zip(grads, gc) if c]
    if owned:
        centralize_all_(selected)
        return grads
    centred = iter(torch._foreach_sub(selected, row_means(selected)))
    return [next(centred) if c else g for g, c in zip(grads, gc)]
