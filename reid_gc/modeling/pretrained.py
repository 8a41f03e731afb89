"""ImageNet weights for a backbone trunk: from MODEL.PRETRAIN_PATH, the torch hub cache, or a download.

Offline first: the release files people already have are looked for in the torch hub cache
(`torch.hub.get_dir()/checkpoints/`) under their release names: torchvision's current and pre-0.13 names
(`resnet50-0676ba61.pth`, `resnet50-19c8e357.pth`), the `pretrainedmodels` SENet files
(`se_resnext50_32x4d-a260b3a4.pth`, ...) and IBN-Net's (`resnet50_ibn_a-d9d0bb7b.pth`, or the older
`r50_ibn_a.pth` holding {'state_dict': {'module.<name>': ...}}). Only when none is there is the first
downloaded (torchvision's files hash-checked, as torchvision does). Every file is read with
weights_only=True; each of its tensors is loaded or named in the log as skipped (the ImageNet classifier).
"""
import http.client
import logging
import os
import re
import sys

import torch

from ..utils.errors import UserError
from ..utils.weights import first_mismatch, model_state_from, safe_load
from .backbones import backbone_spec, guess_backbone

logger = logging.getLogger(__name__)

_HASH_PREFIX = re.compile(r"-([a-f0-9]+)\.")  # torchvision names its files <name>-<sha256 prefix>.pth


def hub_weights_paths(name):
    """Where the torch hub cache may hold `name`'s ImageNet weights, in the order they are looked for."""
    folder = os.path.join(torch.hub.get_dir(), "checkpoints")
    return [os.path.join(folder, f) for f in backbone_spec(name).weights_files]


def hub_weights_path(name):
    """Where a download of `name`'s ImageNet weights goes (the first release name)."""
    return hub_weights_paths(name)[0]


def _download(name, dst):
    spec = backbone_spec(name)
    url = spec.weights_url
    # only torchvision's names carry a sha256 prefix that torch.hub can check
    match = _HASH_PREFIX.search(os.path.basename(dst)) if spec.family == "resnet" else None
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
            f"in {os.path.dirname(dst)} or set MODEL.PRETRAIN_PATH to {name}'s ImageNet weights file, "
            "or MODEL.PRETRAIN_CHOICE 'scratch'") from None


def imagenet_state_dict(name, path=""):
    """(state dict, source description) of `name`'s ImageNet weights; `path` '' means the hub cache's."""
    if path:
        source = f"MODEL.PRETRAIN_PATH {path}"
        obj = safe_load(path, what="MODEL.PRETRAIN_PATH")
    else:
        cached = [p for p in hub_weights_paths(name) if os.path.isfile(p)]
        if cached:
            path = cached[0]
            logger.info("using cached ImageNet weights %s", path)
        else:
            path = hub_weights_path(name)
            _download(name, path)
        source = f"ImageNet weights file {path}"
        obj = safe_load(path, what="ImageNet weights file")
    return model_state_from(obj, source=source), source


def load_imagenet_weights(trunk, name, path=""):
    """Load ImageNet weights into `trunk`, a backbone built by build_backbone(name); the file's
    ImageNet classifier (fc.* or last_linear.*) is skipped and named in the log."""
    state, source = imagenet_state_dict(name, path)
    head = backbone_spec(name).head_prefix
    skipped = [k for k in state if k.startswith(head)]
    state = {k: v for k, v in state.items() if not k.startswith(head)}
    mismatch = first_mismatch(trunk.state_dict(), state)
    if mismatch is not None:
        key, why = mismatch
        if any(k.startswith("base.") for k in state):
            fix = ("it looks like a re-id model (base.* keys): use MODEL.PRETRAIN_CHOICE 'self' for it, or give "
                   f"{name}'s ImageNet weights")
        else:
            found = guess_backbone(state)
            if found and found != name:
                fix = f"it holds {found} weights: set MODEL.NAME {found} or give {name}'s ImageNet weights"
            else:
                fix = f"{name} weights expected; file has keys of a different architecture: give {name}'s " \
                      "ImageNet weights"
        raise UserError(f"{source} does not fit {name} (first mismatched key {key}: {why}); {fix}")
    trunk.load_state_dict(state, strict=False)
    logger.info("loaded ImageNet weights for %s from %s: %d tensors used, %d skipped (the ImageNet classifier)%s",
                name, source, len(state), len(skipped), f": {', '.join(skipped)}" if skipped else "")
