"""Build the run's configuration: defaults, then a yml file, then KEY VALUE pairs; validate; freeze.

The merge is ours so that every mistake is one line naming the key and what it accepts, and so that
reid-strong-baseline spellings ("('market1501')", 0 for a float, yaml's bare yes/no) are understood rather
than refused. A string is read as a Python literal only where that gives the key's type: "('0')" is '0',
but '0,1' and '1e3' stay strings for a string key. save_config writes what load_config reads back equal.
"""
import ast
import difflib
import importlib
import math
import os

import yaml
from yacs.config import CfgNode

from ..losses.build import loss_names
from ..solver.optimizer import check_solver
from ..utils.atomic import write_text
from ..utils.errors import UserError
from .defaults import CHOICES, PATH_KEYS, RANGES, get_defaults


def _flat_keys(node, prefix=""):
    for k, v in node.items():
        if isinstance(v, CfgNode):
            yield from _flat_keys(v, prefix + k + ".")
        else:
            yield prefix + k


def flat_items(mapping, prefix=""):
    """(dotted key, value) of every leaf of a nested dict or CfgNode."""
    for k, v in mapping.items():
        if isinstance(v, dict):  # CfgNode is a dict
            yield from flat_items(v, prefix + str(k) + ".")
        else:
            yield prefix + str(k), v


def _unknown_key(key, known, source):
    close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "see reid_gc/config/defaults.py for every key"
    return UserError(f"unknown config key {key} ({source}): {hint}")


def _coerce(key, value, default):
    """Return `value` in the type of `default`, or raise a one-line UserError."""
    choices = allowed_values().get(key)
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
            if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value):
                raise UserError(f"config key {key} must be a list of numbers like {list(default)!r}, got {value!r}")
            if all(isinstance(d, int) for d in default):
                if not all(float(x).is_integer() for x in value):
                    raise UserError(f"config key {key} must be a list of integers like {list(default)!r}, "
                                    f"got {value!r}")
                value = [int(x) for x in value]  # [64.0, 32] means [64, 32]
            else:
                value = [float(x) for x in value]
        return type(default)(value)
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
            return int(value)
        raise UserError(f"config key {key} must be an integer, got {value!r}")
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
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


def _literal(text):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text


def _decode(key, raw, default):
    """A value as the yml file or command line gave it -> Python, read as a literal only where the key wants one.

    yaml has already typed a file's values; a string is decoded once more (as yacs does) when the key takes
    numbers or lists, or when it spells a string as Python would ("('market1501')", "'0,1'").
    """
    if not isinstance(raw, str):
        return raw
    value = _literal(raw.strip())
    if not isinstance(default, str) and key != "DATASETS.NAMES":
        return value
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return value if key == "DATASETS.NAMES" or len(value) > 1 else value[0]
    if isinstance(value, bool) and key in allowed_values():
        return value  # True/False for a yes/no key
    return raw  # '0,1', '1e3', '0x10': the string itself


def _encode(key, value, default):
    """The yml form of a string value that _decode gives back unchanged (a Python literal where needed)."""
    if isinstance(value, str) and _decode(key, value, default) != value:
        return repr(value)
    return value


def _set(cfg, key, raw, source, known):
    if key not in known:
        raise _unknown_key(key, known, source)
    node = cfg
    *parents, leaf = key.split(".")
    for p in parents:
        node = node[p]
    node[leaf] = _coerce(key, _decode(key, raw, node[leaf]), node[leaf])


def _get(cfg, key):
    node = cfg
    for p in key.split("."):
        node = node[p]
    return node


def allowed_values():
    """key -> accepted values; lists owned by other modules (CHOICES' "module:NAME" entries) read from there."""
    out = {}
    for key, choices in CHOICES.items():
        if isinstance(choices, str):
            module, name = choices.split(":")
            choices = tuple(getattr(importlib.import_module(module), name))
        out[key] = choices
    return out


def parse_interval(text):
    """'[0, 1)' -> (0.0, 1.0, low_closed=True, high_closed=False)."""
    low, high = (float(x) for x in text[1:-1].split(","))
    return low, high, text[0] == "[", text[-1] == "]"


def in_interval(value, text):
    low, high, low_closed, high_closed = parse_interval(text)
    return (low <= value if low_closed else low < value) and (value <= high if high_closed else value < high)


