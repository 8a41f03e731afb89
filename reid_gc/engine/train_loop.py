"""train(cfg): build everything the config names, attach ignite handlers, run, return the last result."""
import logging
import os
import sys
import time
from dataclasses import dataclass

import ignite.distributed as idist
import torch
from ignite.engine import Events
from ignite.handlers import Checkpoint, ProgressBar
from ignite.metrics import Average, RunningAverage
from ignite.utils import manual_seed

from ..data.build import make_data_loaders
from ..data.transforms import BatchTransform
from ..losses import make_loss
from ..modeling import build_model
from ..solver import make_optimizer, make_scheduler
from ..utils.atomic import atomic_path
from ..utils.checkpoint import safe_load
from ..utils.device import resolve_device
from ..utils.errors import UserError
from .checkpointing import SafeDiskSaver, resolve_resume
from .evaluator import create_evaluator
from .monitor import attach_tensorboard, load_history, record_epoch, write_curves
from .test_sets import evaluate_test_sets
from .trainer import create_trainer

logger = logging.getLogger(__name__)


def _every(period, max_epochs):
    """Event filter: every `period` epochs and after the last one."""
    return lambda engine, epoch: epoch % period == 0 or epoch == max_epochs


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


@dataclass
class Components:
    model: torch.nn.Module  # the bare model (what checkpoints hold)
    net: torch.nn.Module  # the model as trained: on the device, maybe DDP-wrapped
    loss_fn: object
    center: object
    optimizer: torch.optim.Optimizer
    center_optimizer: object
    scheduler: object
    trainer: object
    scaler: torch.amp.GradScaler


def build_components(cfg, num_classes, device, pretrained=True):
    """Model, losses, optimizers, schedule and the training engine the config describes; with
    pretrained=False the model starts random (its weights are about to come from a checkpoint)."""
    model = build_model(cfg, num_classes, pretrained)
    loss_fn, center = make_loss(cfg, num_classes, model.in_planes)
    net = prepare_model(cfg, model, device)
    if center is not None:
        center = center.to(device)
    optimizer, center_optimizer = make_optimizer(cfg, model, center)
    scheduler = make_scheduler(cfg, optimizer)
    train_net = torch.compile(net) if cfg.MODEL.COMPILE == "yes" else net
    trainer, scaler = create_trainer(
        train_net, loss_fn, optimizer, device, BatchTransform(cfg, train=True), amp=cfg.SOLVER.AMP,
        center_criterion=center, center_optimizer=center_optimizer,
        center_loss_weight=cfg.SOLVER.CENTER_LOSS_WEIGHT, channels_last=cfg.MODEL.CHANNELS_LAST == "yes",
        deterministic=cfg.SOLVER.DETERMINISTIC == "yes", seed=cfg.SOLVER.SEED)
    return Components(model, net, loss_fn, center, optimizer, center_optimizer, scheduler, trainer, scaler)


