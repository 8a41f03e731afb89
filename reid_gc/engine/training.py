"""train(cfg): build everything the config names, attach ignite handlers, run, return the last result."""
import logging
import sys
from dataclasses import dataclass

import ignite.distributed as idist
import torch
from ignite.engine import Events
from ignite.handlers import ProgressBar
from ignite.utils import manual_seed

from ..config import save_config
from ..data.build import make_data_loaders
from ..data.transforms import BatchTransform
from ..inference.record import model_record
from ..losses import make_loss
from ..modeling import build_model
from ..solver import make_optimizer, make_scheduler
from ..utils.device import prepare_model, resolve_device
from ..utils.logger import open_log_file
from ..utils.run_dir import CURVES, TENSORBOARD, RunDir
from .checkpoints import check_resumed_config, find_resume, load_resume, make_checkpointer
from .evaluator import create_evaluator
from .handlers import BestModel, EpochLog, IterationLog, PeriodicEvaluation, every
from .monitor import attach_tensorboard, write_curves
from .test_sets import evaluate_test_sets
from .train_step import create_trainer

logger = logging.getLogger(__name__)




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

    def to_save(self):
        """What a checkpoint holds."""
        objects = {"model": self.model, "optimizer": self.optimizer, "scheduler": self.scheduler,
                   "trainer": self.trainer}
        if self.center is not None:
            objects.update(center=self.center, center_optimizer=self.center_optimizer)
        if self.scaler.is_enabled():
            objects["scaler"] = self.scaler
        return objects


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
        deterministic=cfg.SOLVER.DETERMINISTIC == "yes", seed=cfg.SOLVER.SEED, grad_clip=cfg.SOLVER.GRAD_CLIP)
    return Components(model, net, loss_fn, center, optimizer, center_optimizer, scheduler, trainer, scaler)


def start_run_dir(cfg, run, resumed):
    """Rank 0, once everything is built: move a previous run aside (unless resuming it), open log.txt, and
    record this session's config (config.yml, or config_resume_<n>.yml for a resume: no record is replaced)."""
    if idist.get_rank() != 0:
        return
    moved = None if resumed else run.archive_previous_run()
    open_log_file(run.root)
    if moved:
        logger.info("moved the previous run's files in %s to %s", run.root, moved)
    path = run.next_config_record(resumed)
    save_config(cfg, path)
    logger.info("config saved to %s", path)


def train(cfg):
    """Train as cfg says and return the last evaluation's result. Nothing is written to OUTPUT_DIR before
    everything is built and a resumed checkpoint loaded: a run that fails to start leaves it as it was."""
    device = resolve_device(cfg, idist.get_local_rank())
    manual_seed(cfg.SOLVER.SEED)
    run, rank0, max_epochs = RunDir(cfg.OUTPUT_DIR), idist.get_rank() == 0, cfg.SOLVER.MAX_EPOCHS
    resume = find_resume(cfg)
    if resume is not None:
        check_resumed_config(cfg, resume)
    data = make_data_loaders(cfg)
    c = build_components(cfg, data.num_classes, device, pretrained=resume is None)
    evaluator = create_evaluator(cfg, c.net, device, data.num_query)
    record = model_record(cfg, c.model)  # every checkpoint and model_best.pt describe their model
    checkpointer = make_checkpointer(c.to_save(), run.root, record)
    if resume is not None:
        load_resume(cfg, resume, c.to_save(), checkpointer, len(data.train_loader))
        # The samplers draw epoch e from (seed, e): continue with the epoch after the checkpoint's.
        data.train_loader.sampler.set_epoch(c.trainer.state.epoch)
    start_run_dir(cfg, run, resumed=resume is not None)
    epoch = c.trainer.state.epoch

    evaluations = [e for e in run.history()[1] if e["epoch"] <= epoch] if resume else []
    best = BestModel(c.model, run, evaluations, record)

    def evaluate(epoch):  # every test set, reported apart; the first one picks model_best.pt
        return evaluate_test_sets(cfg, evaluator, data.test_sets, f"Validation Results - Epoch: {epoch}",
                                  split="final" if epoch == max_epochs else None, source="train", epoch=epoch,
                                  re_ranking=cfg.TEST.RE_RANKING == "yes")[0]

    evaluation = PeriodicEvaluation(evaluate, cfg.SOLVER.EVAL_PERIOD, max_epochs, best.update if rank0 else None,
                                    save_checkpoint=checkpointer)
    if resume is not None:
        logger.info("resumed from %s at epoch %d", resume.path, epoch)
        evaluation.evaluate_missed(epoch, {e["epoch"] for e in evaluations})
        if epoch >= max_epochs:
            logger.info("%s already completed %d epochs (SOLVER.MAX_EPOCHS %d): nothing to do; raise "
                        "SOLVER.MAX_EPOCHS to train further", resume.path, epoch, max_epochs)
            return evaluation.last

    trainer, epoch_length = c.trainer, len(data.train_loader)
    EpochLog(c.optimizer, epoch_length, cfg.SOLVER.IMS_PER_BATCH, run if rank0 else None).attach(trainer)
    IterationLog(c.optimizer, cfg.SOLVER.LOG_PERIOD, epoch_length).attach(trainer)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda _: c.scheduler.step())
    evaluation.attach(trainer)
    # Registered after evaluation so a checkpoint never precedes the evaluation of its own epoch.
    trainer.add_event_handler(
        Events.EPOCH_COMPLETED(event_filter=every(cfg.SOLVER.CHECKPOINT_PERIOD, max_epochs)), checkpointer)
    if sys.stdout.isatty() and rank0:
        ProgressBar(persist=False).attach(trainer, output_transform=lambda out: {k: out[k] for k in ("loss", "acc")})
        ProgressBar(persist=False, desc="Evaluating").attach(evaluator)
    tb = attach_tensorboard(trainer, evaluator, c.optimizer, run.path(TENSORBOARD)) if rank0 else None
    try:
        trainer.run(data.train_loader, max_epochs=max_epochs)
    finally:
        if tb is not None:
            tb.close()
        if rank0 and write_curves(run):
            logger.info("training curves: %s", run.path(CURVES))
    if rank0:
        best.log()
    return evaluation.last
