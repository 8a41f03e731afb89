"""make_loss(cfg, num_classes, feat_dim): the training loss the configuration selects.

Without center loss (MODEL.IF_WITH_CENTER 'no', METRIC_LOSS_TYPE 'triplet') DATALOADER.SAMPLER picks it:
'softmax' ID loss, 'triplet' triplet loss, 'softmax_triplet' both. With center loss ('yes'):
METRIC_LOSS_TYPE 'center' is ID + CENTER_LOSS_WEIGHT * center, 'triplet_center' is
ID + triplet + CENTER_LOSS_WEIGHT * center.
"""
import logging

from ..utils.errors import UserError
from .center import CenterLoss
from .cross_entropy import CrossEntropyLabelSmooth
from .triplet import TripletLoss

logger = logging.getLogger(__name__)

LABEL_SMOOTH_EPSILON = 0.1
# MODEL.IF_LABELSMOOTH -> the ID loss's smoothing epsilon
LABEL_SMOOTHING = {"on": LABEL_SMOOTH_EPSILON, "off": 0.0}
# DATALOADER.SAMPLER -> the losses it selects without center loss
SAMPLER_LOSSES = {"softmax": ("id",), "triplet": ("triplet",), "softmax_triplet": ("id", "triplet")}
# MODEL.METRIC_LOSS_TYPE values: 'triplet' without center loss, the others with it
METRIC_LOSS_TYPES = ("triplet", "center", "triplet_center")


class ReidLoss:
    """loss_fn(score, feat, target) -> (total, parts).

    `parts` maps each loss in `names` ('id', 'triplet', 'center') to its detached float32 value before
    weighting; total = id + triplet + center_weight * center over the parts present.
    """

    def __init__(self, names, id_loss=None, triplet=None, center=None, center_weight=0.0):
        self.names = tuple(names)
        self.id_loss, self.triplet, self.center = id_loss, triplet, center
        self.center_weight = float(center_weight)

    def __call__(self, score, feat, target):
        parts = {}
        total = 0.0
        if self.id_loss is not None:
            parts["id"] = self.id_loss(score, target)
            total = total + parts["id"]
        if self.triplet is not None:
            parts["triplet"] = self.triplet(feat, target)
            total = total + parts["triplet"]
        if self.center is not None:
            parts["center"] = self.center(feat, target)
            total = total + self.center_weight * parts["center"]
        return total, {name: value.detach() for name, value in parts.items()}

    def __repr__(self):
        terms = [n if n != "center" else f"{self.center_weight:g}*center" for n in self.names]
        return f"ReidLoss({' + '.join(terms)})"


def loss_names(sampler, with_center, metric):
    """The losses DATALOADER.SAMPLER, MODEL.IF_WITH_CENTER and MODEL.METRIC_LOSS_TYPE combine; a UserError
    for a combination that is not one of the strong baseline's."""
    if with_center == "no":
        if metric != "triplet":
            raise UserError(f"MODEL.METRIC_LOSS_TYPE '{metric}' needs MODEL.IF_WITH_CENTER 'yes'; "
                            "without center loss use 'triplet'")
        names = SAMPLER_LOSSES.get(sampler)
        if names is None:
            raise UserError(f"config key DATALOADER.SAMPLER is {sampler!r}; accepted values: "
                            f"{', '.join(SAMPLER_LOSSES)}")
        return names
    if with_center == "yes":
        if metric == "center":
            return ("id", "center")
        if metric == "triplet_center":
            if sampler == "softmax":
                raise UserError("MODEL.METRIC_LOSS_TYPE 'triplet_center' needs identities in pairs: "
                                "set DATALOADER.SAMPLER 'softmax_triplet'")
            return ("id", "triplet", "center")
        raise UserError(f"MODEL.IF_WITH_CENTER 'yes' needs MODEL.METRIC_LOSS_TYPE 'center' or 'triplet_center', "
                        f"got {metric!r}")
    raise UserError(f"config key MODEL.IF_WITH_CENTER is {with_center!r}; accepted values: yes, no")


def make_loss(cfg, num_classes, feat_dim):
    """(loss_fn, center_criterion): center_criterion is the CenterLoss module (its own optimizer) or None."""
    names = loss_names(cfg.DATALOADER.SAMPLER, cfg.MODEL.IF_WITH_CENTER, cfg.MODEL.METRIC_LOSS_TYPE)
    smooth = cfg.MODEL.IF_LABELSMOOTH
    if smooth not in LABEL_SMOOTHING:
        raise UserError(f"config key MODEL.IF_LABELSMOOTH is {smooth!r}; accepted values: {', '.join(LABEL_SMOOTHING)}")
    margin = cfg.SOLVER.MARGIN
    if "triplet" in names and margin < 0:
        raise UserError(f"SOLVER.MARGIN is {margin}: use a positive margin, or 0 for the soft-margin triplet loss")
    weight = cfg.SOLVER.CENTER_LOSS_WEIGHT
    if "center" in names and weight <= 0:
        raise UserError(f"SOLVER.CENTER_LOSS_WEIGHT is {weight}: it must be positive with center loss "
                        "(or set MODEL.IF_WITH_CENTER 'no')")

    id_loss = CrossEntropyLabelSmooth(num_classes, LABEL_SMOOTHING[smooth]) \
        if "id" in names else None
    triplet = TripletLoss(margin) if "triplet" in names else None
    center = CenterLoss(num_classes, feat_dim) if "center" in names else None
    loss_fn = ReidLoss(names, id_loss, triplet, center, weight)
    logger.info("loss: %r%s", loss_fn, "" if triplet is None else f", triplet {triplet.extra_repr()}")
    return loss_fn, center