def train(cfg, start_output=None):
    """Train as cfg says and return the last evaluation's result. start_output() is called once everything
    is built (and a resumed checkpoint loaded), before anything is written to OUTPUT_DIR."""
    device = resolve_device(cfg, idist.get_local_rank())
    manual_seed(cfg.SOLVER.SEED)
    data = make_data_loaders(cfg)
    resume = resolve_resume(cfg)
    c = build_components(cfg, data.num_classes, device, pretrained=resume is None)
    model, net, center, optimizer, scheduler, trainer, scaler = (
        c.model, c.net, c.center, c.optimizer, c.scheduler, c.trainer, c.scaler)
    evaluator = create_evaluator(cfg, net, device, data.num_query)

    to_save = {"model": model, "optimizer": optimizer, "scheduler": scheduler, "trainer": trainer}
    if center is not None:
        to_save.update(center=center, center_optimizer=c.center_optimizer)
    if scaler.is_enabled():
        to_save["scaler"] = scaler
    max_epochs = cfg.SOLVER.MAX_EPOCHS
    checkpointer = Checkpoint(to_save, SafeDiskSaver(cfg.OUTPUT_DIR), n_saved=3, include_self=True,
                              global_step_transform=lambda e, _: e.state.epoch)
    if resume:
        checkpoint = safe_load(resume)
        try:
            Checkpoint.load_objects({**to_save, "checkpointer": checkpointer}, checkpoint)
        except (KeyError, RuntimeError, ValueError) as e:
            raise UserError(f"checkpoint {resume} does not fit this configuration ({str(e).splitlines()[0]}): "
                            "resume with the config it was trained with") from None
        # The samplers draw epoch e from (seed, e): continue with the epoch after the checkpoint's.
        data.train_loader.sampler.set_epoch(trainer.state.epoch)
    if start_output is not None:
        start_output()
    if resume:
        logger.info("resumed from %s at epoch %d", resume, trainer.state.epoch)
        if trainer.state.epoch >= max_epochs:
            logger.info("%s already completed %d epochs (SOLVER.MAX_EPOCHS %d): nothing to do; raise "
                        "SOLVER.MAX_EPOCHS to train further", resume, trainer.state.epoch, max_epochs)
            return None

    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda _: scheduler.step())
    for name in ("loss", "acc"):
        # a smoothed value for the iteration logs, the epoch's mean for the epoch line and epochs.json
        RunningAverage(output_transform=lambda out, n=name: out[n]).attach(trainer, name)
        Average(output_transform=lambda out, n=name: out[n]).attach(trainer, "epoch_" + name)
    if sys.stdout.isatty() and idist.get_rank() == 0:
        ProgressBar(persist=False).attach(trainer, metric_names=["loss", "acc"])
        ProgressBar(persist=False, desc="Evaluating").attach(evaluator)

    epoch_length = len(data.train_loader)

    @trainer.on(Events.ITERATION_COMPLETED(every=cfg.SOLVER.LOG_PERIOD))
    def log_training(engine):
        it = (engine.state.iteration - 1) % epoch_length + 1
        m = engine.state.metrics
        logger.info("Epoch[%d] Iteration[%d/%d] Loss: %.3f, Acc: %.3f, Base Lr: %.2e", engine.state.epoch, it,
                    epoch_length, m["loss"], m["acc"], optimizer.param_groups[0]["lr"])

    timer = {}

    @trainer.on(Events.EPOCH_STARTED)
    def start_clock(engine):
        timer["start"] = time.perf_counter()

    @trainer.on(Events.EPOCH_COMPLETED)
    def log_epoch(engine):
        seconds = time.perf_counter() - timer["start"]
        images = epoch_length * cfg.SOLVER.IMS_PER_BATCH
        loss, acc = engine.state.metrics["epoch_loss"], engine.state.metrics["epoch_acc"]
        logger.info("Epoch %d done. Time per batch: %.3f[s] Speed: %.1f[samples/s] Mean loss: %.3f Mean acc: %.3f",
                    engine.state.epoch, seconds / epoch_length, images / seconds, loss, acc)
        if idist.get_rank() == 0:
            record_epoch(cfg.OUTPUT_DIR, engine.state.epoch, loss, acc, optimizer.param_groups[0]["lr"])

    # (epoch, mAP, Rank-1) of model_best.pt; a resumed run starts from its history so far.
    evals = [e for e in load_history(cfg.OUTPUT_DIR)[1] if e["epoch"] <= trainer.state.epoch] if resume else []
    best = max(evals, key=lambda e: e["mAP"], default=None)
    state = {"best": (best["epoch"], best["mAP"], best["rank1"]) if best else None, "last": None}

    @trainer.on(Events.EPOCH_COMPLETED(event_filter=_every(cfg.SOLVER.EVAL_PERIOD, max_epochs)))
    def evaluate(engine):
        epoch = engine.state.epoch
        # every test set, reported apart; the first one picks model_best.pt
        result = evaluate_test_sets(cfg, evaluator, data.test_sets, f"Validation Results - Epoch: {epoch}",
                                    split="final" if epoch == max_epochs else None, source="train", epoch=epoch,
                                    re_ranking=cfg.TEST.RE_RANKING == "yes")[0]
        state["last"] = result
        if idist.get_rank() != 0:
            return
        if state["best"] is None or result.mAP > state["best"][1]:
            state["best"] = (epoch, result.mAP, result.cmc[0])
            with atomic_path(os.path.join(cfg.OUTPUT_DIR, "model_best.pt")) as tmp:
                torch.save({"model": model.state_dict(), "epoch": epoch}, tmp)

    # Registered after evaluation so a checkpoint never precedes the evaluation of its own epoch.
    trainer.add_event_handler(
        Events.EPOCH_COMPLETED(event_filter=_every(cfg.SOLVER.CHECKPOINT_PERIOD, max_epochs)), checkpointer)

    tb = attach_tensorboard(trainer, evaluator, optimizer, cfg.OUTPUT_DIR) if idist.get_rank() == 0 else None
    try:
        trainer.run(data.train_loader, max_epochs=max_epochs)
    finally:
        if tb is not None:
            tb.close()
        if idist.get_rank() == 0:
            curves = write_curves(cfg.OUTPUT_DIR)
            if curves:
                logger.info("training curves: %s", curves)
    if state["best"] is not None and idist.get_rank() == 0:
        epoch, best_map, best_rank1 = state["best"]
        logger.info("Best: mAP %.1f%%, Rank-1 %.1f%% at epoch %d; weights in %s", 100 * best_map,
                    100 * best_rank1, epoch, os.path.join(cfg.OUTPUT_DIR, "model_best.pt"))
    return state["last"]
