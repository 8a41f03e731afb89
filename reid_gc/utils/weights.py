"""Load checkpoints and weight files safely (weights_only) and fit them to a model with one-line errors.

Our checkpoints are ignite Checkpoint dicts ({'model': state_dict, 'optimizer': ..., ...}); a bare state
dict is accepted too. Nothing here unpickles arbitrary objects: a file that would need it is refused.
"""
import logging
import os
import pickle
import pickletools
import re
import warnings
import zipfile
from collections.abc import Mapping

import torch
from torch import nn

from .errors import UnreadableFileError, UserError

logger = logging.getLogger(__name__)

# Opcodes that import or build arbitrary objects; a plain pickle holding one needs a full unpickler.
_OBJECT_OPCODES = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE", "NEWOBJ", "NEWOBJ_EX", "BUILD"}
_REFUSED_GLOBAL = re.compile(r"Unsupported (?:global|class):?\s*(?:GLOBAL\s+)?([\w.]+)")
# Prefixes that wrappers add to parameter names: DistributedDataParallel/DataParallel and torch.compile.
_WRAPPER_PREFIXES = ("module.", "_orig_mod.")


def _plain_pickle_needs_objects(path):
    """True when `path` is a complete plain (non-torch-zip) pickle that imports or builds objects."""
    if zipfile.is_zipfile(path):
        return False
    try:
        with open(path, "rb") as f:
            return any(op.name in _OBJECT_OPCODES for op, _, _ in pickletools.genops(f))
    except Exception:  # not a well-formed pickle: corrupt, not malicious
        return False


