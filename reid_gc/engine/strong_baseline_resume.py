"""MODEL.PRETRAIN_CHOICE 'self' in training, as reid-strong-baseline means it: continue from that file.

reid-strong-baseline's tools/train.py, given PRETRAIN_CHOICE 'self' and PRETRAIN_PATH
`.../resnet50_model_2.pth`, loads the model there, the optimizer from the same name with 'model' replaced by
'optimizer' (`resnet50_optimizer_2.pth`), with center loss also `resnet50_center_param_2.pth` and
`resnet50_optimizer_center_2.pth`, and trains on from the epoch after the number that ends the file name
(the text after the last '_', before the first '.') up to SOLVER.MAX_EPOCHS.

Here, a reid-gc training checkpoint (`checkpoint_<epoch>.pt`) as PRETRAIN_PATH resumes exactly as
SOLVER.RESUME <path> does. Any other model file is read as reid-strong-baseline's: its weights, then each
companion file that exists (a missing one is logged and that part starts afresh; theirs must all exist),
its optimizer's per-parameter state mapped onto our parameter groups by parameter name. Companion names are
formed in the file name only (theirs replaces 'model' in the whole path, folders included). A file name
without an epoch number starts at epoch 0: the weights only, a full schedule.
"""
import logging
import os
import warnings
from collections.abc import Mapping

import torch

from ..modeling.foreign import load_trained_weights, read_trained_state
from ..utils.errors import UserError
from ..utils.weights import safe_load, unwrap_model

logger = logging.getLogger(__name__)

# Hyperparameters that tell optimizer families apart in a saved param group (Adam*: betas, SGD: momentum,
# Adagrad: lr_decay); a file saved by another family does not fit our optimizer's state.
_FAMILY_KEYS = ("betas", "momentum", "lr_decay")


def pretrain_self_path(cfg):
    """PRETRAIN_PATH when a training run starts from it (PRETRAIN_CHOICE 'self'), else None."""
    if cfg.MODEL.PRETRAIN_CHOICE != "self":
        return None
    path = cfg.MODEL.PRETRAIN_PATH
    if not path:
        raise UserError("MODEL.PRETRAIN_CHOICE 'self' needs MODEL.PRETRAIN_PATH in training: the model file to "
                        "continue from (e.g. .../resnet50_model_2.pth or .../checkpoint_2.pt)")
    if not os.path.isfile(path):
        raise UserError(f"MODEL.PRETRAIN_PATH {path} is not a file: give the model file to continue from")
    return path


def epoch_from_file_name(path):
    """reid-strong-baseline's rule: the file name up to its first '.', its last '_'-separated part, as an
    integer (`resnet50_model_2.pth` -> 2); None when that part is not a number."""
    part = os.path.basename(path).split(".")[0].split("_")[-1]
    return int(part) if part.isdigit() else None


def companion_path(path, kind):
    """reid-strong-baseline's name for the `kind` file ('optimizer', 'center_param', 'optimizer_center')
    saved beside the model file `path`: 'model' replaced by `kind` in the file name."""
    folder, name = os.path.split(path)
    return os.path.join(folder, name.replace("model", kind))


def training_checkpoint(path):
    """The reid-gc training checkpoint at `path` (an ignite dict with the model and the trainer's state),
    or None for any other file."""
    try:
        obj = safe_load(path, what="MODEL.PRETRAIN_PATH")
    except UserError:
        return None  # a whole pickled model (reid-strong-baseline's) or unreadable: read as theirs
    ours = isinstance(obj, Mapping) and isinstance(obj.get("model"), Mapping) and "trainer" in obj
    return obj if ours else None


def _their_model_state(path, model_name):
    """The model file's state dict (a state dict or a whole pickled model, read as data), in the file's key
    order: the order of its model's parameters."""
    return read_trained_state(path, model_name, what="MODEL.PRETRAIN_PATH")[0]


def _load_their_model(model, path):
    load_trained_weights(model, path, what="MODEL.PRETRAIN_PATH")


def _family(group):
    return tuple(key for key in _FAMILY_KEYS if key in group)


