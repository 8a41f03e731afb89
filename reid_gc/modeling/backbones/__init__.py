"""Backbone trunks by name (MODEL.NAME)."""
from ...utils.errors import UserError
from .resnet import RESNETS, build_resnet, guess_resnet, resnet_spec, weights_file_name, weights_url

# MODEL.NAME -> builder(name, last_stride) of a trunk ending before the global pool.
BACKBONES = {name: build_resnet for name in RESNETS}


def build_backbone(name, last_stride=1):
    builder = BACKBONES.get(name)
    if builder is None:
        raise UserError(f"MODEL.NAME '{name}' is not a known backbone: use one of {', '.join(BACKBONES)}")
    return builder(name, last_stride)


__all__ = ["BACKBONES", "RESNETS", "build_backbone", "build_resnet", "guess_resnet", "resnet_spec",
           "weights_file_name", "weights_url"]
