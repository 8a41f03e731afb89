"""Ranking metrics and distances against a hand computation and a plain per-query implementation."""
import numpy as np
import pytest
import torch

from reid_gc.evaluation import RankingResult, compute_distance, evaluate, evaluate_features
from reid_gc.utils.errors import UserError


def plain_evaluate(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50):
    """The definition, one query at a time: rank the gallery by (distance, index), drop same id + same
    camera, then AP = mean precision at each true match, INP = matches / rank of the last one."""
    aps, inps, first_ranks = [], [], []
    for i in range(len(q_pids)):
        order = sorted(range(len(g_pids)), key=lambda j: (distmat[i][j], j))
        kept = [j for j in order if not (g_pids[j] == q_pids[i] and g_camids[j] == q_camids[i])]
        ranks = [r + 1 for r, j in enumerate(kept) if g_pids[j] == q_pids[i]]
        if not ranks:
            continue
        aps.append(sum((k + 1) / r for k, r in enumerate(ranks)) / len(ranks))
        inps.append(len(ranks) / ranks[-1])
        first_ranks.append(ranks[0])
    cmc = [sum(r <= k for r in first_ranks) / len(first_ranks) for k in range(1, max_rank + 1)]
    return sum(aps) / len(aps), sum(inps) / len(inps), np.array(cmc), len(first_ranks)


def random_case(rng, num_query, num_gallery, num_ids=8, num_cams=3, levels=12):
    """Integer distances (many ties), few ids and cameras (many same-camera collisions), pid -1 and 0
    in the gallery."""
    distmat = rng.integers(0, levels, size=(num_query, num_gallery)).astype(np.float32)
    q_pids = rng.integers(1, num_ids, num_query)
    g_pids = rng.integers(-1, num_ids, num_gallery)
    q_camids = rng.integers(0, num_cams, num_query)
    g_camids = rng.integers(0, num_cams, num_gallery)
    return distmat, q_pids, g_pids, q_camids, g_camids


def assert_same(result, expected):
    mAP, mINP, cmc, num_valid = expected
    assert result.mAP == pytest.approx(mAP, abs=1e-6)
    assert result.mINP == pytest.approx(mINP, abs=1e-6)
    np.testing.assert_allclose(result.cmc, cmc, atol=1e-6)
    assert result.num_valid_queries == num_valid


# --------------------------------------------------------------------------------------- by hand
# Gallery:  g0 pid 1 cam 0 | g1 pid 1 cam 1 | g2 pid 2 cam 0 | g3 pid -1 cam 1 | g4 pid 1 cam 2 | g5 pid 2 cam 1
HAND_G_PIDS = [1, 1, 2, -1, 1, 2]
HAND_G_CAMS = [0, 1, 0, 1, 2, 1]
HAND_Q_PIDS = [1, 2, 3]
HAND_Q_CAMS = [0, 1, 0]
HAND_DIST = [
    # q0 (pid 1, cam 0): by distance g0 g2 g3 g5 g1 g4; g0 is junk (same id, same camera) and goes.
    # Kept: g2 g3 g5 g1 g4 -> true matches at ranks 4 and 5: AP = (1/4 + 2/5) / 2 = 0.325, INP = 2/5.
    [0.1, 0.5, 0.2, 0.3, 0.9, 0.4],
    # q1 (pid 2, cam 1): by distance g5 g2 g3 g4 g0 g1; g5 is junk. Kept: g2 first -> AP = 1, INP = 1.
    [0.6, 0.7, 0.1, 0.2, 0.3, 0.05],
    # q2 (pid 3): no pid 3 in the gallery -> skipped, counted in num_queries only.
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
]


def test_hand_worked_example():
    result = evaluate(np.array(HAND_DIST), HAND_Q_PIDS, HAND_G_PIDS, HAND_Q_CAMS, HAND_G_CAMS, max_rank=5)
    assert isinstance(result, RankingResult)
    assert result.mAP == pytest.approx((0.325 + 1.0) / 2)  # 0.6625
    assert result.mINP == pytest.approx((0.4 + 1.0) / 2)  # 0.7
    # first true match: rank 4 for q0, rank 1 for q1
    np.testing.assert_allclose(result.cmc, [0.5, 0.5, 0.5, 1.0, 1.0])
    assert (result.num_valid_queries, result.num_queries) == (2, 3)
    assert result.rank(1) == 0.5 and result.rank(100) == 1.0


