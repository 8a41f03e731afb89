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
    order = np.argsort(d, axis=1, kind="stable")[:, :k]
    dist = np.take_along_axis(d, order, 1)
    missing = ~np.isfinite(dist)
    order[missing], dist[missing] = -1, np.nan
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
