"""build_model(cfg, num_classes): the Baseline that the configuration describes."""
import logging

from .baseline import Baseline

logger = logging.getLogger(__name__)


def build_model(cfg, num_classes, pretrained=True):
    """Reads MODEL.NAME, STEM_RELU, LAST_STRIDE, NECK, PRETRAIN_CHOICE, PRETRAIN_PATH and TEST.NECK_FEAT; with
    pretrained=False the weights start random whatever PRETRAIN_CHOICE says (they are about to be loaded
    from a checkpoint, or the untrained network is wanted)."""
    choice = cfg.MODEL.PRETRAIN_CHOICE if pretrained else "scratch"
    model = Baseline(num_classes, cfg.MODEL.LAST_STRIDE, cfg.MODEL.NAME, cfg.MODEL.NECK, cfg.TEST.NECK_FEAT,
                     choice, cfg.MODEL.PRETRAIN_PATH, stem_relu=cfg.MODEL.STEM_RELU == "yes")
    logger.info("model: %s, stem ReLU %s, last stride %d, neck %s, %d classes, %s init", cfg.MODEL.NAME,
                "yes" if model.has_stem_relu else "no", cfg.MODEL.LAST_STRIDE, cfg.MODEL.NECK, num_classes, choice)
    return model