def test_ties_are_broken_by_gallery_index():
    # All distances equal: the ranking is the gallery order, other id (g0), match (g1), other (g2),
    # match (g3): matches at ranks 2 and 4 -> AP = (1/2 + 2/4) / 2 = 0.5, INP = 2/4, CMC(1) = 0.
    result = evaluate(np.zeros((1, 4)), [7], [3, 7, 3, 7], [0], [1, 1, 1, 1], max_rank=4)
    assert result.mAP == pytest.approx(0.5)
    assert result.mINP == pytest.approx(0.5)
    np.testing.assert_allclose(result.cmc, [0.0, 1.0, 1.0, 1.0])


def test_distractors_and_junk_ids_stay_as_non_matches():
    # pid 0 and pid -1 gallery images are ordinary non-matches for a pid 5 query, even from its camera.
    result = evaluate(np.array([[0.1, 0.2, 0.3]]), [5], [0, -1, 5], [0], [0, 0, 1], max_rank=3)
    assert result.mAP == pytest.approx(1 / 3)
    np.testing.assert_allclose(result.cmc, [0.0, 0.0, 1.0])


# ------------------------------------------------------------------------------ against the definition
@pytest.mark.parametrize("seed", range(6))
def test_matches_plain_implementation_with_ties_and_camera_collisions(seed):
    rng = np.random.default_rng(seed)
    case = random_case(rng, int(rng.integers(5, 40)), int(rng.integers(20, 120)))
    expected = plain_evaluate(*case, max_rank=50)
    for chunk_size in (None, 1, 7):
        assert_same(evaluate(*case, max_rank=50, chunk_size=chunk_size), expected)


def test_continuous_distances_and_float64():
    rng = np.random.default_rng(11)
    distmat, *labels = random_case(rng, 30, 90)
    distmat = rng.random(distmat.shape)  # float64, no ties
    assert_same(evaluate(distmat, *labels, max_rank=20), plain_evaluate(distmat, *labels, max_rank=20))


def test_numpy_and_torch_inputs_agree():
    rng = np.random.default_rng(3)
    distmat, q_pids, g_pids, q_cams, g_cams = random_case(rng, 25, 60)
    expected = evaluate(distmat, q_pids, g_pids, q_cams, g_cams)
    as_torch = evaluate(torch.from_numpy(distmat), torch.from_numpy(q_pids), torch.from_numpy(g_pids),
                        torch.from_numpy(q_cams).int(), torch.from_numpy(g_cams).int())
    as_lists = evaluate(distmat.tolist(), q_pids.tolist(), g_pids.tolist(), q_cams.tolist(), g_cams.tolist())
    for other in (as_torch, as_lists):
        assert_same(other, (expected.mAP, expected.mINP, expected.cmc, expected.num_valid_queries))


def test_read_only_reversed_and_half_precision_matrices():
    rng = np.random.default_rng(4)
    distmat, *labels = random_case(rng, 20, 50)
    flipped = distmat[:, ::-1]  # negative strides
    flipped.setflags(write=False)
    labels_flipped = (labels[0], labels[1][::-1], labels[2], labels[3][::-1])
    assert_same(evaluate(flipped, *labels_flipped), plain_evaluate(flipped, *labels_flipped))
    half = distmat.astype(np.float16)  # small integers: exact in float16
    assert_same(evaluate(half, *labels), plain_evaluate(distmat, *labels))


def test_gallery_smaller_than_max_rank_keeps_cmc_length():
    rng = np.random.default_rng(5)
    case = random_case(rng, 6, 8, num_ids=3)
    result = evaluate(*case, max_rank=50)
    assert result.cmc.shape == (50,)
    np.testing.assert_allclose(result.cmc[8:], result.cmc[7])
    assert_same(result, plain_evaluate(*case, max_rank=50))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    rng = np.random.default_rng(8)
    distmat, *labels = random_case(rng, 40, 100)
    cpu = evaluate(distmat, *labels)
    gpu = evaluate(torch.from_numpy(distmat).cuda(), *labels)
    assert_same(gpu, (cpu.mAP, cpu.mINP, cpu.cmc, cpu.num_valid_queries))


