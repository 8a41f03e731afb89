"""Gradient Centralization (GC) optimizers; depends on torch only, usable by any project.

    from reid_gc.optim import SGD_GCC
    optimizer = SGD_GCC(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

Fixed family (torch.optim.Optimizer subclasses, arguments and defaults as torch's counterparts, plus
`foreach=None`): SGD_GC, SGD_GCC, SGD_GC2, SGD_GCC2, SGDW, SGDW_GC, SGDW_GCC, Adam_GC, Adam_GCC, Adam_GC2,
Adam_GCC2, AdamW,
AdamW_GC, AdamW_GCC, AdamW_GC2, AdamW_GCC2, Adagrad_GC, Adagrad_GCC, and the GC authors' rules PlainRAdam and
Ranger with the same suffixes (arguments as published). "_GC" centralizes every tensor with ndim > 1, "_GCC"
only ndim > 3 (conv weights); without "2" the gradient (plus L2 weight decay where the rule adds it to the
gradient) is centralized, with "2" the whole change of the weights. Any other torch optimizer gets GC as
`resolve_optimizer('RAdam_GC2')` (also importable: `from reid_gc.optim import RAdam_GC2`).
`Lookahead(optimizer, k, alpha)` wraps any optimizer. `reid_gc.optim.algorithm_gc` is a drop-in for the GC
authors' algorithm-GC classes (use_gc, gc_conv_only, gc_loc). `centralize_` / `centralized` are GC itself.
"""
from .adagrad import Adagrad_GC, Adagrad_GCC
from .adam import Adam_GC, Adam_GC2, Adam_GCC, Adam_GCC2, AdamW, AdamW_GC, AdamW_GC2, AdamW_GCC, AdamW_GCC2
from .capabilities import capabilities
from .centralization import centralize_, centralized, gc_applies
from .lookahead import Lookahead
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
from .registry import optimizer_names, resolve_optimizer
from .sgd import SGD_GC, SGD_GC2, SGD_GCC, SGD_GCC2, SGDW, SGDW_GC, SGDW_GCC
from .wrap import gc_wrapped

__all__ = [
    "SGD_GC", "SGD_GCC", "SGD_GC2", "SGD_GCC2", "SGDW", "SGDW_GC", "SGDW_GCC",
    "Adam_GC", "Adam_GCC", "Adam_GC2", "Adam_GCC2",
    "AdamW", "AdamW_GC", "AdamW_GCC", "AdamW_GC2", "AdamW_GCC2",
    "Adagrad_GC", "Adagrad_GCC",
    "PlainRAdam", "PlainRAdam_GC", "PlainRAdam_GCC", "PlainRAdam_GC2", "PlainRAdam_GCC2",
    "Ranger", "Ranger_GC", "Ranger_GCC", "Ranger_GC2", "Ranger_GCC2", "Lookahead",
    "capabilities", "centralize_", "centralized", "gc_applies", "gc_wrapped", "optimizer_names",
    "resolve_optimizer",
]


def __getattr__(name):
    """`<TorchOptimizer>_GC...` classes (generated on first use; this also lets pickle find them)."""
    if name.endswith(("_GC", "_GCC", "_GC2", "_GCC2")):
        try:
            return resolve_optimizer(name)
        except ValueError:
            pass
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
