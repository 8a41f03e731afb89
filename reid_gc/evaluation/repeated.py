"""Protocols that draw the query/gallery split (VehicleID): evaluate every drawn split of one feature set and
report the mean, with the standard deviation over the splits."""
import numpy as np
import torch

from ..utils.errors import UserError
from .ranking import RankingResult, evaluate, evaluate_features
from .rerank import re_ranking

HEADLINES = ("mAP", "mINP", "rank1", "rank5", "rank10")


def _headlines(result):
    return {"mAP": result.mAP, "mINP": result.mINP, "rank1": result.rank(1), "rank5": result.rank(5),
            "rank10": result.rank(10)}


def evaluate_splits(feats, pids, splits, metric="euclidean", max_rank=50, rerank=None, roc=False):
    """`splits`: a list of (query indices, gallery indices) into feats/pids, disjoint within a split. Each
    split is evaluated camera-free (query and gallery never share an image). Returns a RankingResult with the
    mean mAP, mINP and CMC over the splits, `std` of the headline figures (population standard deviation),
    `repeats`; per-query AP and the ROC are those of the first split."""
    if not splits:
        raise UserError("no query/gallery split to evaluate: TEST.REPEATS must be 1 or more")
    pids = torch.as_tensor(np.asarray(pids))
    results = []
    for k, (q, g) in enumerate(splits):
        q, g = torch.as_tensor(np.asarray(q)), torch.as_tensor(np.asarray(g))
        qf, gf = feats[q.to(feats.device)], feats[g.to(feats.device)]
        labels = (pids[q].numpy(), pids[g].numpy())
        with_roc = roc and k == 0
        if rerank:
            results.append(evaluate(re_ranking(qf, gf, **rerank), *labels, max_rank=max_rank, cross_camera=False,
                                    roc=with_roc))
        else:
            results.append(evaluate_features(qf, gf, *labels, metric=metric, max_rank=max_rank, cross_camera=False,
                                             roc=with_roc))
    figures = np.array([[_headlines(r)[h] for h in HEADLINES] for r in results])
    first = results[0]
    return RankingResult(
        mAP=float(figures[:, 0].mean()), mINP=float(figures[:, 1].mean()),
        cmc=np.mean([r.cmc for r in results], axis=0), num_valid_queries=first.num_valid_queries,
        num_queries=first.num_queries, ap=first.ap, repeats=len(results),
        std={h: float(s) for h, s in zip(HEADLINES, figures.std(axis=0))}, roc=first.roc)
