"""test(cfg): evaluate the checkpoint TEST.WEIGHT on the configured dataset's query and gallery."""
import logging
import os

import ignite.distributed as idist

from ..data.build import load_dataset, make_val_loader
from ..modeling import build_model
from ..modeling.foreign import load_trained_weights
from ..utils.device import prepare_model, resolve_device
from ..utils.errors import UserError
from ..utils.run_dir import RunDir, ranked_lists_name
from .evaluator import METRIC_NAME, create_evaluator
from .ranked_lists import write_ranked_lists
from .report import log_result, result_entry

logger = logging.getLogger(__name__)


def build_inference_model(cfg, num_classes, device):
    """The model with TEST.WEIGHT loaded (classifier ignored: any dataset can be evaluated)."""
    if not cfg.TEST.WEIGHT:
        raise UserError("TEST.WEIGHT is empty: pass the checkpoint to evaluate, "
                        "e.g. TEST.WEIGHT out/market/model_best.pt")
    if not os.path.isfile(cfg.TEST.WEIGHT):
        raise UserError(f"TEST.WEIGHT {cfg.TEST.WEIGHT} is not a file: give the path of a checkpoint")
    model = build_model(cfg, num_classes, pretrained=False)  # every weight comes from TEST.WEIGHT
    load_trained_weights(model, cfg.TEST.WEIGHT, skip_classifier=True)
    return prepare_model(cfg, model, device)


def test(cfg):
    device = resolve_device(cfg, idist.get_local_rank())
    dataset = load_dataset(cfg)
    model = build_inference_model(cfg, max(dataset.num_train_pids, 1), device)
    evaluator = create_evaluator(cfg, model, device, len(dataset.query))
    evaluator.run(make_val_loader(cfg, dataset))
    result = evaluator.state.metrics[METRIC_NAME]
    if idist.get_rank() == 0:
        log_result(result, f"Test Results - {cfg.TEST.WEIGHT}")
        run = RunDir(cfg.OUTPUT_DIR)
        run.record_evaluation(result_entry(result, source="test", weight=cfg.TEST.WEIGHT,
                                           re_ranking=cfg.TEST.RE_RANKING == "yes"))
        if cfg.TEST.VISUALIZE > 0:
            write_ranked_lists(cfg, evaluator.reid_metric, dataset, run.path(ranked_lists_name("test")))
    return result