def _map_optimizer_state(optimizer, names_by_param, their_names, path):
    """Load reid-strong-baseline's optimizer state dict at `path` into `optimizer`: their parameters,
    in order, are `their_names`; ours are named by `names_by_param` (id(param) -> name)."""
    theirs = safe_load(path, what="optimizer file")
    if not (isinstance(theirs, Mapping) and "state" in theirs and "param_groups" in theirs):
        raise UserError(f"optimizer file {path} holds no optimizer state dict: give the file saved beside the model")
    their_ids = [i for group in theirs["param_groups"] for i in group["params"]]
    if len(their_ids) != len(their_names):
        raise UserError(f"optimizer file {path} has {len(their_ids)} parameters, the model file "
                        f"{len(their_names)}: give the optimizer file saved with that model")
    ours = optimizer.state_dict()
    if theirs["param_groups"] and _family(theirs["param_groups"][0]) != _family(ours["param_groups"][0]):
        raise UserError(f"optimizer file {path} was saved by another kind of optimizer than "
                        f"{type(optimizer).__name__}: set SOLVER.OPTIMIZER_NAME to the one it was trained with")
    name_of_their_id = dict(zip(their_ids, their_names))
    state_of_name = {name_of_their_id[i]: s for i, s in theirs["state"].items() if i in name_of_their_id}
    params = [p for group in optimizer.param_groups for p in group["params"]]
    our_ids = [i for group in ours["param_groups"] for i in group["params"]]
    missing = [names_by_param[id(p)] for p in params if names_by_param[id(p)] not in name_of_their_id.values()]
    if missing:
        raise UserError(f"optimizer file {path} has no entry for parameter {missing[0]}: give the optimizer file "
                        "saved with that model")
    state = {}
    for i, p in zip(our_ids, params):
        saved = state_of_name.get(names_by_param[id(p)])
        if saved is None:
            continue  # never stepped there (e.g. no gradient yet): starts afresh, as in their run
        for key, value in saved.items():
            if torch.is_tensor(value) and value.dim() > 0 and value.shape != p.shape:
                raise UserError(f"optimizer file {path}: {key} of {names_by_param[id(p)]} has shape "
                                f"{tuple(value.shape)}, the parameter {tuple(p.shape)}: give the file saved with "
                                "that model")
        state[i] = dict(saved)
    optimizer.load_state_dict({"state": state, "param_groups": ours["param_groups"]})


def _load_centers(center, center_optimizer, path, optimizer_path):
    theirs = safe_load(path, what="center file")
    ours = center.state_dict()
    if not (isinstance(theirs, Mapping) and set(theirs) == set(ours)) or \
            any(tuple(theirs[k].shape) != tuple(v.shape) for k, v in ours.items()):
        shapes = {k: tuple(v.shape) for k, v in theirs.items()} if isinstance(theirs, Mapping) else type(theirs)
        raise UserError(f"center file {path} holds {shapes}, the center loss needs "
                        f"{ {k: tuple(v.shape) for k, v in ours.items()} }: give the file saved with that model")
    center.load_state_dict(theirs)
    if os.path.isfile(optimizer_path):
        names = {id(p): name for name, p in center.named_parameters()}
        _map_optimizer_state(center_optimizer, names, list(names.values()), optimizer_path)
        return True
    return False


def continue_from_strong_baseline(cfg, path, to_load, epoch_length):
    """Load reid-strong-baseline's files into the objects of `to_load`; returns their state dicts (what
    Checkpoint.load_objects then loads back unchanged)."""
    model = unwrap_model(to_load["model"])
    their_order = list(_their_model_state(path, model.model_name))
    _load_their_model(model, path)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    their_names = [k for k in their_order if k in trainable]
    names_by_param = {id(p): name for name, p in model.named_parameters()}
    loaded = ["model"]

    optimizer_path = companion_path(path, "optimizer")
    if optimizer_path != path and os.path.isfile(optimizer_path):
        _map_optimizer_state(to_load["optimizer"], names_by_param, their_names, optimizer_path)
        loaded.append(f"optimizer ({os.path.basename(optimizer_path)})")
    else:
        logger.info("no optimizer file %s beside %s: the optimizer starts afresh", optimizer_path, path)

    if "center" in to_load:
        center_path = companion_path(path, "center_param")
        center_optimizer_path = companion_path(path, "optimizer_center")
        if center_path != path and os.path.isfile(center_path):
            with_optimizer = _load_centers(to_load["center"], to_load["center_optimizer"], center_path,
                                           center_optimizer_path)
            loaded.append(f"centers ({os.path.basename(center_path)})")
            if with_optimizer:
                loaded.append(f"center optimizer ({os.path.basename(center_optimizer_path)})")
        else:
            logger.info("no center file %s beside %s: the centers start afresh", center_path, path)

    epoch = epoch_from_file_name(path)
    if epoch is None:
        logger.info("the name of %s ends in no epoch number (reid-strong-baseline saves <name>_model_<epoch>.pth): "
                    "starting at epoch 0 with its weights", path)
        epoch = 0
    scheduler = to_load["scheduler"]
    with warnings.catch_warnings():  # stepping the schedule to the epoch, without optimizer steps, is intended
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(epoch):
            scheduler.step()
    to_load["trainer"].load_state_dict({"iteration": epoch * epoch_length, "epoch_length": epoch_length,
                                        "max_epochs": max(cfg.SOLVER.MAX_EPOCHS, epoch, 1)})
    logger.info("continuing reid-strong-baseline's run from %s after epoch %d: loaded %s", path, epoch,
                ", ".join(loaded))
    return {key: obj.state_dict() for key, obj in to_load.items()}
