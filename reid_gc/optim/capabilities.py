"""What each optimizer takes and how it decays weights, declared in one place per optimizer.

The GC family declares it as class attributes (`takes_momentum`, `takes_betas`, `decoupled_weight_decay`);
torch's optimizers (which cannot carry our attributes) are declared in TORCH below, and the generated
`<TorchName>_GC...` classes copy their base's entry. Config code asks `capabilities(cls)` and nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Type

from torch.optim import Optimizer

__all__ = ["Capabilities", "TORCH", "capabilities"]


@dataclass(frozen=True)
class Capabilities:
    momentum: bool = False  #: takes SOLVER.MOMENTUM (the SGD rules)
    betas: bool = False  #: takes SOLVER.BETAS and SOLVER.EPS (the Adam rules)
    weight_decay: str = "l2"  #: 'l2' (added to the gradient), 'decoupled' (applied to p), or 'none'
    refused: str = ""  #: why the training step cannot drive it ('' when it can)


TORCH = {
    "SGD": Capabilities(momentum=True),
    "Adam": Capabilities(betas=True),
    "AdamW": Capabilities(betas=True, weight_decay="decoupled"),
    "Adamax": Capabilities(betas=True),
    "NAdam": Capabilities(betas=True),  # 'decoupled' when its group sets decoupled_weight_decay
    "RAdam": Capabilities(betas=True),  # idem
    "Adagrad": Capabilities(), "Adadelta": Capabilities(), "ASGD": Capabilities(), "RMSprop": Capabilities(),
    "Rprop": Capabilities(weight_decay="none"),
    "Adafactor": Capabilities(weight_decay="decoupled"),
    "LBFGS": Capabilities(refused="it needs a closure that re-evaluates the loss inside its step, which the "
                                  "training step does not pass"),
    "SparseAdam": Capabilities(weight_decay="none",
                               refused="it takes sparse gradients only, and the model's gradients are dense"),
    "Muon": Capabilities(momentum=True, weight_decay="decoupled",
                         refused="it updates 2-D parameters only, and the model also has 1-D (bias, norm) and "
                                 "4-D (conv) ones"),
}


def capabilities(cls: Type[Optimizer]) -> Capabilities:
    """The declared capabilities of an optimizer class (torch's, the GC family's or a wrapped one)."""
    declared = getattr(cls, "capabilities", None)
    if isinstance(declared, Capabilities):
        return declared
    if cls.__module__.startswith("torch.optim"):
        return TORCH.get(cls.__name__, Capabilities())
    decoupled = getattr(cls, "decoupled_weight_decay", False)
    return Capabilities(momentum=getattr(cls, "takes_momentum", False), betas=getattr(cls, "takes_betas", False),
                        weight_decay="decoupled" if decoupled else "l2")