# ---------------------------------------------------------------------------------------- distances
def features(rng, n, dim=12, dtype=np.float32):
    return rng.normal(size=(n, dim)).astype(dtype)


def test_compute_distance_against_direct_formulas():
    rng = np.random.default_rng(0)
    qf, gf = features(rng, 7, dtype=np.float64), features(rng, 11, dtype=np.float64)
    squared = ((qf[:, None, :] - gf[None, :, :]) ** 2).sum(-1)
    cosine = 1 - (qf @ gf.T) / np.linalg.norm(qf, axis=1)[:, None] / np.linalg.norm(gf, axis=1)[None, :]
    np.testing.assert_allclose(compute_distance(qf, gf).numpy(), squared, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(compute_distance(qf, gf, metric="cosine").numpy(), cosine, atol=1e-10)
    d32 = compute_distance(torch.from_numpy(qf).float(), torch.from_numpy(gf).float(), chunk_size=2)
    assert d32.dtype == torch.float32
    np.testing.assert_allclose(d32.numpy(), squared, rtol=1e-4, atol=1e-4)
    same = compute_distance(qf[:3], qf[:3])
    assert float(same.min()) >= 0.0  # clamped: rounding never makes a distance negative


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_evaluate_features_equals_evaluate_of_distances(metric):
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(6, 16))
    q_pids, g_pids = rng.integers(0, 6, 30), rng.integers(0, 6, 80)
    q_cams, g_cams = rng.integers(0, 3, 30), rng.integers(0, 3, 80)
    qf = (centres[q_pids] + rng.normal(size=(30, 16))).astype(np.float32)
    gf = (centres[g_pids] + rng.normal(size=(80, 16))).astype(np.float32)
    labels = (q_pids, g_pids, q_cams, g_cams)
    expected = plain_evaluate(compute_distance(qf, gf, metric=metric).numpy(), *labels)
    for chunk_size in (None, 4):
        result = evaluate_features(qf, gf, *labels, metric=metric, chunk_size=chunk_size)
        assert_same(result, expected)
        assert result.num_queries == 30


# --------------------------------------------------------------------------------------- bad input
def test_no_valid_query_is_one_line_user_error():
    with pytest.raises(UserError, match="no query has a true match in the gallery from another camera"):
        evaluate(np.zeros((2, 3)), [1, 2], [3, 4, 1], [0, 0], [0, 0, 0])


@pytest.mark.parametrize("distmat, q_pids, g_pids, q_cams, g_cams, message", [
    (np.zeros((0, 3)), [], [1, 2, 3], [], [0, 0, 0], "at least one query"),
    (np.zeros((2, 0)), [1, 2], [], [0, 0], [], "at least one query"),
    (np.zeros((2, 3)), [1, 2, 3], [1, 2, 3], [0, 0], [0, 0, 0], "q_pids has 3 entries but there are 2"),
    (np.zeros((2, 3)), [1, 2], [1, 2], [0, 0], [0, 0, 0], "g_pids has 2 entries"),
    (np.array([[0.0, np.nan, 1.0]]), [1], [1, 2, 1], [0], [1, 1, 1], "NaN or inf"),
    (np.array([[0.0, np.inf, 1.0]]), [1], [1, 2, 1], [0], [1, 1, 1], "NaN or inf"),
    (np.zeros(3), [1], [1, 2, 1], [0], [1, 1, 1], "2-D"),
])
def test_bad_evaluate_input(distmat, q_pids, g_pids, q_cams, g_cams, message):
    with pytest.raises(UserError, match=message) as info:
        evaluate(distmat, q_pids, g_pids, q_cams, g_cams)
    assert "\n" not in str(info.value)


