from .lr_scheduler import WarmupMultiStepLR, make_scheduler, warmup_multistep_factor
from .optimizer import make_optimizer, param_groups

__all__ = ["WarmupMultiStepLR", "make_scheduler", "warmup_multistep_factor", "make_optimizer", "param_groups"]
