"""Which configuration keys a resumed run may change, and the check against the run's recorded config.

A checkpoint holds the model, the optimizers' state and the schedule's: keys that built those (model, data,
loss, optimizer, schedule, seed) would be silently ignored if changed, so they are refused. Keys that say how
long the run goes on, how often it logs, saves and evaluates, how it evaluates, and where and how fast it
runs may change and take effect.
"""
import logging

from ..utils.errors import UserError
from .load import flat_items

logger = logging.getLogger(__name__)

# Exact keys, or sections ending in '.', that may differ from the run's recorded config on resume.
RESUMABLE = ("SOLVER.MAX_EPOCHS", "SOLVER.CHECKPOINT_PERIOD", "SOLVER.EVAL_PERIOD", "SOLVER.LOG_PERIOD",
             "SOLVER.RESUME", "SOLVER.DETERMINISTIC", "TEST.", "DATALOADER.NUM_WORKERS", "MODEL.DEVICE",
             "MODEL.DEVICE_ID", "MODEL.COMPILE", "MODEL.CHANNELS_LAST", "MODEL.PRETRAIN_CHOICE", "MODEL.PRETRAIN_PATH",
             "DATASETS.ROOT_DIR",
             "OUTPUT_DIR")


def may_change_on_resume(key):
    return any(key == k or (k.endswith(".") and key.startswith(k)) for k in RESUMABLE)


def _flat(node):
    return ((k, list(v) if isinstance(v, (list, tuple)) else v) for k, v in flat_items(node))


def config_changes(before, after):
    """[(key, old, new)] of the keys whose values differ."""
    old = dict(_flat(before))
    return [(k, old.get(k), v) for k, v in _flat(after) if old.get(k) != v]


def check_resume_config(cfg, record_path):
    """Compare cfg with the run's latest config record: refuse (one line naming them) changes to keys that
    cannot change on resume; log the others, which take effect. Returns the changes."""
    from .load import load_config

    try:
        before = load_config(record_path, freeze=False)
    except UserError as e:
        logger.warning("cannot read the run's config %s (%s): the resumed config is not checked against it",
                       record_path, e)
        return []
    changes = config_changes(before, cfg)
    refused = [c for c in changes if not may_change_on_resume(c[0])]
    if refused:
        shown = ", ".join(f"{k} ({old!r} -> {new!r})" for k, old, new in refused)
        raise UserError(f"SOLVER.RESUME: {shown} differ from the run's config {record_path} and cannot change on "
                        "resume (the checkpoint's model, optimizer and schedule keep the old values): resume with "
                        "the run's values, or start a fresh run without SOLVER.RESUME")
    applied = [c for c in changes if c[0] not in ("SOLVER.RESUME",)]
    if applied:
        logger.info("resuming with changed keys: %s", ", ".join(f"{k} {old!r} -> {new!r}" for k, old, new in applied))
    return changes
