"""Pick the torch device the config asks for (falling back to the CPU with a warning) and put a model on it."""
import logging
import os

import ignite.distributed as idist
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


def prepare_model(cfg, model, device):
    """Device, memory format, SyncBatchNorm and DistributedDataParallel (through ignite.distributed)."""
    model = model.to(device)
    if cfg.MODEL.CHANNELS_LAST == "yes":
        model = model.to(memory_format=torch.channels_last)
    if idist.get_world_size() > 1:
        sync_bn = cfg.MODEL.SYNC_BN == "yes"
        if sync_bn and device.type != "cuda":
            logger.warning("MODEL.SYNC_BN 'yes' needs GPUs (torch's SyncBatchNorm): ignored on the CPU")
            sync_bn = False
        model = idist.auto_model(model, sync_bn=sync_bn)
    return model
