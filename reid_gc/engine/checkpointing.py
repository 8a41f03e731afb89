"""Checkpoints that survive a kill: atomic writes, old files removed only after the new one is on disk."""
import glob
import logging
import os
import re
import shutil
import time

import ignite.distributed as idist
import torch
from ignite.handlers.checkpoint import BaseSaveHandler

from ..utils.atomic import atomic_path
from ..utils.errors import UserError

logger = logging.getLogger(__name__)

CHECKPOINT_RE = re.compile(r"^checkpoint_(\d+)\.pt$")
# What a run writes into OUTPUT_DIR; a fresh run moves a previous run's files aside, never over them.
RUN_ARTIFACTS = ("checkpoint_*.pt", "model_best.pt", "metrics.json", "log.txt", "test_log.txt", "config.yml",
                 "curves.png", "ranked_*.png", "ranked_*.csv", "roc*.png", "epochs.json", "tensorboard")


class SafeDiskSaver(BaseSaveHandler):
    """ignite save handler: fsync'd temp file + rename; deletions of superseded checkpoints are deferred
    until the next checkpoint is complete, so a kill at any moment leaves a loadable latest file."""

    def __init__(self, dirname):
        self.dirname = dirname
        self._pending_removal = []

    def __call__(self, checkpoint, filename, metadata=None):
        if idist.get_rank() != 0:
            return
        with atomic_path(os.path.join(self.dirname, filename)) as tmp:
            torch.save(checkpoint, tmp)
        for name in self._pending_removal:
            path = os.path.join(self.dirname, name)
            if name != filename and os.path.exists(path):
                os.remove(path)
        self._pending_removal = []

    def remove(self, filename):
        self._pending_removal.append(filename)


def list_checkpoints(output_dir):
    """checkpoint_<epoch>.pt files of output_dir as (epoch, path), newest first."""
    found = []
    for name in os.listdir(output_dir) if os.path.isdir(output_dir) else ():
        m = CHECKPOINT_RE.match(name)
        if m:
            found.append((int(m.group(1)), os.path.join(output_dir, name)))
    return sorted(found, reverse=True)


def resolve_resume(cfg):
    """The checkpoint path SOLVER.RESUME points at, or None to start afresh."""
    resume = cfg.SOLVER.RESUME
    if not resume:
        return None
    if resume == "auto":
        found = list_checkpoints(cfg.OUTPUT_DIR)
        if not found:
            logger.info("SOLVER.RESUME 'auto': no checkpoint in %s yet, starting afresh", cfg.OUTPUT_DIR)
            return None
        return found[0][1]
    if not os.path.isfile(resume):
        raise UserError(f"SOLVER.RESUME {resume} is not a file: give a checkpoint_<epoch>.pt path or 'auto'")
    return resume


def archive_previous_run(output_dir):
    """Move a previous run's files into output_dir/archive/<time>/ so a fresh run overwrites nothing."""
    found = [p for pattern in RUN_ARTIFACTS for p in glob.glob(os.path.join(output_dir, pattern))]
    if not found:
        return None
    dest = os.path.join(output_dir, "archive", time.strftime("%Y%m%d-%H%M%S"))
    suffix = 0
    while os.path.exists(dest + (f"-{suffix}" if suffix else "")):
        suffix += 1
    dest += f"-{suffix}" if suffix else ""
    os.makedirs(dest)
    for path in found:
        shutil.move(path, os.path.join(dest, os.path.basename(path)))
    return dest
