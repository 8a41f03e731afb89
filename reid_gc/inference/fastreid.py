"""Our model in fast-reid's BoT (Baseline meta-architecture) layout, for trackers built on fast-reid.

fast-reid's Baseline holds `backbone.*` (a ResNet with torchvision's parameter names, no fc), an
EmbeddingHead with `heads.bottleneck.0.*` (the BNNeck, a BatchNorm on the pooled (N, C, 1, 1) feature)
and `heads.weight` (the classifier, no bias), and `pixel_mean` / `pixel_std` on the 0..255 scale
(1, 3, 1, 1). Its Checkpointer reads the state dict from the file's 'model' entry. In evaluation the head
returns the feature after the bottleneck; a model evaluated before its BNNeck is therefore written
without the bottleneck (fast-reid's WITH_BNNECK False), which returns the pooled feature.
"""
import logging
import os

import torch
import yaml

from ..modeling.backbones import RESNETS
from ..utils.atomic import atomic_path, write_text
from ..utils.errors import UserError
from ..utils.weights import model_state_from, safe_load, unwrap_model
from .record import network_keys, recorded_keys

logger = logging.getLogger(__name__)

# The MODEL keys this layout expresses; any other network key must keep its default value.
EXPRESSED = ("MODEL.NAME", "MODEL.LAST_STRIDE", "MODEL.NECK")


def fastreid_state(cfg, model, classifier):
    """The state dict in fast-reid's layout (tensors on the CPU); `classifier` is the trained classifier
    weight (inference models are built without it)."""
    from ..config.defaults import get_defaults

    if cfg.MODEL.NAME not in RESNETS:
        raise UserError(f"--format fastreid writes ResNet models; MODEL.NAME {cfg.MODEL.NAME} has no fast-reid "
                        "layout here: export ONNX or TorchScript instead")
    defaults = get_defaults()
    for key in network_keys(recorded_keys(cfg)):
        if key in EXPRESSED:
            continue
        section, leaf = key.split(".", 1)
        if cfg[section][leaf] != defaults[section][leaf]:
            raise UserError(f"--format fastreid cannot express {key} {cfg[section][leaf]!r} (fast-reid's ResNet "
                            "has no such option): export ONNX or TorchScript instead")
    state = unwrap_model(model).state_dict()
    out = {}
    for key, value in state.items():
        if key.startswith("base."):
            out["backbone." + key[len("base."):]] = value.detach().cpu().clone()
    keep_bnneck = cfg.MODEL.NECK == "bnneck" and cfg.TEST.NECK_FEAT == "after"
    if keep_bnneck:
        for key, value in state.items():
            if key.startswith("bottleneck."):
                out["heads.bottleneck.0." + key[len("bottleneck."):]] = value.detach().cpu().clone()
    out["heads.weight"] = classifier.detach().cpu().clone()
    out["pixel_mean"] = torch.tensor(cfg.INPUT.PIXEL_MEAN, dtype=torch.float32).view(1, 3, 1, 1) * 255
    out["pixel_std"] = torch.tensor(cfg.INPUT.PIXEL_STD, dtype=torch.float32).view(1, 3, 1, 1) * 255
    return out, keep_bnneck


def fastreid_config(cfg, keep_bnneck, num_classes):
    """The fast-reid config keys that rebuild this model (merge them into a Base-bagtricks.yml)."""
    depth = cfg.MODEL.NAME[len("resnet"):] + "x"
    return {"MODEL": {
        "META_ARCHITECTURE": "Baseline",
        "BACKBONE": {"NAME": "build_resnet_backbone", "DEPTH": depth, "LAST_STRIDE": int(cfg.MODEL.LAST_STRIDE),
                     "FEAT_DIM": int(RESNETS[cfg.MODEL.NAME].feat_dim), "WITH_IBN": False, "WITH_SE": False,
                     "WITH_NL": False, "NORM": "BN", "PRETRAIN": False},
        "HEADS": {"NAME": "EmbeddingHead", "NORM": "BN", "WITH_BNNECK": bool(keep_bnneck),
                  "POOL_LAYER": "GlobalAvgPool", "NECK_FEAT": "after" if keep_bnneck else "before",
                  "CLS_LAYER": "Linear", "EMBEDDING_DIM": 0, "NUM_CLASSES": int(num_classes)},
        "PIXEL_MEAN": [round(255 * m, 4) for m in cfg.INPUT.PIXEL_MEAN],
        "PIXEL_STD": [round(255 * s, 4) for s in cfg.INPUT.PIXEL_STD],
        "WEIGHTS": "",
    }, "INPUT": {"SIZE_TEST": [int(s) for s in cfg.INPUT.SIZE_TEST]},
        "TEST": {"FLIP": {"ENABLED": cfg.TEST.FLIP_FEAT == "yes"}}}


def export_fastreid(cfg, model, path):
    """Write `path` ({'model': state dict}, loads with weights_only) and a fast-reid config beside it
    (<path without .pth>.yml); return the two paths. The classifier comes from cfg.TEST.WEIGHT."""
    trained = model_state_from(safe_load(cfg.TEST.WEIGHT), source=f"checkpoint {cfg.TEST.WEIGHT}")
    if "classifier.weight" not in trained:
        raise UserError(f"checkpoint {cfg.TEST.WEIGHT} has no classifier.weight: give a checkpoint saved by "
                        "reid-gc training")
    state, keep_bnneck = fastreid_state(cfg, model, trained["classifier.weight"])
    num_classes = state["heads.weight"].shape[0]
    with atomic_path(path) as tmp:
        torch.save({"model": state}, tmp)
    config_path = os.path.splitext(path)[0] + ".yml"
    settings = fastreid_config(cfg, keep_bnneck, num_classes)
    settings["MODEL"]["WEIGHTS"] = os.path.abspath(path)
    write_text(config_path, yaml.safe_dump(settings, sort_keys=False))
    logger.info("wrote fast-reid BoT weights %s (%d tensors) and its config %s", os.path.abspath(path), len(state),
                os.path.abspath(config_path))
    return path, config_path
