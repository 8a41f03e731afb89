"""Lookahead around any optimizer (Zhang et al. 2019), as the GC authors' README uses it:
`Lookahead(SGD(...), k=5, alpha=0.5)`.

Rule, per parameter group with a step counter c starting at 0: after each inner step, if c == 0 every
tensor p of the group is synchronised: slow = slow + alpha*(p - slow); p = slow (slow is created equal to
p at its first synchronisation, so the first one leaves p unchanged); then c = c + 1, and c = 0 when it
reaches k. The tensors therefore jump to their slow weights after steps 1, k+1, 2k+1, ...
This is the widely copied Lookahead the authors' usage line matches (their Lookahead.py itself is not in
the snapshot we read).

The wrapper shares the inner optimizer's param_groups (the learning-rate scheduler and the grad scaler see
the inner groups), keeps the counter in each group ('counter') and the slow weights as per-parameter state
'slow_param' inside the inner optimizer's state_dict layout, so one state_dict holds both and a checkpoint
resumes bit for bit.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Dict

import torch
from torch.optim import Optimizer

__all__ = ["Lookahead"]

SLOW = "slow_param"


class Lookahead(Optimizer):
    """`optimizer` with Lookahead: k fast steps, then the weights move alpha of the way from their slow
    copy towards the fast ones and continue from there."""

    def __init__(self, optimizer: Optimizer, k: int = 5, alpha: float = 0.5):
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"invalid slow update rate alpha: {alpha!r} (must be in [0, 1])")
        if not k >= 1:
            raise ValueError(f"invalid lookahead steps k: {k!r} (must be >= 1)")
        self.optimizer, self.k, self.alpha = optimizer, k, alpha
        # torch's bookkeeping (hooks, profiling name); Optimizer.add_param_group keeps the group dicts,
        # then the inner list itself is shared.
        self._initialising = True
        super().__init__(optimizer.param_groups, optimizer.defaults)
        self._initialising = False
        self.param_groups = optimizer.param_groups
        self.state = defaultdict(dict)
        for group in self.param_groups:
            group.setdefault("counter", 0)

    def __repr__(self):
        return f"Lookahead(k={self.k}, alpha={self.alpha}, {self.optimizer!r})"

    @property
    def inner_state(self):
        return self.optimizer.state

    @torch.no_grad()
    def _synchronise(self, group: Dict[str, Any]) -> None:
        params = [p for p in group["params"]]
        slows = []
        for p in params:
            state = self.state[p]
            if SLOW not in state:
                state[SLOW] = p.detach().clone()
            slows.append(state[SLOW])
        if params:
            torch._foreach_lerp_(slows, params, self.alpha)
            torch._foreach_copy_(params, slows)

    def step(self, closure=None):
        loss = self.optimizer.step(closure)
        for group in self.param_groups:
            if group["counter"] == 0:
                self._synchronise(group)
            group["counter"] += 1
            if group["counter"] >= self.k:
                group["counter"] = 0
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def add_param_group(self, param_group: Dict[str, Any]) -> None:
        param_group.setdefault("counter", 0)
        if getattr(self, "_initialising", False):
            super().add_param_group(param_group)
        else:
            self.optimizer.add_param_group(param_group)

    def _params_in_order(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> Dict[str, Any]:
        """The inner optimizer's state_dict with each parameter's slow weights added to its state."""
        out = self.optimizer.state_dict()
        state = {k: dict(v) for k, v in out["state"].items()}
        for index, p in enumerate(self._params_in_order()):
            if SLOW in self.state.get(p, {}):
                state.setdefault(index, {})[SLOW] = self.state[p][SLOW]
        return {"state": state, "param_groups": out["param_groups"]}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        slows, inner = {}, {}
        for index, entry in state_dict["state"].items():
            entry = dict(entry)
            if SLOW in entry:
                slows[int(index)] = entry.pop(SLOW)
            if entry:
                inner[index] = entry
        self.optimizer.load_state_dict({"state": inner, "param_groups": state_dict["param_groups"]})
        self.param_groups = self.optimizer.param_groups  # torch's load_state_dict made new group dicts
        for group in self.param_groups:
            group.setdefault("counter", 0)
        self.state = defaultdict(dict)
        params = self._params_in_order()
        for index, slow in slows.items():
            p = params[index]
            self.state[p][SLOW] = slow.to(device=p.device, dtype=p.dtype).clone()
