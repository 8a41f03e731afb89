"""ROC, AUC and operating points against plain pair-by-pair computations written here."""
import json
import os

import numpy as np
import pytest
import torch

from reid_gc.evaluation import evaluate, evaluate_features
from reid_gc.evaluation.roc import save_roc_plot
from reid_gc.utils.errors import UserError


def plain_pairs(dist, q_pids, g_pids, q_cams, g_cams, cross_camera=True):
    """(distance, is_positive) of every counted pair: the ranking's exclusions, junk (pid -1) left out."""
    pairs = []
    for i in range(len(q_pids)):
        for j in range(len(g_pids)):
            if g_pids[j] == -1:
                continue
            if cross_camera and g_pids[j] == q_pids[i] and g_cams[j] == q_cams[i]:
                continue
            pairs.append((float(dist[i][j]), g_pids[j] == q_pids[i]))
    return pairs


def plain_auc(pairs):
    pos = [d for d, p in pairs if p]
    neg = [d for d, p in pairs if not p]
    wins = sum((1.0 if p < n else 0.5 if p == n else 0.0) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def plain_operating_point(pairs, target):
    """The largest threshold t (a pair is accepted when its distance is < t) whose false positive rate is at
    most `target`, tried over every distance (and +inf): its TPR, FPR and threshold."""
    pos = [d for d, p in pairs if p]
    neg = sorted(d for d, p in pairs if not p)
    best = None
    for t in sorted({d for d, _ in pairs}):
        fpr = sum(n < t for n in neg) / len(neg)
        if fpr <= target + 1e-15:
            best = (sum(p < t for p in pos) / len(pos), fpr, t)
    return best


def case(seed, num_query=12, num_gallery=40, levels=None):
    rng = np.random.default_rng(seed)
    if levels:
        dist = rng.integers(0, levels, (num_query, num_gallery)).astype(np.float32)  # many ties
    else:
        dist = rng.random((num_query, num_gallery)).astype(np.float32)
    q_pids = rng.integers(1, 5, num_query)
    g_pids = rng.integers(-1, 5, num_gallery)
    q_cams, g_cams = rng.integers(0, 2, num_query), rng.integers(0, 2, num_gallery)
    return dist, q_pids, g_pids, q_cams, g_cams


def check(result, pairs):
    roc = result.roc
    assert roc.num_positive == sum(p for _, p in pairs)
    assert roc.num_negative == sum(not p for _, p in pairs)
    assert roc.auc == pytest.approx(plain_auc(pairs), abs=1e-12)
    # trapezoids over the curve's vertices give the same area
    assert np.trapezoid(roc.tpr, roc.fpr) == pytest.approx(roc.auc, abs=1e-12)
    for point in roc.points:
        tpr, fpr, threshold = plain_operating_point(pairs, point["fpr_target"])
        assert (point["tpr"], point["fpr"], point["threshold"]) == pytest.approx((tpr, fpr, threshold))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("levels", [None, 5])
def test_matches_plain_pairs_on_random_and_tied_distances(seed, levels):
    dist, *labels = case(seed, levels=levels)
    pairs = plain_pairs(dist, *labels)
    for chunk_size in (None, 5):
        check(evaluate(dist, *labels, roc=True, chunk_size=chunk_size), pairs)


def test_camera_free_pairs_and_big_targets():
    # enough negatives that the 1e-2 operating point lies above the first negative
    dist, q_pids, g_pids, _, _ = case(7, num_query=30, num_gallery=200, levels=50)
    result = evaluate(dist, q_pids, g_pids, cross_camera=False, roc=True)
    check(result, plain_pairs(dist, q_pids, g_pids, None, None, cross_camera=False))
    assert result.roc.num_negative > 1000


def test_hand_case():
    # one query (pid 1, cam 0); gallery: a same-camera match (left out), matches at 0.2 and 0.5, other ids at
    # 0.1, 0.5 (tied with a match) and 0.9, junk at 0.0 (left out).
    result = evaluate([[0.3, 0.2, 0.5, 0.1, 0.5, 0.9, 0.0]], [1], [1, 1, 1, 2, 3, 2, -1], [0], [0, 1, 2, 1, 1, 2, 1],
                      roc=True)
    roc = result.roc
    assert (roc.num_positive, roc.num_negative) == (2, 3)
    # positive 0.2 beats 0.5 and 0.9 (2 wins) and loses to 0.1; positive 0.5 ties 0.5 and beats 0.9: 1.5
    assert roc.auc == pytest.approx(3.5 / 6)
    # every target FPR < 1/3 allows no negative: threshold 0.1 (the smallest negative), accepting only 0.0..0.1
    # exclusive: no positive below 0.1
    assert [p["threshold"] for p in roc.points] == pytest.approx([0.1] * 3)
    assert [p["tpr"] for p in roc.points] == [0.0] * 3


def test_features_path_equals_distance_path_and_plot(tmp_path):
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(5, 8))
    q_pids, g_pids = rng.integers(1, 5, 20), rng.integers(0, 5, 60)
    qf = (centres[q_pids] + rng.normal(size=(20, 8))).astype(np.float32)
    gf = (centres[g_pids] + rng.normal(size=(60, 8))).astype(np.float32)
    q_cams, g_cams = rng.integers(0, 3, 20), rng.integers(0, 3, 60)
    from reid_gc.evaluation import compute_distance

    dist = compute_distance(qf, gf).numpy()
    result = evaluate_features(qf, gf, q_pids, g_pids, q_cams, g_cams, roc=True, chunk_size=7)
    check(result, plain_pairs(dist, q_pids, g_pids, q_cams, g_cams))
    assert result.roc.positive_counts.sum() == result.roc.num_positive
    assert result.roc.negative_counts.sum() == result.roc.num_negative
    path = save_roc_plot(str(tmp_path / "roc.png"), result.roc, "test")
    assert os.path.getsize(path) > 1000
    json.dumps(result.roc.to_dict())


def test_no_negative_pairs_is_a_user_error():
    with pytest.raises(UserError, match="ROC needs positive and negative pairs"):
        evaluate(torch.zeros(1, 2), [1], [1, 1], [0], [1, 1], roc=True)


def test_large_ids():
    # ids are labels, not indices: a CSV may use any whole numbers
    dist, q_pids, g_pids, q_cams, g_cams = case(5)
    big = lambda p: np.where(p > 0, p * 10**12, p)  # noqa: E731
    check(evaluate(dist, big(q_pids), big(g_pids), q_cams, g_cams, roc=True), plain_pairs(dist, q_pids, g_pids, q_cams,
                                                                                         g_cams))
