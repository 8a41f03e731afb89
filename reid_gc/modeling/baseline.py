"""The strong baseline's model: ResNet trunk, global average pool, optional BNNeck, linear classifier."""
import logging

from torch import nn

from ..utils.errors import UserError
from ..utils.weights import load_model_weights
from .backbones import build_backbone, guess_resnet, resnet_spec
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
    """

    def __init__(self, num_classes, last_stride, model_name, neck="bnneck", neck_feat="after",
                 pretrain_choice="scratch", pretrain_path=""):
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
        self.in_planes = resnet_spec(model_name).feat_dim

        self.base = build_backbone(model_name, last_stride)
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
            load_model_weights(self, pretrain_path)

    def forward(self, x):
        global_feat = self.gap(self.base(x)).flatten(1)
        feat = self.bottleneck(global_feat) if self.neck == "bnneck" else global_feat
        if self.training:
            return self.classifier(feat), global_feat
        return feat if self.neck_feat == "after" else global_feat

    @staticmethod
    def guess_architecture(state_dict):
        """MODEL.NAME of the model whose weights `state_dict` holds, or None (used in error messages)."""
        return guess_resnet(state_dict, prefix="base.")

    def extra_repr(self):
        return f"model_name={self.model_name}, neck={self.neck}, neck_feat={self.neck_feat}"