def _is_torchscript_archive(path):
    """True for torch.jit.save's zip: it holds the model's pickled code (code/ and constants.pkl)."""
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.split("/", 1)[-1].startswith(("code/", "constants.pkl")) for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def safe_load(path, what="checkpoint"):
    """torch.load(path, map_location='cpu', weights_only=True), with a UserError for each way it fails.

    `what` names the file in the messages ("checkpoint", "ImageNet weights file", ...).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise UserError(f"{what} {path} not found: check the path")
    if not os.path.isfile(path):
        raise UserError(f"{what} {path} is not a file: give the path of a .pth/.pt file")
    if _is_torchscript_archive(path):
        raise UserError(
            f"{what} {path} is a TorchScript archive: it holds pickled code objects, not a state dict, and was "
            "not loaded (loading it runs its code); if you trust the file, convert it: "
            "torch.save(torch.jit.load(path).state_dict(), new_path)")
    try:
        with warnings.catch_warnings():
            # torch warns about any pickle protocol other than its own default; files load fine regardless.
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # The weights-only unpickler refuses both objects it may not build and bytes it cannot parse;
        # only the first is a file someone could load with a full (code-running) unpickler.
        refused = _REFUSED_GLOBAL.search(str(e))
        if refused or _plain_pickle_needs_objects(path):
            detail = f" ({refused.group(1)})" if refused else ""
            raise UserError(
                f"{what} {path} holds arbitrary Python objects{detail} and was refused (loading it could run "
                "code); save a state_dict instead (if you trust the file: "
                "torch.save(torch.load(path, weights_only=False).state_dict(), new_path))") from None
        raise UnreadableFileError(f"{what} {path} is not a readable torch file (truncated or corrupt?)") from None
    except PermissionError:
        raise UserError(f"{what} {path} cannot be read (permission denied): fix its permissions") from None
    except MemoryError:
        raise
    except Exception:  # RuntimeError (zip reader), EOFError, OSError, KeyError, ...: unreadable bytes
        raise UnreadableFileError(f"{what} {path} is not a readable torch file (truncated or corrupt?)") from None


def _is_state_dict(obj):
    return isinstance(obj, Mapping) and len(obj) > 0 and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def strip_wrapper_prefixes(state):
    """Parameter names without DDP's leading 'module.' and torch.compile's '_orig_mod.' anywhere."""
    out = {}
    for key, value in state.items():
        changed = True
        while changed:
            changed = False
            for prefix in _WRAPPER_PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix):], True
        out[key.replace("._orig_mod.", ".")] = value
    return out


def model_state_from(obj, source="checkpoint"):
    """The model state dict in a loaded checkpoint: an ignite dict's ['model'] or a bare state dict.

    Wrapper prefixes are stripped. `source` names the file in the error message.
    """
    if isinstance(obj, Mapping):
        for key in ("model", "state_dict"):
            if _is_state_dict(obj.get(key)):
                obj = obj[key]
                break
    if not _is_state_dict(obj):
        if isinstance(obj, Mapping):
            keys = ", ".join(repr(k) for k in list(obj)[:5]) or "none"
            found = f"a dict with keys {keys}"
        else:
            found = f"a {type(obj).__name__}"
        raise UserError(f"{source} holds {found}, not model weights: give a checkpoint saved by reid-gc "
                        "or a state dict")
    return strip_wrapper_prefixes(obj)


def unwrap_model(model):
    """The module under DDP/DataParallel and torch.compile wrappers."""
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


def first_mismatch(expected, state, skip=lambda key: False):
    """The first key where `state` does not fit `expected` (both name -> tensor) and why, or None.

    Keys for which `skip(key)` is true are ignored; a missing BatchNorm `num_batches_tracked` is fine
    (files saved before torch 0.4.1 lack it and BatchNorm fills it in).
    """
    for key, want in expected.items():
        if skip(key):
            continue
        if key not in state:
            if key.endswith("num_batches_tracked"):
                continue
            return key, "missing from the file"
        got = state[key]
        if tuple(got.shape) != tuple(want.shape):
            return key, f"shape {tuple(got.shape)} in the file, {tuple(want.shape)} in the model"
    for key in state:
        if key not in expected and not skip(key):
            return key, "in the file but not in the model"
    return None


def _is_classifier(key):
    return key.startswith("classifier.")


def load_model_weights(model, path, skip_classifier=False, state=None):
    """Load the model weights of checkpoint `path` into `model` (ignite dict or bare state dict);
    `state`, when given, is that file's model state already read (modeling.foreign reads other forms).

    With `skip_classifier` the classifier's keys are ignored on both sides (evaluation does not use it,
    so a model trained on another dataset evaluates fine). Anything else that does not fit raises a
    one-line UserError naming the checkpoint and the mismatch.
    """
    path = os.fspath(path)
    if state is None:
        state = model_state_from(safe_load(path), source=f"checkpoint {path}")
    target = unwrap_model(model)
    expected = target.state_dict()
    name = getattr(target, "model_name", type(target).__name__)
    skip = _is_classifier if skip_classifier else (lambda key: False)

    if not any(key in expected for key in state):
        what = "torchvision ImageNet weights" if "fc.weight" in state else "none of this model's weights"
        use = ", or use it with MODEL.PRETRAIN_CHOICE 'imagenet'" if "fc.weight" in state else ""
        raise UserError(f"checkpoint {path} holds {what} (first key {next(iter(state))}): give a checkpoint "
                        f"saved by reid-gc training{use}")

    base = first_mismatch({k: v for k, v in expected.items() if k.startswith("base.")},
                          {k: v for k, v in state.items() if k.startswith("base.")})
    if base is not None:
        guess = getattr(target, "guess_architecture", None)
        trained = guess(state) if callable(guess) else None
        fix = f"set MODEL.NAME {trained}" if trained and trained != name else \
            "set MODEL.NAME to the one it was trained with"
        raise UserError(f"checkpoint {path} does not fit {name} (first mismatched key {base[0]}: {base[1]}): {fix}")

    if ("bottleneck.weight" in state) != ("bottleneck.weight" in expected):
        file_neck, model_neck = ("bnneck", "no") if "bottleneck.weight" in state else ("no", "bnneck")
        raise UserError(f"checkpoint {path} was trained with MODEL.NECK '{file_neck}', this model has "
                        f"'{model_neck}': set MODEL.NECK '{file_neck}'")

    if not skip_classifier and "classifier.weight" in state and "classifier.weight" in expected:
        got, want = state["classifier.weight"].shape[0], expected["classifier.weight"].shape[0]
        if got != want:
            raise UserError(f"checkpoint {path} was trained with {got} classes, this model has {want} "
                            "(different dataset?)")

    other = first_mismatch(expected, state, skip=skip)
    if other is not None:
        raise UserError(f"checkpoint {path} does not fit this {name} model (first mismatched key {other[0]}: "
                        f"{other[1]}): use the configuration it was trained with")

    if skip_classifier:
        state = {k: v for k, v in state.items() if not _is_classifier(k)}
    target.load_state_dict(state, strict=False)
    logger.info("loaded model weights from %s%s", path, " (classifier skipped)" if skip_classifier else "")
