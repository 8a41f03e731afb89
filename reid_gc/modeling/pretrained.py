"""ImageNet weights for a backbone trunk: from MODEL.PRETRAIN_PATH, the torch hub cache, or a download.

Offline first: a file already in the torch hub cache (`torch.hub.get_dir()/checkpoints/<torchvision file
name>`, the place torchvision itself caches it) is loaded without touching the network. Only when it
is absent is it downloaded there (hash-checked, as torchvision does). Every file is read with
weights_only=True.
"""
import http.client
import logging
import os
import re
import sys

import torch

from ..utils.errors import UserError
from ..utils.weights import first_mismatch, model_state_from, safe_load
from .backbones import guess_resnet, weights_file_name, weights_url

logger = logging.getLogger(__name__)

_HASH_PREFIX = re.compile(r"-([a-f0-9]+)\.")  # torchvision names its files <name>-<sha256 prefix>.pth


def hub_weights_path(name):
    """Where the torch hub cache keeps torchvision's ImageNet weights of `name`."""
    return os.path.join(torch.hub.get_dir(), "checkpoints", weights_file_name(name))


def _download(name, dst):
    url = weights_url(name)
    match = _HASH_PREFIX.search(os.path.basename(dst))
    logger.info("downloading ImageNet weights for %s from %s to %s", name, url, dst)
    try:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        torch.hub.download_url_to_file(url, dst, match.group(1) if match else None,
                                       progress=sys.stderr.isatty())
    except (OSError, http.client.HTTPException, RuntimeError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        reason = str(reason).splitlines()[0] if str(reason) else type(e).__name__
        raise UserError(
            f"could not download ImageNet weights for {name} ({reason}): put {os.path.basename(dst)} (from {url}) "
            f"in {os.path.dirname(dst)} or set MODEL.PRETRAIN_PATH to a torchvision ResNet state dict, "
            "or MODEL.PRETRAIN_CHOICE 'scratch'") from None


def imagenet_state_dict(name, path=""):
    """(state dict, source description) of `name`'s ImageNet weights; `path` '' means torchvision's."""
    if path:
        source = f"MODEL.PRETRAIN_PATH {path}"
        obj = safe_load(path, what="MODEL.PRETRAIN_PATH")
    else:
        path = hub_weights_path(name)
        source = f"ImageNet weights file {path}"
        if os.path.isfile(path):
            logger.info("using cached ImageNet weights %s", path)
        else:
            _download(name, path)
        obj = safe_load(path, what="ImageNet weights file")
    return model_state_from(obj, source=source), source


def load_imagenet_weights(trunk, name, path=""):
    """Load ImageNet weights (fc.* skipped) into `trunk`, a backbone built by build_resnet(name)."""
    state, source = imagenet_state_dict(name, path)
    state = {k: v for k, v in state.items() if not k.startswith("fc.")}
    mismatch = first_mismatch(trunk.state_dict(), state)
    if mismatch is not None:
        key, why = mismatch
        if any(k.startswith("base.") for k in state):
            fix = ("it looks like a reid-gc checkpoint: use MODEL.PRETRAIN_CHOICE 'self' for it, or give a "
                   f"torchvision {name} state dict")
        else:
            found = guess_resnet(state)
            if found and found != name:
                fix = f"it holds {found} weights: set MODEL.NAME {found} or give a torchvision {name} state dict"
            else:
                fix = f"{name} weights expected; file has keys of a different architecture: give a torchvision " \
                      f"{name} state dict"
        raise UserError(f"{source} does not fit {name} (first mismatched key {key}: {why}); {fix}")
    trunk.load_state_dict(state, strict=False)
    logger.info("loaded ImageNet weights for %s from %s", name, source)
