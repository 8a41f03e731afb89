"""Checkpoints that survive a kill (atomic writes, old files removed only after the new one is on disk), and
finding the checkpoint SOLVER.RESUME names."""
import logging
import os
from dataclasses import dataclass

import ignite.distributed as idist
import torch
from ignite.handlers import Checkpoint
from ignite.handlers.checkpoint import BaseSaveHandler

from ..config.resume import check_resume_config
from ..utils.atomic import atomic_path
from ..utils.errors import UnreadableFileError, UserError
from ..utils.run_dir import RunDir, checkpoint_name
from ..utils.weights import safe_load
from .strong_baseline_resume import continue_from_strong_baseline, pretrain_self_path, training_checkpoint

logger = logging.getLogger(__name__)

N_SAVED = 3  # checkpoints kept


class SafeDiskSaver(BaseSaveHandler):
    """ignite save handler: fsync'd temp file + rename; deletions of superseded checkpoints are deferred
    until the next checkpoint is complete, so a kill at any moment leaves a loadable latest file."""

    def __init__(self, dirname, extra=None):
        self.dirname = dirname
        self.extra = dict(extra or {})  # saved beside ignite's objects (the model record)
        self._pending_removal = []

    def __call__(self, checkpoint, filename, metadata=None):
        if idist.get_rank() != 0:
            return
        with atomic_path(os.path.join(self.dirname, filename)) as tmp:
            torch.save({**checkpoint, **self.extra}, tmp)
        for name in self._pending_removal:
            path = os.path.join(self.dirname, name)
            if name != filename and os.path.exists(path):
                os.remove(path)
        self._pending_removal = []

    def remove(self, filename):
        self._pending_removal.append(filename)


def make_checkpointer(to_save, output_dir, record=None):
    """ignite Checkpoint writing checkpoint_<epoch>.pt (run_dir.checkpoint_name) into output_dir, each with
    the model record (inference.record) beside ignite's objects."""
    return Checkpoint(to_save, SafeDiskSaver(output_dir, extra=record), n_saved=N_SAVED, include_self=True,
                      filename_pattern=checkpoint_name("{global_step}"),
                      global_step_transform=lambda e, _: e.state.epoch)


@dataclass
class Resume:
    path: str  # the checkpoint file
    state: dict  # its contents (safe_load); None for reid-strong-baseline's files, read once the objects exist


def find_resume(cfg):
    """The checkpoint SOLVER.RESUME points at, loaded, or None to start afresh. With 'auto', the newest intact
    checkpoint of OUTPUT_DIR: an unreadable (truncated) newer one is skipped with a warning naming it."""
    resume = cfg.SOLVER.RESUME
    if not resume:
        return _pretrain_self(cfg)
    if resume == "auto":
        for _, path in RunDir(cfg.OUTPUT_DIR).checkpoints():
            try:
                return Resume(path, safe_load(path))
            except UnreadableFileError as e:
                logger.warning("SOLVER.RESUME 'auto': skipped %s (%s); trying the next older checkpoint", path, e)
        logger.info("SOLVER.RESUME 'auto': no intact checkpoint in %s yet, starting afresh", cfg.OUTPUT_DIR)
        return _pretrain_self(cfg)
    if not os.path.isfile(resume):
        raise UserError(f"SOLVER.RESUME {resume} is not a file: give a checkpoint_<epoch>.pt path or 'auto'")
    return Resume(resume, safe_load(resume))


def _pretrain_self(cfg):
    """reid-strong-baseline's way to continue a run, PRETRAIN_CHOICE 'self' with PRETRAIN_PATH: our own
    checkpoint there is a plain resume; their model file (with its companions) is read by
    strong_baseline_resume once the objects are built."""
    path = pretrain_self_path(cfg)
    if path is None:
        return None
    return Resume(path, training_checkpoint(path))


def check_resumed_config(cfg, resume):
    """Refuse config changes the checkpoint would ignore (config.resume), against the newest config record of
    the checkpoint's run folder; without a record, say so and go on."""
    if resume.state is None:  # reid-strong-baseline's files carry no config of ours
        return []
    records = RunDir(os.path.dirname(os.path.abspath(resume.path))).config_records()
    if not records:
        logger.warning("no config.yml beside %s: the resumed config cannot be checked against the run's", resume.path)
        return []
    return check_resume_config(cfg, records[-1])


def load_resume(cfg, resume, to_save, checkpointer, epoch_length):
    """Load the checkpoint into the run's objects; a UserError if it does not fit them."""
    if resume.state is None:  # their files go straight into the objects
        continue_from_strong_baseline(cfg, resume.path, to_save, epoch_length)
        return
    try:
        Checkpoint.load_objects({**to_save, "checkpointer": checkpointer}, resume.state)
    except (KeyError, RuntimeError, ValueError) as e:
        raise UserError(f"checkpoint {resume.path} does not fit this configuration ({str(e).splitlines()[0]}): "
                        "resume with the config it was trained with") from None
