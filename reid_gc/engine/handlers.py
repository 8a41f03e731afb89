"""The ignite handlers of a training run, each a class with attach(): log lines, the per-epoch record,
periodic evaluation and the best model."""
import logging
import time

import ignite.distributed as idist
import torch
from ignite.engine import Events

from ..utils.atomic import atomic_path
from ..utils.run_dir import BEST

logger = logging.getLogger(__name__)


def every(period, max_epochs):
    """Event filter: every `period` epochs and after the last one."""
    return lambda engine, epoch: epoch % period == 0 or epoch == max_epochs


def current_lr(optimizer):
    return optimizer.param_groups[0]["lr"]


class IterationLog:
    """Every `period` iterations: the mean loss and accuracy of the iterations since the previous line (read
    from the trainer's StepTotals, so each step counts once), and the learning rate."""

    def __init__(self, optimizer, period, epoch_length):
        self.optimizer, self.period, self.epoch_length = optimizer, period, epoch_length
        self._since = (0, None)

    def attach(self, trainer):
        trainer.add_event_handler(Events.ITERATION_COMPLETED(every=self.period), self)

    def __call__(self, trainer):
        totals = trainer.step_totals
        mean = totals.mean(since=self._since)
        self._since = totals.snapshot()
        it = (trainer.state.iteration - 1) % self.epoch_length + 1
        logger.info("Epoch[%d] Iteration[%d/%d] Loss: %.3f, Acc: %.3f, Base Lr: %.2e", trainer.state.epoch, it,
                    self.epoch_length, mean["loss"], mean["acc"], current_lr(self.optimizer))


class EpochLog:
    """The epoch line (time, speed, mean loss and accuracy) and, with a run directory, its entry in
    epochs.json. The learning rate is the one the epoch trained with, read when it started (the scheduler
    steps at the epoch's end)."""

    def __init__(self, optimizer, epoch_length, batch_size, run_dir=None):
        self.optimizer, self.epoch_length, self.batch_size, self.run_dir = optimizer, epoch_length, batch_size, run_dir
        self.lr = self._start = None

    def attach(self, trainer):
        trainer.add_event_handler(Events.EPOCH_STARTED, self.started)
        trainer.add_event_handler(Events.EPOCH_COMPLETED, self.completed)

    def started(self, trainer):
        self.lr, self._start = current_lr(self.optimizer), time.perf_counter()

    def completed(self, trainer):
        seconds = time.perf_counter() - self._start
        m = trainer.state.metrics
        loss, acc = m["epoch_loss"], m["epoch_acc"]
        logger.info("Epoch %d done. Time per batch: %.3f[s] Speed: %.1f[samples/s] Mean loss: %.3f Mean acc: %.3f",
                    trainer.state.epoch, seconds / self.epoch_length, self.epoch_length * self.batch_size / seconds,
                    loss, acc)
        if self.run_dir is not None:
            self.run_dir.record_epoch(trainer.state.epoch, loss, acc, self.lr)


class BestModel:
    """model_best.pt: the weights of the evaluation with the highest mAP so far (a resumed run starts from
    its recorded evaluations)."""

    def __init__(self, model, run_dir, previous=(), record=None):
        self.model, self.run_dir, self.record = model, run_dir, dict(record or {})
        best = max(previous, key=lambda e: e["mAP"], default=None)
        self.best = (best["epoch"], best["mAP"], best["rank1"]) if best else None

    def update(self, epoch, result):
        if self.best is None or result.mAP > self.best[1]:
            self.best = (epoch, result.mAP, float(result.cmc[0]))
            with atomic_path(self.run_dir.path(BEST)) as tmp:
                torch.save({"model": self.model.state_dict(), "epoch": epoch, **self.record}, tmp)

    def log(self):
        if self.best is not None:
            epoch, best_map, best_rank1 = self.best
            logger.info("Best: mAP %.1f%%, Rank-1 %.1f%% at epoch %d; weights in %s", 100 * best_map,
                        100 * best_rank1, epoch, self.run_dir.path(BEST))


class PeriodicEvaluation:
    """Evaluates every `period` epochs and after the last with `evaluate(epoch)`, which returns the result
    that counts (the first test set's), and hands it to `on_result(epoch, result)` (the best model; rank 0
    only). If evaluation fails, the epoch's checkpoint is saved first (`save_checkpoint(trainer)`), so the
    training before it is kept: the resumed run evaluates that epoch again (evaluate_missed)."""

    def __init__(self, evaluate, period, max_epochs, on_result=None, save_checkpoint=None):
        self.evaluate_epoch = evaluate
        self.period, self.max_epochs = period, max_epochs
        self.on_result, self.save_checkpoint = on_result, save_checkpoint
        self.last = None

    def attach(self, trainer):
        trainer.add_event_handler(Events.EPOCH_COMPLETED(event_filter=every(self.period, self.max_epochs)), self)

    def due(self, epoch):
        return epoch % self.period == 0 or epoch == self.max_epochs

    def __call__(self, trainer):
        try:
            self.evaluate(trainer.state.epoch)
        except BaseException:
            if self.save_checkpoint is not None:
                logger.error("evaluation of epoch %d failed: saving the epoch's checkpoint before stopping",
                             trainer.state.epoch)
                self.save_checkpoint(trainer)
            raise

    def evaluate(self, epoch):
        self.last = self.evaluate_epoch(epoch)
        if self.on_result is not None:
            self.on_result(epoch, self.last)
        return self.last

    def evaluate_missed(self, epoch, recorded):
        """After a resume at `epoch`: evaluate it if it was due and `recorded` (the epochs evaluated, as rank 0
        read them) lacks it."""
        missed = int(epoch > 0 and self.due(epoch) and epoch not in recorded)
        if idist.get_world_size() > 1:  # every process takes part in an evaluation: rank 0 decides
            missed = int(idist.broadcast(float(missed), src=0))
        if missed:
            logger.info("epoch %d was not evaluated before the run stopped: evaluating it now", epoch)
            self.evaluate(epoch)
