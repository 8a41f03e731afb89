"""Ranked lists a person can read, from the features the last evaluation kept: TEST.VISUALIZE queries drawn
to ranked_<split>.png and every query's top TEST.RANKED_LIST_TOPK gallery images in ranked_<split>.csv
(query, AP, then name, id and distance of each), queries in TEST.VISUALIZE_ORDER ('worst': lowest AP first)."""
import csv
import logging
import os

import numpy as np

from ..evaluation import compute_distance, re_ranking, save_ranked_lists
from ..evaluation.ranked import excluded_pairs, query_order, top_k
from ..utils.atomic import atomic_path

logger = logging.getLogger(__name__)

BLOCK_ROWS = 256  # queries ranked at a time for the CSV (bounded memory)


class RankedDistances:
    """Distances of chosen query rows as the last evaluation ranked them; with re-ranking (which depends on
    every query's neighbours) the whole matrix is computed once and rows are taken from it."""

    def __init__(self, metric):
        self.metric = metric
        self.full = None

    def rows(self, rows):
        qf, gf = self.metric.features
        if self.metric.rerank:
            if self.full is None:
                self.full = re_ranking(qf, gf, **self.metric.rerank)
            return self.full[rows]
        return compute_distance(qf[rows], gf, metric=self.metric.distance)


def _excluded(metric, dataset, rows):
    q = [dataset.query[i] for i in rows]
    q_self = None if metric.q_self is None else np.asarray(metric.q_self)[rows]
    return excluded_pairs([r[1] for r in q], [r[1] for r in dataset.gallery], [r[2] for r in q],
                          [r[2] for r in dataset.gallery], metric.splits is None and metric.cross_camera, q_self)


def write_ranked_lists(cfg, metric, dataset, path, result, distances=None):
    """The PNG of TEST.VISUALIZE queries, ranked as the evaluation ranked them."""
    distances = distances or RankedDistances(metric)
    rows = query_order(result.ap, cfg.TEST.VISUALIZE_ORDER, cfg.TEST.VISUALIZE)
    cross_camera = metric.splits is None and metric.cross_camera
    query = [dataset.query[i] for i in rows]
    gallery = dataset.gallery
    if not cross_camera:  # the picture leaves out same id + same camera: give each image its own camera
        query = [(p, pid, -1 - i) for (p, pid, _), i in zip(query, rows)]
        own = {} if metric.q_self is None else {j: i for i, j in enumerate(metric.q_self) if j >= 0}
        gallery = [(p, pid, -1 - own[j] if j in own else j) for j, (p, pid, _) in enumerate(gallery)]
    size = save_ranked_lists(path, distances.rows(rows), query, gallery, len(rows),
                             size=tuple(cfg.INPUT.SIZE_TEST))
    logger.info("ranked lists of %d queries: %s (%dx%d)", len(rows), os.path.abspath(path), *size)
    return path


def write_ranked_csv(cfg, metric, dataset, path, result, distances=None):
    """ranked_<split>.csv: one row per query in TEST.VISUALIZE_ORDER with its AP and top-k gallery images."""
    distances = distances or RankedDistances(metric)
    k = cfg.TEST.RANKED_LIST_TOPK
    paths = [r[0] for r in dataset.query + dataset.gallery]
    base = os.path.commonpath([os.path.abspath(p) for p in paths]) if len(paths) > 1 else ""
    name = (lambda p: os.path.relpath(os.path.abspath(p), base)) if base else os.path.basename
    order = query_order(result.ap, cfg.TEST.VISUALIZE_ORDER)
    header = ["query", "query_id", "ap"] + [f"{c}{r}" for r in range(1, k + 1) for c in ("name", "id", "distance")]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            out = csv.writer(f)
            out.writerow(header)
            for start in range(0, len(order), BLOCK_ROWS):
                rows = order[start:start + BLOCK_ROWS]
                index, dist = top_k(distances.rows(rows), _excluded(metric, dataset, rows), k)
                for q, idx, d in zip(rows, index, dist):
                    path_q, pid_q, _ = dataset.query[q]
                    line = [name(path_q), pid_q, "" if np.isnan(result.ap[q]) else f"{result.ap[q]:.6f}"]
                    for j, dj in zip(idx, d):
                        line += ["", "", ""] if j < 0 else [name(dataset.gallery[j][0]), dataset.gallery[j][1],
                                                            f"{dj:.6g}"]
                    out.writerow(line)
    logger.info("ranked lists of %d queries (top %d): %s", len(order), k, os.path.abspath(path))
    return path
