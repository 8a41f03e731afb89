"""Self-describing checkpoints: the config keys that build and feed a model, saved beside its weights.

Training adds `model_record(cfg, model)` to every checkpoint and to model_best.pt; the tools and the API
rebuild their configuration from it (`config_for_weights`), so a checkpoint alone is enough. A config
file or KEY VALUE pairs given beside it win where they say something; a conflict that changes the network
is logged as a warning. Checkpoints saved before the record existed still work with their config.
"""
import logging
import os

import yaml

from .. import __version__
from ..config import load_config
from ..config.defaults import get_defaults
from ..config.load import flat_items, validate
from ..modeling.backbones import guess_backbone
from ..utils.errors import UserError
from ..utils.weights import model_state_from, safe_load, unwrap_model

logger = logging.getLogger(__name__)

RECORD_KEY = "reid_gc"  # the checkpoint entry holding the record
# MODEL keys that concern the run, not the network: never recorded, never compared.
RUNTIME_MODEL_KEYS = ("DEVICE", "DEVICE_ID", "COMPILE", "CHANNELS_LAST", "SYNC_BN", "PRETRAIN_PATH",
                      "PRETRAIN_CHOICE")
# MODEL keys recorded for the reader's information that do not change the inference network.
LOSS_MODEL_KEYS = ("IF_WITH_CENTER", "METRIC_LOSS_TYPE", "IF_LABELSMOOTH")
# Keys outside MODEL that feed the network at test time, and the data it was trained on.
FEED_KEYS = ("INPUT.SIZE_TEST", "INPUT.PIXEL_MEAN", "INPUT.PIXEL_STD", "TEST.NECK_FEAT", "TEST.FEAT_NORM",
             "TEST.FLIP_FEAT", "TEST.DISTANCE", "DATASETS.NAMES")


def _get(cfg, key):
    node = cfg
    for part in key.split("."):
        node = node[part]
    return node


def recorded_keys(cfg):
    """Every MODEL key except the runtime ones (so keys added later are recorded without a change here),
    the test-time feeding keys, and the synthetic dataset's sizes (test.py regenerates the same data)."""
    keys = [f"MODEL.{k}" for k in cfg.MODEL if k not in RUNTIME_MODEL_KEYS]
    keys += list(FEED_KEYS)
    keys += [f"DATASETS.SYNTHETIC.{k}" for k in cfg.DATASETS.SYNTHETIC]
    return keys


def network_keys(keys):
    """The recorded keys whose value changes the network's weights layout or forward."""
    return [k for k in keys if k.startswith("MODEL.") and k.split(".", 1)[1] not in LOSS_MODEL_KEYS]


def _plain(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def model_record(cfg, model):
    """{'reid_gc': {...}}: what a checkpoint needs to describe its model; merge it into the saved dict."""
    net = unwrap_model(model)
    return {RECORD_KEY: {
        "version": __version__,
        "config": {key: _plain(_get(cfg, key)) for key in recorded_keys(cfg)},
        "feat_dim": int(getattr(net, "in_planes", 0)),
        "num_classes": int(getattr(net, "num_classes", 0)),
    }}


def read_record(checkpoint, path="checkpoint"):
    """The record of a loaded checkpoint (a dict) or None for a checkpoint saved without one."""
    record = checkpoint.get(RECORD_KEY) if isinstance(checkpoint, dict) else None
    if record is None:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise UserError(f"{path} has a malformed '{RECORD_KEY}' entry: give a checkpoint saved by reid-gc "
                        "training, or pass --config_file with the config it was trained with")
    return record


def _looks_like(checkpoint):
    """' (its weights are a resnet50 with a BNNeck)' or '' when the weights say nothing recognisable."""
    if checkpoint is None:
        return ""
    try:
        state = model_state_from(checkpoint)
    except UserError:
        return ""
    name = guess_backbone(state, prefix="base.")
    if name is None:
        return ""
    return f" (its weights are a {name} {'with' if 'bottleneck.weight' in state else 'without'} a BNNeck)"


def _explicit_keys(config_file, opts):
    """Keys that the config file or the KEY VALUE pairs set (load_config has checked them already)."""
    keys = set(opts[0::2])
    if config_file:
        with open(config_file, encoding="utf-8") as f:
            keys.update(k for k, _ in flat_items(yaml.safe_load(f) or {}))
    return keys


def config_for_weights(config_file="", opts=(), weights=None):
    """The frozen configuration to use checkpoint `weights` (default: TEST.WEIGHT of file/opts) with.

    Defaults, then the checkpoint's record, then what `config_file` and `opts` set. Without a record the
    config file is required; a checkpoint that cannot be read is a UserError from safe_load.
    """
    opts = list(opts)
    if weights is not None:
        opts += ["TEST.WEIGHT", os.fspath(weights)]
    cfg = load_config(config_file, opts, freeze=False)
    weights = cfg.TEST.WEIGHT
    if not weights:
        cfg.freeze()
        return cfg  # nothing to describe the model: the caller reports the missing TEST.WEIGHT
    if not os.path.isfile(weights):
        raise UserError(f"checkpoint {weights} is not a file: give the path of a checkpoint (checkpoint_<epoch>.pt)")
    try:
        checkpoint = safe_load(weights)
    except UserError:  # a whole pickled model (reid-strong-baseline's): modeling.foreign reads it; no record
        checkpoint = None
    record = read_record(checkpoint, path=f"checkpoint {weights}")
    if record is None:
        if not config_file and "MODEL.NAME" not in opts[::2]:
            raise UserError(f"checkpoint {weights} does not record its configuration (saved before reid-gc "
                            f"0.2.0, or another project's){_looks_like(checkpoint)}: give --config_file with the "
                            "config it was trained with (or at least its MODEL.NAME)")
        cfg.freeze()
        return cfg
    explicit = _explicit_keys(config_file, opts)
    changes_network = set(network_keys(record["config"]))
    defaults = get_defaults()
    for key, value in record["config"].items():
        try:
            default = _get(defaults, key)
        except KeyError:
            logger.warning("checkpoint %s records %s, which this version of reid-gc does not know; ignored",
                           weights, key)
            continue
        value = type(default)(value) if isinstance(default, (list, tuple)) else value
        if key in explicit:
            given = _get(cfg, key)
            if key in changes_network and _plain(given) != _plain(value):
                logger.warning("%s is %r in the configuration given but %r in checkpoint %s: using %r, which "
                               "changes the network the weights were trained in", key, given, value, weights, given)
            continue
        *parents, leaf = key.split(".")
        node = cfg
        for p in parents:
            node = node[p]
        node[leaf] = value
    validate(cfg)
    cfg.freeze()
    return cfg