def _check_ranges(cfg):
    for key, interval in RANGES.items():
        if interval is None:
            continue
        value = _get(cfg, key)
        values = value if isinstance(value, (list, tuple)) else [value]
        bad = [v for v in values if not in_interval(v, interval)]
        if bad:
            if isinstance(value, (list, tuple)):
                raise UserError(f"config key {key} must have every value in {interval}, got {list(value)}")
            raise UserError(f"config key {key} must lie in {interval}, got {value}")


def validate(cfg):
    """Check values that each key alone cannot check: choices, ranges, paths and combinations."""
    for key, choices in allowed_values().items():
        value = _get(cfg, key)
        if value not in choices:
            raise UserError(f"config key {key} is {value!r}; accepted values: {', '.join(map(str, choices))}")
    for key in ("INPUT.SIZE_TRAIN", "INPUT.SIZE_TEST"):
        if len(_get(cfg, key)) != 2:
            raise UserError(f"config key {key} must be [height, width], got {list(_get(cfg, key))}")
    for key in ("INPUT.PIXEL_MEAN", "INPUT.PIXEL_STD"):
        if len(_get(cfg, key)) != 3:
            raise UserError(f"config key {key} needs 3 values (R, G, B), got {list(_get(cfg, key))}")
    _check_ranges(cfg)
    from ..data.datasets.synthetic import resolve_params

    resolve_params({k.lower(): v for k, v in cfg.DATASETS.SYNTHETIC.items()})
    if os.path.exists(cfg.OUTPUT_DIR) and not os.path.isdir(cfg.OUTPUT_DIR):
        raise UserError(f"OUTPUT_DIR {cfg.OUTPUT_DIR} is a file, not a folder: give OUTPUT_DIR a folder path")
    from ..data.datasets import check_dataset_names  # here: the synthetic dataset imports the config defaults

    for key in ("DATASETS.NAMES", "DATASETS.TEST_NAMES"):
        check_dataset_names(_get(cfg, key), key)  # a typo fails here, before any data is read or generated
    if cfg.DATALOADER.SAMPLER != "softmax" and cfg.SOLVER.IMS_PER_BATCH % cfg.DATALOADER.NUM_INSTANCE:
        raise UserError(
            f"SOLVER.IMS_PER_BATCH ({cfg.SOLVER.IMS_PER_BATCH}) must be a multiple of DATALOADER.NUM_INSTANCE "
            f"({cfg.DATALOADER.NUM_INSTANCE}) for the P x K sampler '{cfg.DATALOADER.SAMPLER}'")
    loss_names(cfg.DATALOADER.SAMPLER, cfg.MODEL.IF_WITH_CENTER, cfg.MODEL.METRIC_LOSS_TYPE)
    if list(cfg.SOLVER.STEPS) != sorted(cfg.SOLVER.STEPS):
        raise UserError(f"config key SOLVER.STEPS must be increasing epochs, got {list(cfg.SOLVER.STEPS)}")
    check_solver(cfg)  # a typo or an unusable optimizer fails here, before any data is read or generated


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
        for key, value in flat_items(data):
            _set(cfg, key, value, config_file, known)
    opts = list(opts)
    if len(opts) % 2:
        raise UserError(f"command-line options come in KEY VALUE pairs; {opts[-1]} has no value")
    for key, value in zip(opts[0::2], opts[1::2]):
        _set(cfg, key, value, "command line", known)
    if not cfg.OUTPUT_DIR:
        stem = os.path.splitext(os.path.basename(config_file))[0] if config_file else "default"
        cfg.OUTPUT_DIR = os.path.join("out", stem)
    for key in PATH_KEYS:
        *parents, leaf = key.split(".")
        node = cfg
        for p in parents:
            node = node[p]
        node[leaf] = os.path.expanduser(node[leaf])
    validate(cfg)
    if freeze:
        cfg.freeze()
    return cfg


def _encoded(node, defaults, prefix=""):
    out = {}
    for k, v in node.items():
        if isinstance(v, CfgNode):
            out[k] = _encoded(v, defaults[k], prefix + k + ".")
        elif isinstance(v, tuple):
            out[k] = list(v)
        else:
            out[k] = _encode(prefix + k, v, defaults[k])
    return out


def config_text(cfg):
    """The configuration as yml that load_config reads back to the same values."""
    return yaml.safe_dump(_encoded(cfg, get_defaults()), sort_keys=False, default_flow_style=None)


def save_config(cfg, path):
    """Write the merged configuration as yml that load_config reads back to the same values."""
    write_text(path, config_text(cfg))
