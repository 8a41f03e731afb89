"""Warmup then multi-step decay, stepped once per epoch (the strong baseline's schedule)."""
from bisect import bisect_right

from torch.optim.lr_scheduler import LRScheduler

WARMUP_METHODS = ("linear", "constant")  # SOLVER.WARMUP_METHOD


def warmup_multistep_factor(epoch, steps, gamma, warmup_factor, warmup_iters, warmup_method):
    """LR multiplier of `epoch` (0-based): w(e) * gamma ** (number of steps <= e)."""
    warmup = 1.0
    if epoch < warmup_iters:
        if warmup_method == "constant":
            warmup = warmup_factor
        else:
            alpha = epoch / warmup_iters
            warmup = warmup_factor * (1 - alpha) + alpha
    return warmup * gamma ** bisect_right(list(steps), epoch)


class WarmupMultiStepLR(LRScheduler):
    """lr of epoch e = base_lr * warmup_multistep_factor(e); call step() once at the end of each epoch."""

    def __init__(self, optimizer, steps, gamma=0.1, warmup_factor=1.0 / 3, warmup_iters=500,
                 warmup_method="linear", last_epoch=-1):
        if list(steps) != sorted(steps):
            raise ValueError(f"milestones must be increasing, got {steps}")
        if warmup_method not in WARMUP_METHODS:
            raise ValueError(f"warmup_method must be 'linear' or 'constant', got {warmup_method!r}")
        self.steps = tuple(steps)
        self.gamma = gamma
        self.warmup_factor = warmup_factor
        self.warmup_iters = warmup_iters
        self.warmup_method = warmup_method
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        factor = warmup_multistep_factor(self.last_epoch, self.steps, self.gamma, self.warmup_factor,
                                         self.warmup_iters, self.warmup_method)
        return [base_lr * factor for base_lr in self.base_lrs]


def make_scheduler(cfg, optimizer, last_epoch=-1):
    s = cfg.SOLVER
    return WarmupMultiStepLR(optimizer, s.STEPS, s.GAMMA, s.WARMUP_FACTOR, s.WARMUP_ITERS, s.WARMUP_METHOD,
                             last_epoch)
