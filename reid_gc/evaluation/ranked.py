"""Each query's ranked list as the evaluation ranks it: protocol exclusions applied, ties to the lower gallery
index; and the order in which to show queries."""
import numpy as np
import torch


def excluded_pairs(q_pids, g_pids, q_cams, g_cams, cross_camera=True, q_self=None):
    """Boolean query x gallery mask of the pairs the protocol leaves out (numpy inputs)."""
    q_pids, g_pids = np.asarray(q_pids), np.asarray(g_pids)
    if cross_camera:
        return (q_pids[:, None] == g_pids[None, :]) & (np.asarray(q_cams)[:, None] == np.asarray(g_cams)[None, :])
    own = np.full(len(q_pids), -1) if q_self is None else np.asarray(q_self)
    return own[:, None] == np.arange(len(g_pids))[None, :]


def top_k(distances, excluded, k):
    """(indices, distances) of each row's k nearest kept gallery images, ties to the lower index; rows with
    fewer kept images are padded with index -1 and distance NaN."""
    d = np.array(torch.as_tensor(distances).double().cpu().numpy(), dtype=np.float64)
    d[excluded] = np.inf
    rows, cols = d.shape
    order = np.full((rows, k), -1, dtype=np.int64)
    dist = np.full((rows, k), np.nan)
    if cols == 0:
        return order, dist
    # Each row's k-th smallest value by partition (linear time), then only the images at or below it are
    # sorted by (distance, index): exact, without sorting whole rows.
    kth = np.partition(d, min(k, cols) - 1, axis=1)[:, min(k, cols) - 1]
    for r in range(rows):
        near = np.flatnonzero((d[r] <= kth[r]) & np.isfinite(d[r]))
        near = near[np.lexsort((near, d[r, near]))][:k]
        order[r, :len(near)], dist[r, :len(near)] = near, d[r, near]
    return order, dist


def query_order(ap, how, count=None):
    """Query indices to show: 'even' = `count` evenly spaced (first and last included), or all in order;
    'worst' = lowest AP first (queries without a true match, AP NaN, last), the first `count`."""
    n = len(ap)
    count = n if count is None else min(count, n)
    if how == "worst":
        key = np.where(np.isnan(ap), np.inf, ap)
        return [int(i) for i in np.argsort(key, kind="stable")[:count]]
    if count >= n:
        return list(range(n))
    if count == 1:
        return [0]
    return [k * (n - 1) // (count - 1) for k in range(count)]
