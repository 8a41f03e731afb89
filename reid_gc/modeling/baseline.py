"""The strong baseline's model: backbone trunk, global average pool, optional BNNeck, linear classifier."""
import logging

import torch
from torch import nn

from ..utils.errors import UserError
from .backbones import backbone_spec, build_backbone, guess_backbone
from .foreign import load_trained_weights
from .pretrained import load_imagenet_weights

logger = logging.getLogger(__name__)

NECKS = ("bnneck", "no")
NECK_FEATS = ("after", "before")
PRETRAIN_CHOICES = ("imagenet", "self", "scratch")


def _check(key, value, accepted):
    if value not in accepted:
        raise UserError(f"config key {key} is {value!r}; accepted values: {', '.join(accepted)}")


class Baseline(nn.Module):
    """Training forward: (cls_score, global_feat). Eval forward: the retrieval feature only.

    global_feat is the pooled trunk output (the triplet and center losses use it). With neck 'bnneck' the
    classifier sees it through a BatchNorm1d whose bias is frozen at 0 and has no bias of its own; the
    eval feature is taken after that BN (neck_feat 'after') or before it. With neck 'no' the classifier
    (with bias) sees the pooled feature, which is also the eval feature. The classifier is not run in eval.

    `stem_relu` says whether the ReLU after the stem's first normalisation runs (reid-strong-baseline's
    ResNets have none). It is recorded in the state dict (buffer `stem_relu`), and loading a state dict
    that records it sets the stem accordingly, so a checkpoint always runs through the stem it was trained with.
    """

    def __init__(self, num_classes, last_stride, model_name, neck="bnneck", neck_feat="after",
                 pretrain_choice="scratch", pretrain_path="", stem_relu=True):
        super().__init__()
        _check("MODEL.NECK", neck, NECKS)
        _check("TEST.NECK_FEAT", neck_feat, NECK_FEATS)
        _check("MODEL.PRETRAIN_CHOICE", pretrain_choice, PRETRAIN_CHOICES)
        if int(num_classes) < 1:
            raise UserError(f"the training set has {num_classes} identities: it needs at least one")
        self.model_name = model_name
        self.num_classes = int(num_classes)
        self.neck = neck
        self.neck_feat = neck_feat
        self.in_planes = backbone_spec(model_name).feat_dim

        self.base = build_backbone(model_name, last_stride)
        self.register_buffer("stem_relu", torch.tensor(1, dtype=torch.uint8))
        self.set_stem_relu(stem_relu)
        if pretrain_choice == "imagenet":
            load_imagenet_weights(self.base, model_name, pretrain_path)
        self.gap = nn.AdaptiveAvgPool2d(1)

        if neck == "bnneck":
            self.bottleneck = nn.BatchNorm1d(self.in_planes)
            nn.init.ones_(self.bottleneck.weight)
            nn.init.zeros_(self.bottleneck.bias)
            self.bottleneck.bias.requires_grad_(False)  # BNNeck: no shift, so the BN output stays centred
            self.classifier = nn.Linear(self.in_planes, self.num_classes, bias=False)
        else:
            self.classifier = nn.Linear(self.in_planes, self.num_classes)
            nn.init.zeros_(self.classifier.bias)
        nn.init.normal_(self.classifier.weight, std=0.001)

        if pretrain_choice == "self":
            if not pretrain_path:
                raise UserError("MODEL.PRETRAIN_CHOICE 'self' needs MODEL.PRETRAIN_PATH: the checkpoint to start from")
            load_trained_weights(self, pretrain_path)

    def forward(self, x):
        global_feat = self.gap(self.base(x)).flatten(1)
        feat = self.bottleneck(global_feat) if self.neck == "bnneck" else global_feat
        if self.training:
            return self.classifier(feat), global_feat
        return feat if self.neck_feat == "after" else global_feat

    def set_stem_relu(self, enabled):
        """Run (True) or skip (False) the ReLU after the stem's first normalisation, and record it."""
        path = backbone_spec(self.model_name).stem_relu
        parent_path, _, name = path.rpartition(".")
        parent = self.base.get_submodule(parent_path) if parent_path else self.base
        setattr(parent, name, nn.ReLU(inplace=True) if enabled else nn.Identity())
        self.stem_relu.fill_(1 if enabled else 0)

    @property
    def has_stem_relu(self):
        return bool(self.stem_relu.item())

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                              error_msgs):
        key = prefix + "stem_relu"
        recorded = state_dict.get(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                                      error_msgs)
        if recorded is None:  # a file from before the record: the model keeps the stem it was built with
            if key in missing_keys:
                missing_keys.remove(key)
        else:
            self.set_stem_relu(bool(recorded))

    @staticmethod
    def guess_architecture(state_dict):
        """MODEL.NAME of the model whose weights `state_dict` holds, or None (used in error messages)."""
        return guess_backbone(state_dict, prefix="base.")

    def extra_repr(self):
        return (f"model_name={self.model_name}, neck={self.neck}, neck_feat={self.neck_feat}, "
                f"stem_relu={self.has_stem_relu}")
