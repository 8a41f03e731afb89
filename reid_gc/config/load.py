"""Build the run's configuration: defaults, then a yml file, then KEY VALUE pairs; validate; freeze.

yacs does the parsing; the merge is ours so that every mistake is one line naming the key and what it
accepts, and so that reid-strong-baseline spellings ("('market1501')", 0 for a float, yaml's bare
yes/no) are understood rather than refused.
"""
import difflib
import os

import yaml
from yacs.config import CfgNode

from ..losses.build import loss_names
from ..solver.optimizer import optimizer_class
from ..utils.atomic import write_text
from ..utils.errors import UserError
from .defaults import CHOICES, get_defaults


def _flat_keys(node, prefix=""):
    for k, v in node.items():
        if isinstance(v, CfgNode):
            yield from _flat_keys(v, prefix + k + ".")
        else:
            yield prefix + k


def _flatten(mapping, prefix=""):
    for k, v in mapping.items():
        if isinstance(v, dict):
            yield from _flatten(v, prefix + str(k) + ".")
        else:
            yield prefix + str(k), v


def _unknown_key(key, known, source):
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "see reid_gc/config/defaults.py for every key"
    return UserError(f"unknown config key {key} ({source}): {hint}")


def _coerce(key, value, default):
    """Return `value` in the type of `default`, or raise a one-line UserError."""
    choices = CHOICES.get(key)
    if isinstance(value, bool) and isinstance(default, str) and choices:
        # yaml reads bare yes/no/on/off as booleans; map them back to this key's spelling.
        pair = ("on", "off") if "on" in choices else ("yes", "no")
        return pair[0] if value else pair[1]
    if key in ("DATASETS.NAMES", "DATASETS.TEST_NAMES"):
        # "('market1501')" is a plain string in Python; several names arrive as a tuple.
        names = (value,) if isinstance(value, str) and value else () if value == "" else value
        if isinstance(names, (list, tuple)) and (names or key == "DATASETS.TEST_NAMES") and all(
                isinstance(n, str) for n in names):
            return tuple(names)
        raise UserError(f"config key {key} must be a dataset name or a tuple of names, got {value!r}")
    if isinstance(default, (list, tuple)):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]  # STEPS 40 means (40,)
        if not isinstance(value, (list, tuple)):
            raise UserError(f"config key {key} must be a list like {list(default)!r}, got {value!r}")
        if default and all(isinstance(d, (int, float)) for d in default):
            if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in value):
                raise UserError(f"config key {key} must be a list of numbers like {list(default)!r}, got {value!r}")
            if all(isinstance(d, int) for d in default) and not all(float(x).is_integer() for x in value):
                raise UserError(f"config key {key} must be a list of integers like {list(default)!r}, got {value!r}")
        return type(default)(value)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
            return int(value)
        raise UserError(f"config key {key} must be an integer, got {value!r}")
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise UserError(f"config key {key} must be a number, got {value!r}")
    elif isinstance(default, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # MODEL.DEVICE_ID 0 means '0'
        if isinstance(value, (list, tuple)) and len(value) == 1 and isinstance(value[0], str):
            return value[0]
        if isinstance(value, str):
            return value
        raise UserError(f"config key {key} must be a string, got {value!r}")
    raise UserError(f"config key {key} cannot take {value!r}")


def _set(cfg, key, raw, source, known):
    if key not in known:
        raise _unknown_key(key, known, source)
    node = cfg
    *parents, leaf = key.split(".")
    for p in parents:
        node = node[p]
    value = CfgNode._decode_cfg_value(raw)
    node[leaf] = _coerce(key, value, node[leaf])


def _get(cfg, key):
    node = cfg
    for p in key.split("."):
        node = node[p]
    return node


def validate(cfg):
    """Check values that each key alone cannot check: choices, ranges and combinations."""
    for key, choices in CHOICES.items():
        value = _get(cfg, key)
        if value not in choices:
            raise UserError(f"config key {key} is {value!r}; accepted values: {', '.join(map(str, choices))}")
    for key in ("INPUT.SIZE_TRAIN", "INPUT.SIZE_TEST"):
        size = _get(cfg, key)
        if len(size) != 2 or min(size) < 16:
            raise UserError(f"config key {key} must be [height, width] of at least 16 pixels each, got {list(size)}")
    for key in ("INPUT.PIXEL_MEAN", "INPUT.PIXEL_STD"):
        if len(_get(cfg, key)) != 3:
            raise UserError(f"config key {key} needs 3 values (R, G, B), got {list(_get(cfg, key))}")
    for key in ("INPUT.PROB", "INPUT.RE_PROB"):
        if not 0.0 <= _get(cfg, key) <= 1.0:
            raise UserError(f"config key {key} is a probability and must lie in [0, 1], got {_get(cfg, key)}")
    positive = ("SOLVER.MAX_EPOCHS", "SOLVER.IMS_PER_BATCH", "DATALOADER.NUM_INSTANCE", "TEST.IMS_PER_BATCH",
                "SOLVER.CHECKPOINT_PERIOD", "SOLVER.EVAL_PERIOD", "SOLVER.LOG_PERIOD", "TEST.MAX_RANK",
                "SOLVER.BASE_LR", "TEST.RE_RANKING_K1", "TEST.RE_RANKING_K2", "TEST.REPEATS")
    for key in positive:
        if _get(cfg, key) <= 0:
            raise UserError(f"config key {key} must be positive, got {_get(cfg, key)}")
    if cfg.TEST.VISUALIZE < 0 or cfg.TEST.RANKED_LIST_TOPK < 0:
        raise UserError("config keys TEST.VISUALIZE and TEST.RANKED_LIST_TOPK must be 0 or more")
    from ..data.datasets import check_dataset_names  # here: the synthetic dataset imports the config defaults

    for key in ("DATASETS.NAMES", "DATASETS.TEST_NAMES"):
        check_dataset_names(_get(cfg, key), key)  # a typo fails here, before any data is read or generated
    if cfg.DATALOADER.NUM_WORKERS < 0:
        raise UserError(f"config key DATALOADER.NUM_WORKERS must be 0 or more, got {cfg.DATALOADER.NUM_WORKERS}")
    if cfg.DATALOADER.SAMPLER != "softmax" and cfg.SOLVER.IMS_PER_BATCH % cfg.DATALOADER.NUM_INSTANCE:
        raise UserError(
            f"SOLVER.IMS_PER_BATCH ({cfg.SOLVER.IMS_PER_BATCH}) must be a multiple of DATALOADER.NUM_INSTANCE "
            f"({cfg.DATALOADER.NUM_INSTANCE}) for the P x K sampler '{cfg.DATALOADER.SAMPLER}'")
    loss_names(cfg.DATALOADER.SAMPLER, cfg.MODEL.IF_WITH_CENTER, cfg.MODEL.METRIC_LOSS_TYPE)
    if cfg.SOLVER.WARMUP_METHOD == "linear" and cfg.SOLVER.WARMUP_ITERS < 0:
        raise UserError(f"config key SOLVER.WARMUP_ITERS must be 0 or more, got {cfg.SOLVER.WARMUP_ITERS}")
    if list(cfg.SOLVER.STEPS) != sorted(cfg.SOLVER.STEPS):
        raise UserError(f"config key SOLVER.STEPS must be increasing epochs, got {list(cfg.SOLVER.STEPS)}")
    optimizer_class(cfg.SOLVER.OPTIMIZER_NAME)  # a typo fails here, before any data is read or generated
    if cfg.MODEL.PRETRAIN_CHOICE == "self" and not cfg.MODEL.PRETRAIN_PATH:
        raise UserError("MODEL.PRETRAIN_CHOICE 'self' needs MODEL.PRETRAIN_PATH: the checkpoint to start from")


def load_config(config_file="", opts=(), freeze=True):
    """Defaults, then `config_file` (yml), then `opts` ([KEY, VALUE, ...]); validated and frozen."""
    cfg = get_defaults()
    known = list(_flat_keys(cfg))
    if config_file:
        if not os.path.isfile(config_file):
            raise UserError(f"config file {config_file} not found: pass --config_file with a path to a .yml file")
        try:
            with open(config_file, encoding="utf-8") as f:
                data = yaml.safe_load(f) or {}
        except yaml.YAMLError as e:
            where = getattr(e, "problem_mark", None)
            line = f" at line {where.line + 1}" if where else ""
            raise UserError(f"config file {config_file} is not valid YAML{line}: fix the file") from None
        if not isinstance(data, dict):
            raise UserError(f"config file {config_file} must hold a mapping of KEY: value sections")
        for key, value in _flatten(data):
            _set(cfg, key, value, config_file, known)
    opts = list(opts)
    if len(opts) % 2:
        raise UserError(f"command-line options come in KEY VALUE pairs; {opts[-1]} has no value")
    for key, value in zip(opts[0::2], opts[1::2]):
        _set(cfg, key, value, "command line", known)
    if not cfg.OUTPUT_DIR:
        stem = os.path.splitext(os.path.basename(config_file))[0] if config_file else "default"
        cfg.OUTPUT_DIR = os.path.join("out", stem)
    validate(cfg)
    if freeze:
        cfg.freeze()
    return cfg


def save_config(cfg, path):
    """Write the merged configuration as yml that load_config reads back to the same values."""
    write_text(path, cfg.dump())
