"""Optimizer names -> classes, for configs (`SOLVER.OPTIMIZER_NAME`).

Resolution order (names are case-sensitive, as getattr(torch.optim, name) was):
1. a torch.optim optimizer name ('SGD', 'Adam', 'AdamW', 'RAdam', ...) gives torch's class;
2. the fixed GC family (FIXED), whose rules are torch's same-named ones plus GC, and the GC authors'
   PlainRAdam and Ranger rules (no torch counterpart);
3. '<TorchName>_GC' / '_GCC' / '_GC2' / '_GCC2' for any other wrappable torch optimizer (see wrap.py).
Suffixes mean the same everywhere: _GC conv and fc weights (ndim > 1), _GCC conv weights only (ndim > 3);
without '2' GC of the gradient (with L2 weight decay when the rule adds it to the gradient), with '2' GC of
the whole change of the weights (so their row means never move).
"""
from __future__ import annotations

from typing import Dict, List, Type

from torch.optim import Optimizer

from .adagrad import Adagrad_GC, Adagrad_GCC
from .adam import Adam_GC, Adam_GC2, Adam_GCC, Adam_GCC2, AdamW, AdamW_GC, AdamW_GC2, AdamW_GCC, AdamW_GCC2
from .radam import (
    PlainRAdam,
    PlainRAdam_GC,
    PlainRAdam_GC2,
    PlainRAdam_GCC,
    PlainRAdam_GCC2,
    Ranger,
    Ranger_GC,
    Ranger_GC2,
    Ranger_GCC,
    Ranger_GCC2,
)
from .sgd import SGD_GC, SGD_GC2, SGD_GCC, SGD_GCC2, SGDW, SGDW_GC, SGDW_GCC
from .wrap import SUFFIXES, WRAPPABLE, gc_wrapped, torch_optimizers

__all__ = ["FIXED", "optimizer_names", "resolve_optimizer"]

FIXED: Dict[str, Type[Optimizer]] = {cls.__name__: cls for cls in (
    SGD_GC, SGD_GCC, SGD_GC2, SGD_GCC2, SGDW, SGDW_GC, SGDW_GCC,
    Adam_GC, Adam_GCC, Adam_GC2, Adam_GCC2,
    AdamW, AdamW_GC, AdamW_GCC, AdamW_GC2, AdamW_GCC2,
    Adagrad_GC, Adagrad_GCC,
    PlainRAdam, PlainRAdam_GC, PlainRAdam_GCC, PlainRAdam_GC2, PlainRAdam_GCC2,
    Ranger, Ranger_GC, Ranger_GCC, Ranger_GC2, Ranger_GCC2)}

PATTERNS = ["<TorchOptimizer>" + suffix for suffix in SUFFIXES]


def optimizer_names() -> List[str]:
    """The fixed family's names, sorted, then the wrapper patterns ('<TorchOptimizer>_GC', ..._GCC2).
    Any torch.optim optimizer name is valid too (it resolves to torch's class)."""
    return sorted(FIXED) + PATTERNS


def resolve_optimizer(name: str) -> Type[Optimizer]:
    """The optimizer class `name` stands for; ValueError listing the valid names if none."""
    torch_classes = torch_optimizers()
    if name in torch_classes:
        return torch_classes[name]
    if name in FIXED:
        return FIXED[name]
    for suffix, (mode, on_update) in SUFFIXES.items():
        base = name[:-len(suffix)]
        if name.endswith(suffix) and base in WRAPPABLE:
            return gc_wrapped(base, mode, on_update)
    raise ValueError(
        f"unknown optimizer {name!r}: use a torch.optim optimizer name, one of the GC family "
        f"({', '.join(sorted(FIXED))}), or <TorchOptimizer> + _GC / _GCC / _GC2 / _GCC2 with TorchOptimizer one "
        f"of {', '.join(WRAPPABLE)}")
