"""TEST.VISUALIZE: a picture of some queries' ranked lists, from the features the last evaluation kept."""
import logging
import os

from ..evaluation import compute_distance, re_ranking, save_ranked_lists
from ..evaluation.visualize import select_queries

logger = logging.getLogger(__name__)


def write_ranked_lists(cfg, metric, dataset, path):
    """Top-10 lists of TEST.VISUALIZE evenly spaced queries, ranked as the evaluation ranked them."""
    qf, gf = metric.features
    rows = select_queries(len(dataset.query), cfg.TEST.VISUALIZE)
    if metric.rerank:
        # re-ranking depends on every query's neighbours: rank them all, keep the chosen rows
        distmat = re_ranking(qf, gf, **metric.rerank)[rows]
    else:
        distmat = compute_distance(qf[rows], gf, metric=metric.distance)
    query = [dataset.query[i] for i in rows]
    size = save_ranked_lists(path, distmat, query, dataset.gallery, len(rows), size=tuple(cfg.INPUT.SIZE_TEST))
    logger.info("ranked lists of %d queries: %s (%dx%d)", len(rows), os.path.abspath(path), *size)
    return path
