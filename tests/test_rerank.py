"""k-reciprocal re-ranking against a plain implementation of the published algorithm written here with
Python sets and dense arrays (Zhong et al., CVPR 2017)."""
import numpy as np
import pytest
import torch

from reid_gc.evaluation import evaluate, re_ranking
from reid_gc.utils.errors import UserError


def plain_re_ranking(qf, gf, k1, k2, lambda_value):
    x = np.concatenate([qf, gf]).astype(np.float64)
    n, num_query = len(x), len(qf)
    dist = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    dist = np.transpose(dist / dist.max(axis=0))  # each column over its maximum, then transposed
    rank = np.argsort(dist, axis=1, kind="stable")

    def reciprocal(i, k):
        return [j for j in rank[i, :k + 1] if i in rank[j, :k + 1]]

    V = np.zeros((n, n))
    half = int(np.around(k1 / 2))
    for i in range(n):
        r = reciprocal(i, k1)
        expanded = set(r)
        for c in r:
            rc = reciprocal(c, half)
            if len(set(rc) & set(r)) > 2 / 3 * len(rc):
                expanded |= set(rc)
        expanded = sorted(expanded)
        weight = np.exp(-dist[i, expanded])
        V[i, expanded] = weight / weight.sum()
    if k2 != 1:
        V = np.stack([V[rank[i, :k2]].mean(0) for i in range(n)])
    jaccard = np.zeros((num_query, n - num_query))
    for i in range(num_query):
        shared = np.minimum(V[i][None, :], V[num_query:]).sum(1)
        jaccard[i] = 1 - shared / (2 - shared)
    return jaccard * (1 - lambda_value) + dist[:num_query, num_query:] * lambda_value


def clustered(seed, num_query=40, num_gallery=160, num_ids=14, dim=16, noise=0.8, dtype=np.float64):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(num_ids, dim))
    q_pids, g_pids = rng.integers(0, num_ids, num_query), rng.integers(0, num_ids, num_gallery)
    qf = centres[q_pids] + noise * rng.normal(size=(num_query, dim))
    gf = centres[g_pids] + noise * rng.normal(size=(num_gallery, dim))
    q_cams, g_cams = rng.integers(0, 4, num_query), rng.integers(0, 4, num_gallery)
    return qf.astype(dtype), gf.astype(dtype), (q_pids, g_pids, q_cams, g_cams)


def assert_same_ranking_quality(ours, plain, labels):
    a, b = evaluate(ours, *labels), evaluate(plain, *labels)
    assert abs(a.mAP - b.mAP) * 100 <= 0.1
    assert abs(a.cmc[0] - b.cmc[0]) * 100 <= 0.1


@pytest.mark.parametrize("k1, k2, lambda_value, chunk_size", [
    (20, 6, 0.3, None),  # the defaults
    (20, 6, 0.3, 37),  # many strips: neighbours merged across blocks
    (7, 1, 0.0, 50),  # odd k1 (round(3.5) = 4), no query expansion, Jaccard only
    (5, 3, 1.0, 64),  # round(2.5) = 2 (half to even), original distance only
])
def test_matches_plain_published_algorithm(k1, k2, lambda_value, chunk_size):
    qf, gf, labels = clustered(seed=k1)
    plain = plain_re_ranking(qf, gf, k1, k2, lambda_value)
    ours = re_ranking(torch.from_numpy(qf), torch.from_numpy(gf), k1, k2, lambda_value, chunk_size=chunk_size)
    assert ours.dtype == torch.float32 and ours.shape == (40, 160)
    np.testing.assert_allclose(ours.numpy(), plain, atol=2e-6)
    assert_same_ranking_quality(ours, plain, labels)


def test_float32_features_and_numpy_input():
    qf, gf, labels = clustered(seed=3, dtype=np.float32)
    plain = plain_re_ranking(qf, gf, 20, 6, 0.3)
    ours = re_ranking(qf, gf)  # numpy in, computed in float32
    assert isinstance(ours, torch.Tensor) and ours.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), plain, atol=1e-4)
    assert_same_ranking_quality(ours, plain, labels)


@pytest.mark.parametrize("chunk_size", [None, 13])
def test_exact_ties_in_neighbour_order_go_to_the_lower_index(chunk_size):
    # Small integer features: exact arithmetic, many equal distances; the plain version sorts stably.
    rng = np.random.default_rng(0)
    qf, gf = rng.integers(-3, 4, (30, 6)).astype(np.float64), rng.integers(-3, 4, (90, 6)).astype(np.float64)
    ours = re_ranking(qf, gf, chunk_size=chunk_size)
    np.testing.assert_allclose(ours.numpy(), plain_re_ranking(qf, gf, 20, 6, 0.3), atol=2e-6)


def test_fewer_images_than_k1():
    qf, gf, _ = clustered(seed=4, num_query=4, num_gallery=9, num_ids=3)
    np.testing.assert_allclose(re_ranking(qf, gf).numpy(), plain_re_ranking(qf, gf, 20, 6, 0.3), atol=2e-6)


def test_reranking_helps_on_clustered_data():
    qf, gf, labels = clustered(seed=5, noise=1.6)
    before = evaluate(((qf[:, None] - gf[None]) ** 2).sum(-1), *labels)
    after = evaluate(re_ranking(qf, gf), *labels)
    assert after.mAP > before.mAP


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    qf, gf, _ = clustered(seed=6, dtype=np.float32)
    cpu = re_ranking(qf, gf)
    gpu = re_ranking(torch.from_numpy(qf).cuda(), torch.from_numpy(gf).cuda())
    assert gpu.device.type == "cuda"
    np.testing.assert_allclose(gpu.cpu().numpy(), cpu.numpy(), atol=1e-4)


@pytest.mark.parametrize("kwargs, message", [
    (dict(k1=0), "k1 must be a whole number >= 1"),
    (dict(k2=2.5), "k2 must be a whole number >= 1"),
    (dict(lambda_value=1.5), "lambda must be between 0 and 1"),
])
def test_bad_parameters(kwargs, message):
    qf, gf, _ = clustered(seed=0, num_query=3, num_gallery=5)
    with pytest.raises(UserError, match=message):
        re_ranking(qf, gf, **kwargs)


def test_bad_features():
    qf, gf, _ = clustered(seed=0, num_query=3, num_gallery=5)
    gf[1, 1] = np.inf
    with pytest.raises(UserError, match="gallery features contain NaN or inf"):
        re_ranking(qf, gf)
    with pytest.raises(UserError, match="query set is empty"):
        re_ranking(qf[:0], gf)
