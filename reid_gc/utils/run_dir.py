"""The run directory (OUTPUT_DIR): the name of every file a run writes there, writing and reading them back,
and moving a previous run aside.

ARTIFACTS lists every name a run may leave; a fresh run moves exactly those into archive/<time>/ (files of
the user's own in the folder stay where they are), and a test fails when a run writes a name not listed.
"""
import fnmatch
import json
import logging
import os
import re
import shutil
import time

from .atomic import write_json

logger = logging.getLogger(__name__)

LOG = "log.txt"
TEST_LOG = "test_log.txt"
CONFIG = "config.yml"
METRICS = "metrics.json"
EPOCHS = "epochs.json"
CURVES = "curves.png"
BEST = "model_best.pt"
TENSORBOARD = "tensorboard"
ARCHIVE = "archive"
CHECKPOINT_RE = re.compile(r"^checkpoint_(\d+)\.pt$")
CONFIG_RESUME_RE = re.compile(r"^config_resume_(\d+)\.yml$")

# Every name (glob pattern) a run or tools/test.py may leave in OUTPUT_DIR, and what it holds.
ARTIFACTS = {
    LOG: "the training log (a resumed run appends)",
    TEST_LOG: "tools/test.py's log",
    CONFIG: "the configuration the run started with",
    "config_resume_*.yml": "the configuration of each resume, numbered from 1",
    METRICS: "every evaluation: training's (source 'train') and tools/test.py's ('test')",
    EPOCHS: "per epoch: mean loss, mean accuracy and the learning rate it trained with",
    "*.json.unreadable": "a history file that could not be read, kept aside",
    CURVES: "loss, accuracy, lr and mAP / Rank-1 per epoch",
    "checkpoint_*.pt": "model, optimizers, schedule and counters of an epoch (the newest 3)",
    BEST: "the weights of the best evaluation (mAP)",
    "ranked_*.png": "TEST.VISUALIZE's ranked lists (ranked_final.png, ranked_test.png; _<dataset> per test set)",
    "ranked_*.csv": "each query's AP and top-k gallery images (TEST.RANKED_LIST_TOPK)",
    "roc_*.png": "TEST.ROC's curve and pair-distance histograms",
    TENSORBOARD: "TensorBoard scalars, if tensorboard is installed",
    ".*.tmp": "the temporary file of a write that was interrupted",
}


def is_artifact(name):
    """True when `name` (a file or folder directly in OUTPUT_DIR) is one a run writes."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in ARTIFACTS)


def checkpoint_name(epoch):
    return f"checkpoint_{epoch}.pt"


def ranked_lists_name(tag):
    return f"ranked_{tag}.png"


def read_json_list(path):
    """The JSON list at `path`; [] if the file is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, list) else [data]
    except (OSError, json.JSONDecodeError):
        return []


def append_json_list(path, entry):
    """Append one entry to the JSON list at `path`; the file is replaced atomically, never truncated."""
    history = []
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8") as f:
                history = json.load(f)
        except (OSError, json.JSONDecodeError):
            # Keep the unreadable file for the user rather than overwrite it.
            aside = path + ".unreadable"
            os.replace(path, aside)
            logger.warning("%s was unreadable; kept it as %s and started a new history", path, aside)
            history = []
        if not isinstance(history, list):
            history = [history]
    history.append(entry)
    write_json(path, history)


class RunDir:
    """One OUTPUT_DIR: paths, records and the previous run."""

    def __init__(self, root):
        self.root = os.fspath(root)

    def path(self, name):
        return os.path.join(self.root, name)

    # ------------------------------------------------------------------------------------ checkpoints
    def checkpoints(self):
        """checkpoint_<epoch>.pt files as (epoch, path), newest first."""
        found = []
        for name in os.listdir(self.root) if os.path.isdir(self.root) else ():
            m = CHECKPOINT_RE.match(name)
            if m:
                found.append((int(m.group(1)), self.path(name)))
        return sorted(found, reverse=True)

    # ---------------------------------------------------------------------------------------- records
    def record_epoch(self, epoch, loss, acc, lr):
        append_json_list(self.path(EPOCHS), {"epoch": epoch, "loss": loss, "acc": acc, "lr": lr})

    def record_evaluation(self, entry):
        append_json_list(self.path(METRICS), entry)

    def history(self):
        """(per-epoch training stats, training evaluations of the first test set: the one model_best.pt
        follows), one entry per epoch (the last written wins, so epochs repeated after a resume show once)."""
        epochs = {e["epoch"]: e for e in read_json_list(self.path(EPOCHS)) if "epoch" in e}
        return [epochs[k] for k in sorted(epochs)], next(iter(self.evaluations_by_set().values()), [])

    def evaluations_by_set(self):
        """{test set: its training evaluations by epoch}, test sets in the order they first appear."""
        by_set = {}
        for e in read_json_list(self.path(METRICS)):
            if e.get("source") == "train" and "epoch" in e:
                by_set.setdefault(e.get("dataset", ""), {})[e["epoch"]] = e
        return {name: [evals[k] for k in sorted(evals)] for name, evals in by_set.items()}

    # --------------------------------------------------------------------------------------- configs
    def config_records(self):
        """The configuration files of this run in the order they were written: config.yml, then
        config_resume_1.yml, config_resume_2.yml, ..."""
        resumes = []
        for name in os.listdir(self.root) if os.path.isdir(self.root) else ():
            m = CONFIG_RESUME_RE.match(name)
            if m:
                resumes.append((int(m.group(1)), self.path(name)))
        first = [self.path(CONFIG)] if os.path.isfile(self.path(CONFIG)) else []
        return first + [p for _, p in sorted(resumes)]

    def next_config_record(self, resumed):
        """Where this session's configuration goes: config.yml for a fresh run (or the first record of a
        folder), config_resume_<n>.yml for the n-th resume; an earlier record is never overwritten."""
        records = self.config_records()
        if not resumed or not records:
            return self.path(CONFIG)
        numbers = [int(CONFIG_RESUME_RE.match(os.path.basename(p)).group(1)) for p in records[1:]]
        return self.path(f"config_resume_{max(numbers, default=0) + 1}.yml")

    # ------------------------------------------------------------------------------------ previous run
    def previous_run(self):
        """Names in the folder that a previous run wrote (archive/ excluded)."""
        if not os.path.isdir(self.root):
            return []
        return sorted(n for n in os.listdir(self.root) if n != ARCHIVE and is_artifact(n))

    def archive_previous_run(self):
        """Move a previous run's files into archive/<time>/ so a fresh run overwrites nothing; returns that
        folder, or None when there was nothing to move."""
        found = self.previous_run()
        if not found:
            return None
        dest = self.path(os.path.join(ARCHIVE, time.strftime("%Y%m%d-%H%M%S")))
        suffix = 0
        while os.path.exists(dest + (f"-{suffix}" if suffix else "")):
            suffix += 1
        dest += f"-{suffix}" if suffix else ""
        os.makedirs(dest)
        for name in found:
            shutil.move(self.path(name), os.path.join(dest, name))
        return dest