def test_bad_feature_input():
    rng = np.random.default_rng(0)
    qf, gf = features(rng, 3), features(rng, 5)
    labels = ([1, 2, 3], [1, 2, 3, 1, 2], [0, 0, 0], [1, 1, 1, 1, 1])
    with pytest.raises(UserError, match="query set is empty"):
        evaluate_features(qf[:0], gf, [], labels[1], [], labels[3])
    with pytest.raises(UserError, match="gallery set is empty"):
        compute_distance(qf, gf[:0])
    with pytest.raises(UserError, match="dimensions"):
        compute_distance(qf, gf[:, :5])
    bad = gf.copy()
    bad[2, 1] = np.nan
    with pytest.raises(UserError, match="gallery features contain NaN or inf"):
        evaluate_features(qf, bad, *labels)
    with pytest.raises(UserError, match="g_camids has 4 entries but there are 5 gallery images"):
        evaluate_features(qf, gf, *labels[:3], labels[3][:4])
    with pytest.raises(UserError, match="unknown distance metric"):
        evaluate_features(qf, gf, *labels, metric="manhattan")
    with pytest.raises(UserError, match="max_rank"):
        evaluate_features(qf, gf, *labels, max_rank=0)


# ------------------------------------------------------------------------------------ camera-free, per-query AP
def plain_camera_free(distmat, q_pids, g_pids, q_self, max_rank=50):
    """Camera-free, one query at a time: drop only the query's own gallery image (q_self, -1 = none), rank the
    rest by (distance, index); AP over the same-id images. Returns (mAP, mINP, cmc, num_valid, per-query AP)."""
    aps, inps, first_ranks, per_query = [], [], [], []
    for i in range(len(q_pids)):
        order = sorted((j for j in range(len(g_pids)) if j != q_self[i]), key=lambda j: (distmat[i][j], j))
        ranks = [r + 1 for r, j in enumerate(order) if g_pids[j] == q_pids[i]]
        if not ranks:
            per_query.append(float("nan"))
            continue
        aps.append(sum((k + 1) / r for k, r in enumerate(ranks)) / len(ranks))
        per_query.append(aps[-1])
        inps.append(len(ranks) / ranks[-1])
        first_ranks.append(ranks[0])
    cmc = [sum(r <= k for r in first_ranks) / len(first_ranks) for k in range(1, max_rank + 1)]
    return sum(aps) / len(aps), sum(inps) / len(inps), np.array(cmc), len(first_ranks), np.array(per_query)


@pytest.mark.parametrize("seed", range(4))
def test_camera_free_matches_plain_per_query_statement(seed):
    rng = np.random.default_rng(100 + seed)
    distmat, q_pids, g_pids, q_cams, g_cams = random_case(rng, 20, 60)
    # some queries are gallery images themselves (same file): those entries, and only those, are left out
    q_self = np.full(20, -1)
    for i, j in zip(range(0, 20, 3), rng.choice(60, 7, replace=False)):  # an image has the id it has
        q_self[i], g_pids[j] = j, q_pids[i]
    *expected, per_query = plain_camera_free(distmat, q_pids, g_pids, q_self)
    for chunk_size in (None, 3):
        # cameras are ignored: whatever is passed, only q_self matters
        result = evaluate(distmat, q_pids, g_pids, q_cams, g_cams, chunk_size=chunk_size, cross_camera=False,
                          q_self=q_self)
        assert_same(result, expected)
        np.testing.assert_allclose(result.ap, per_query, atol=1e-9)
    no_self = evaluate(distmat, q_pids, g_pids, cross_camera=False)
    assert_same(no_self, plain_camera_free(distmat, q_pids, g_pids, np.full(20, -1))[:4])


def test_per_query_ap_under_the_camera_rule():
    result = evaluate(np.array(HAND_DIST), HAND_Q_PIDS, HAND_G_PIDS, HAND_Q_CAMS, HAND_G_CAMS, max_rank=5)
    np.testing.assert_allclose(result.ap, [0.325, 1.0, np.nan])  # q2 has no true match: NaN


def test_camera_free_error_and_camera_rule_error_name_the_key():
    with pytest.raises(UserError, match="TEST.CROSS_CAMERA 'no'"):
        evaluate(np.zeros((1, 2)), [1], [1, 2], [0], [0, 0])  # the only match shares the query's camera
    assert evaluate(np.zeros((1, 2)), [1], [1, 2], cross_camera=False).mAP == 1.0
    with pytest.raises(UserError, match=r"no query has a true match in the gallery \(TEST.CROSS_CAMERA 'no'\)"):
        evaluate(np.zeros((1, 2)), [1], [1, 2], cross_camera=False, q_self=[0])
    with pytest.raises(UserError, match="q_self must hold gallery indices"):
        evaluate(np.zeros((1, 2)), [1], [1, 2], cross_camera=False, q_self=[2])
