"""The ignite training engine: one P x K batch -> losses -> optimizer (and center-loss) step."""
import contextlib
import logging

import ignite.distributed as idist
import torch
from ignite.engine import Engine

from ..utils.errors import UserError

logger = logging.getLogger(__name__)

AMP_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


class NonFiniteLossError(UserError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


def set_determinism(deterministic):
    """Bitwise-repeatable kernels when asked (slower on GPUs), else let cuDNN pick the fastest."""
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = not deterministic


def autocast_context(device, amp):
    if amp == "no":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=AMP_DTYPES[amp])


def create_trainer(model, loss_fn, optimizer, device, amp="no", center_criterion=None, center_optimizer=None,
                   center_loss_weight=1.0, channels_last=False, deterministic=False):
    """Returns (trainer, scaler). Each iteration's output is a dict of floats: loss, acc and the loss parts."""
    scaler = torch.amp.GradScaler(device.type, enabled=(amp == "fp16"))
    memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def step(engine, batch):
        model.train()
        imgs, pids, _, _ = batch
        imgs = imgs.to(device, non_blocking=True).contiguous(memory_format=memory_format)
        pids = pids.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        if center_optimizer is not None:
            center_optimizer.zero_grad(set_to_none=True)
        with autocast_context(device, amp):
            score, feat = model(imgs)
            loss, parts = loss_fn(score, feat, pids)
        loss_value = loss.item()
        if loss_value != loss_value or abs(loss_value) == float("inf"):
            raise NonFiniteLossError(
                f"the loss became {loss_value} at epoch {engine.state.epoch}, iteration {engine.state.iteration}: "
                "lower SOLVER.BASE_LR (or use SOLVER.AMP 'no'); the last good checkpoint is kept")
        scaler.scale(loss).backward()
        if center_optimizer is not None:
            # The center loss is weighted in the total; its centers move at CENTER_LR regardless.
            scaler.unscale_(center_optimizer)
            world = idist.get_world_size()
            for p in center_criterion.parameters():
                if world > 1:  # the centers live outside DDP: average their gradients by hand
                    idist.all_reduce(p.grad)
                p.grad.mul_(1.0 / (center_loss_weight * world))
            scaler.step(center_optimizer)
        scaler.step(optimizer)
        scaler.update()
        acc = (score.detach().argmax(1) == pids).float().mean().item()
        out = {"loss": loss_value, "acc": acc}
        out.update({k: float(v) for k, v in parts.items()})
        return out

    set_determinism(deterministic)
    return Engine(step), scaler
