"""The ignite training engine: one P x K batch -> losses -> optimizer (and center-loss) step."""
import contextlib
import logging

import ignite.distributed as idist
import torch
from ignite.engine import Engine, Events

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


def _augmentation_generator(seed, rank, iteration):
    """The CPU generator of one batch's augmentation: a function of (seed, rank, iteration) alone."""
    g = torch.Generator()
    g.manual_seed(((seed * 1_000_003 + iteration) * 1_009 + rank) * 7 + 2)
    return g


def check_finite(loss, epoch, iteration):
    if loss != loss or abs(loss) == float("inf"):
        raise NonFiniteLossError(
            f"the loss became {loss} at epoch {epoch}, iteration {iteration}: lower SOLVER.BASE_LR "
            "(or use SOLVER.AMP 'no'); the last good checkpoint is kept")


class StepStats:
    """A step's loss, accuracy and loss parts, read back from the GPU without stalling it: copied
    asynchronously, read one iteration later, so the CPU queues the next step while the GPU runs this one."""

    def __init__(self, names, values, epoch, iteration, asynchronous):
        self.names, self.epoch, self.iteration = names, epoch, iteration
        self._values = None
        self.ready = None
        if not asynchronous:
            self.host = values
        elif values.is_cuda:
            self.host = torch.empty(values.shape, dtype=values.dtype, pin_memory=True)
            self.host.copy_(values, non_blocking=True)
            self.ready = torch.cuda.Event()
            self.ready.record()
        else:  # the same schedule on the CPU (tests)
            self.host = values.clone()

    def read(self):
        """dict of floats; raises NonFiniteLossError if the loss was NaN or infinite."""
        if self._values is None:
            if self.ready is not None:
                self.ready.synchronize()
            self._values = dict(zip(self.names, self.host.tolist()))
            check_finite(self._values["loss"], self.epoch, self.iteration)
        return self._values


class StepTotals:
    """Sums of every step's statistics (loss, acc, parts), kept on the training device: adding and taking a
    snapshot cost no wait; mean() waits for the queued steps. Means over an epoch or between two log lines
    come from these sums, so each step counts exactly once whatever the read-back schedule."""

    def __init__(self):
        self.names, self.sums, self.count = (), None, 0

    def add(self, names, values):
        if self.sums is None:
            self.names, self.sums = names, torch.zeros_like(values, dtype=torch.float64)
        self.sums += values
        self.count += 1

    def snapshot(self):
        return self.count, None if self.sums is None else self.sums.clone()

    def mean(self, since=(0, None)):
        """{name: mean} of the steps after the snapshot `since` (all steps by default); {} if none."""
        n = self.count - since[0]
        if not n:
            return {}
        sums = self.sums if since[1] is None else self.sums - since[1]
        return dict(zip(self.names, (sums / n).tolist()))


def create_trainer(model, loss_fn, optimizer, device, augment, amp="no", center_criterion=None,
                   center_optimizer=None, center_loss_weight=1.0, channels_last=False, deterministic=False,
                   seed=0, async_stats=None, grad_clip=0.0):
    """Returns (trainer, scaler). A batch is (uint8 images, pids, camids, indices); `augment` (a
    BatchTransform) turns the images into the network's input on the device.

    Each iteration's output is a dict of floats: loss, acc and the loss parts, for display and the NaN check.
    With `async_stats` (the default on a GPU) it is the previous iteration's (the first of an epoch shows
    itself), see StepStats; the last one is read at the epoch's end before any other handler runs. Means are
    exact either way: trainer.step_totals (StepTotals) sums every step, and at each epoch's end
    trainer.state.metrics holds the epoch's means as 'epoch_loss', 'epoch_acc' and 'epoch_<part>'.
    `grad_clip` > 0 clips the optimizer's gradients to that global norm (unscaled first under fp16) before its
    step, hence before GC."""
    scaler = torch.amp.GradScaler(device.type, enabled=(amp == "fp16"))
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    rank = idist.get_rank()
    asynchronous = device.type == "cuda" if async_stats is None else async_stats
    pending = {}
    totals = StepTotals()

    def step(engine, batch):
        model.train()
        imgs, pids, _, _ = batch
        imgs = imgs.to(device, non_blocking=True)
        pids = pids.to(device, non_blocking=True)
        imgs = augment(imgs, _augmentation_generator(seed, rank, engine.state.iteration))
        imgs = imgs.contiguous(memory_format=memory_format)
        optimizer.zero_grad(set_to_none=True)
        if center_optimizer is not None:
            center_optimizer.zero_grad(set_to_none=True)
        with autocast_context(device, amp):
            score, feat = model(imgs)
            loss, parts = loss_fn(score, feat, pids)
        if device.type != "cuda":  # no queue to keep busy: check before the step is applied
            check_finite(loss.item(), engine.state.epoch, engine.state.iteration)
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
        if grad_clip > 0:
            scaler.unscale_(optimizer)  # the scaler's step then knows they are unscaled
            torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], grad_clip)
        scaler.step(optimizer)
        scaler.update()
        with torch.no_grad():
            acc = (score.argmax(1) == pids).float().mean()
            values = torch.stack([loss.detach().float(), acc, *(v.float() for v in parts.values())])
        names = ("loss", "acc", *parts)
        totals.add(names, values)
        current = StepStats(names, values, engine.state.epoch, engine.state.iteration, asynchronous)
        if not asynchronous:
            return current.read()
        previous = pending.get("stats")
        pending["stats"] = current
        # The first step of an epoch reports itself (one wait per epoch); later ones the step before.
        return (current if previous is None else previous).read()

    def start_epoch(engine):
        pending["epoch_start"] = totals.snapshot()

    def flush(engine):
        """Read the epoch's last step before checkpoints or evaluation can run on a NaN model; the epoch's means."""
        stats = pending.pop("stats", None)
        if stats is not None:
            engine.state.output = stats.read()
        means = totals.mean(since=pending["epoch_start"])
        engine.state.metrics.update({"epoch_" + k: v for k, v in means.items()})

    set_determinism(deterministic)
    trainer = Engine(step)
    trainer.step_totals = totals
    trainer.add_event_handler(Events.EPOCH_STARTED, start_epoch)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, flush)
    return trainer, scaler
