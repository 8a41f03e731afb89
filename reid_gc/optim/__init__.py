"""Gradient Centralization (GC) optimizers; depends on torch only, usable by any project.

    from reid_gc.optim import SGD_GCC
    optimizer = SGD_GCC(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

Fixed family (torch.optim.Optimizer subclasses, arguments and defaults as torch's counterparts, plus
`foreach=None`): SGD_GC, SGD_GCC, SGDW, SGDW_GC, SGDW_GCC, Adam_GC, Adam_GCC, Adam_GC2, Adam_GCC2, AdamW,
AdamW_GC, AdamW_GCC, AdamW_GC2, AdamW_GCC2, Adagrad_GC, Adagrad_GCC. "_GC" centralizes every tensor with
ndim > 1, "_GCC" only ndim > 3 (conv weights); "2" centralizes the update instead of the gradient.
`AdamW` here is the GC paper's rule, not torch.optim.AdamW. Any other torch optimizer gets GC as
`resolve_optimizer('RAdam_GCC')` (also importable: `from reid_gc.optim import RAdam_GCC`).
`centralize_` / `centralized` are the GC operation itself.
"""
from .adagrad import Adagrad_GC, Adagrad_GCC
from .adam import Adam_GC, Adam_GC2, Adam_GCC, Adam_GCC2, AdamW, AdamW_GC, AdamW_GC2, AdamW_GCC, AdamW_GCC2
from .centralization import centralize_, centralized, gc_applies
from .registry import optimizer_names, resolve_optimizer
from .sgd import SGD_GC, SGD_GCC, SGDW, SGDW_GC, SGDW_GCC
from .wrap import gc_wrapped

__all__ = [
    "SGD_GC", "SGD_GCC", "SGDW", "SGDW_GC", "SGDW_GCC",
    "Adam_GC", "Adam_GCC", "Adam_GC2", "Adam_GCC2",
    "AdamW", "AdamW_GC", "AdamW_GCC", "AdamW_GC2", "AdamW_GCC2",
    "Adagrad_GC", "Adagrad_GCC",
    "centralize_", "centralized", "gc_applies", "gc_wrapped", "optimizer_names", "resolve_optimizer",
]


def __getattr__(name):
    """`<TorchOptimizer>_GC` / `_GCC` classes (generated on first use; this also lets pickle find them)."""
    if name.endswith(("_GC", "_GCC")):
        try:
            return resolve_optimizer(name)
        except ValueError:
            pass
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
