"""Evaluating every test set of DATASETS.TEST_NAMES in turn with one evaluator: the protocol each needs, one
result block labelled with the dataset, one metrics.json entry (with a `dataset` field), and on request the
ranked lists (ranked_<split>.png/.csv) and the ROC picture (roc_<split>.png), each file name ending in
_<dataset> when there are several test sets."""
import logging
import os

import ignite.distributed as idist
import numpy as np

from ..data.datasets.vehicleid import one_gallery_per_id
from ..evaluation.roc import save_roc_plot
from ..utils.run_dir import RunDir
from .evaluator import METRIC_NAME
from .ranked_lists import RankedDistances, write_ranked_csv, write_ranked_lists
from .report import log_result, result_entry

logger = logging.getLogger(__name__)


def own_images(dataset):
    """Gallery index of each query's own image (the same file), -1 where the query is not in the gallery."""
    index = {os.path.normcase(os.path.realpath(p)): j for j, (p, _, _) in enumerate(dataset.gallery)}
    return np.array([index.get(os.path.normcase(os.path.realpath(p)), -1) for p, _, _ in dataset.query])


def random_splits(dataset, repeats):
    """(query indices, gallery indices) into query + gallery for draws 0..repeats-1 (draw 0 is the dataset's
    own query/gallery)."""
    records = dataset.query + dataset.gallery
    pids, names = [r[1] for r in records], [r[0] for r in records]
    splits = []
    for seed in range(repeats):
        gallery = one_gallery_per_id(pids, names, seed)
        splits.append((np.flatnonzero(~gallery), np.flatnonzero(gallery)))
    return splits


def configure(cfg, metric, test_set):
    """Point the evaluator's metric at `test_set` with the protocol it needs."""
    ds = test_set.dataset
    if getattr(ds, "random_gallery", False):
        metric.set_test_set(len(ds.query), cross_camera=False, splits=random_splits(ds, cfg.TEST.REPEATS))
    elif cfg.TEST.CROSS_CAMERA == "yes" and not getattr(ds, "camera_free", False):
        metric.set_test_set(len(ds.query), cross_camera=True)
    else:
        metric.set_test_set(len(ds.query), cross_camera=False, q_self=own_images(ds))


def output_path(cfg, stem, split, name, many, ext):
    return os.path.join(cfg.OUTPUT_DIR, f"{stem}_{split}" + (f"_{name}" if many else "") + ext)


def report(cfg, metric, test_set, result, title, split, many, entry):
    """Rank 0: the labelled block, the metrics.json entry and, with `split`, the requested files."""
    log_result(result, f"{title} - {test_set.name}")
    RunDir(cfg.OUTPUT_DIR).record_evaluation(result_entry(result, dataset=test_set.name, **entry))
    if split is None:
        return
    name = test_set.name
    distances = RankedDistances(metric)
    if cfg.TEST.VISUALIZE > 0:
        write_ranked_lists(cfg, metric, test_set.dataset, output_path(cfg, "ranked", split, name, many, ".png"),
                           result, distances)
    if cfg.TEST.RANKED_LIST_TOPK > 0:
        write_ranked_csv(cfg, metric, test_set.dataset, output_path(cfg, "ranked", split, name, many, ".csv"),
                         result, distances)
    if result.roc is not None:
        path = save_roc_plot(output_path(cfg, "roc", split, name, many, ".png"), result.roc, name)
        logger.info("ROC and pair distances: %s", os.path.abspath(path))


def evaluate_test_sets(cfg, evaluator, test_sets, title, split=None, **entry):
    """Run `evaluator` on each test set and report it; returns the results in DATASETS.TEST_NAMES order.
    `split` ('final', 'test') names the ranked-list and ROC files; without it none are written."""
    results = []
    for test_set in test_sets:
        configure(cfg, evaluator.reid_metric, test_set)
        evaluator.run(test_set.loader)
        result = evaluator.state.metrics[METRIC_NAME]
        results.append(result)
        if idist.get_rank() == 0:
            report(cfg, evaluator.reid_metric, test_set, result, title, split, len(test_sets) > 1, entry)
    return results
