"""Pick the torch device the config asks for, falling back to the CPU with a warning."""
import logging
import os

import torch

logger = logging.getLogger(__name__)


def apply_device_id(cfg):
    """MODEL.DEVICE_ID selects GPUs the way reid-strong-baseline did: through CUDA_VISIBLE_DEVICES.

    Must run before CUDA is first touched; left alone under torchrun or when the variable is set.
    """
    if cfg.MODEL.DEVICE == "cuda" and "LOCAL_RANK" not in os.environ and "CUDA_VISIBLE_DEVICES" not in os.environ:
        os.environ["CUDA_VISIBLE_DEVICES"] = cfg.MODEL.DEVICE_ID


def resolve_device(cfg, local_rank=0):
    if cfg.MODEL.DEVICE == "cuda":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank)
        logger.warning("MODEL.DEVICE is 'cuda' but no GPU is available: running on the CPU")
    return torch.device("cpu")
