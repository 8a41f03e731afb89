"""test(cfg): evaluate the checkpoint TEST.WEIGHT on every test set of DATASETS.TEST_NAMES."""
import logging
import os

import ignite.distributed as idist

from ..data.build import make_val_loaders
from ..modeling import build_model
from ..modeling.foreign import load_trained_weights
from ..utils.device import prepare_model, resolve_device
from ..utils.errors import UserError
from .evaluator import create_evaluator
from .test_sets import evaluate_test_sets

logger = logging.getLogger(__name__)


def build_inference_model(cfg, num_classes, device):
    """The model with TEST.WEIGHT loaded (classifier ignored: any dataset can be evaluated)."""
    if not cfg.TEST.WEIGHT:
        raise UserError("TEST.WEIGHT is empty: pass the checkpoint to evaluate, "
                        "e.g. TEST.WEIGHT out/market/checkpoint_120.pt")
    if not os.path.isfile(cfg.TEST.WEIGHT):
        raise UserError(f"TEST.WEIGHT {cfg.TEST.WEIGHT} is not a file: give the path of a checkpoint")
    model = build_model(cfg, num_classes, pretrained=False)  # every weight comes from TEST.WEIGHT
    load_trained_weights(model, cfg.TEST.WEIGHT, skip_classifier=True)
    return prepare_model(cfg, model, device)


def test(cfg):
    """Evaluate TEST.WEIGHT on every test set of DATASETS.TEST_NAMES; returns the results in that order."""
    device = resolve_device(cfg, idist.get_local_rank())
    test_sets = make_val_loaders(cfg)
    model = build_inference_model(cfg, 1, device)  # the classifier is skipped: its width does not matter
    evaluator = create_evaluator(cfg, model, device, len(test_sets[0].dataset.query))
    return evaluate_test_sets(cfg, evaluator, test_sets, f"Test Results - {cfg.TEST.WEIGHT}", split="test",
                              source="test", weight=cfg.TEST.WEIGHT, re_ranking=cfg.TEST.RE_RANKING == "yes")
