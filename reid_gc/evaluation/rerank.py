"""k-reciprocal re-ranking (Zhong et al., "Re-ranking Person Re-identification with k-reciprocal
Encoding", CVPR 2017) with sparse neighbour sets.

The published algorithm, on all N = query + gallery features:
  original distance d(i, j): squared Euclidean, each row divided by its maximum;
  R(i, k1): the k1 + 1 nearest neighbours j of i that also have i among their own k1 + 1 nearest;
  expansion: for each c in R(i, k1), R(c, round(k1 / 2)) is added when more than 2/3 of it lies in R(i, k1);
  V[i, j] = exp(-d(i, j)) over that expanded set, normalised to sum 1 (zero elsewhere);
  query expansion: V[i] = mean of V over the k2 nearest neighbours of i;
  Jaccard distance between query i and gallery j: 1 - s / (2 - s) with s = sum over f of min(V[i, f], V[j, f]);
  result: Jaccard * (1 - lambda) + original distance * lambda, query rows x gallery columns.

Here the N x N distances are computed one block of rows at a time and only kept as each row's nearest
neighbours and maximum (the query x gallery block is written straight into the result), the neighbour
sets are top-k index tensors, V is a sparse (row, column, value) list, query expansion gathers and
sums rows of it, and the Jaccard sums run over an inverted index (gallery rows per feature) so that only
pairs sharing a feature cost anything. All of it is torch, so it runs on the features' device (on the
CPU, numpy does the flat sorts: its vectorised sort is an order of magnitude faster than torch's).
Differences from the published code that do not change the algorithm: neighbour ties are broken by
index (the published code leaves them to an unstable sort); V and the Jaccard sums are kept in float32
(float64 for float64 features), where the strong baseline's copy stores them in float16; distances are
clamped at 0 and row i is divided by its own maximum (the matrix is symmetric, so this is the published
column maximum up to rounding).
"""
import logging

import numpy as np
import torch

from ..utils.errors import UserError
from ._inputs import block_budget, chunks, features_pair, rows_per_block
from .distance import squared_norms

logger = logging.getLogger(__name__)


def _check_params(k1, k2, lambda_value):
    for name, k in (("k1", k1), ("k2", k2)):
        if isinstance(k, bool) or not float(k).is_integer() or k < 1:
            raise UserError(f"re-ranking {name} must be a whole number >= 1, got {k!r}: "
                            f"set TEST.RE_RANKING_K1/K2 (defaults 20 and 6)")
    if not 0.0 <= float(lambda_value) <= 1.0:
        raise UserError(f"re-ranking lambda must be between 0 and 1, got {lambda_value!r}: "
                        f"set TEST.RE_RANKING_LAMBDA (default 0.3)")
    return int(k1), int(k2), float(lambda_value)


def _segments(starts, lengths):
    """Every element of the segments [starts[s], starts[s] + lengths[s]): (segment s, position)."""
    total = int(lengths.sum())
    seg = torch.repeat_interleave(torch.arange(len(lengths), device=lengths.device), lengths,
                                  output_size=total)
    first = lengths.cumsum(0) - lengths
    pos = torch.arange(total, device=lengths.device) + (starts - first)[seg]
    return seg, pos


def _argsort(keys):
    """Indices that sort `keys` (ties in any order); numpy's vectorised sort is an order of magnitude
    faster than torch's on the CPU."""
    if keys.device.type == "cpu":
        return torch.from_numpy(np.argsort(keys.numpy()))
    return torch.argsort(keys)


def _coalesce(keys, values=None):
    """Sorted unique keys, and with `values` the sum of the values of each key."""
    if values is None:
        keys = torch.from_numpy(np.sort(keys.numpy())) if keys.device.type == "cpu" else torch.sort(keys).values
    else:
        order = _argsort(keys)
        keys, values = keys[order], values[order]
    first = torch.ones_like(keys, dtype=torch.bool)
    first[1:] = keys[1:] != keys[:-1]
    if values is None:
        return keys[first]
    group = first.cumsum(0) - 1
    sums = torch.zeros(int(first.sum()), dtype=values.dtype, device=values.device)
    return keys[first], sums.index_add_(0, group, values)


def _merge(best_val, best_idx, rows, value, index):
    """Keep, for `rows`, the smallest distances among the stored ones and the new candidates."""
    value = torch.cat([best_val[rows], value], 1)
    index = torch.cat([best_idx[rows], index], 1)
    value, pos = value.topk(best_val.shape[1], dim=1, largest=False, sorted=False)
    best_val[rows] = value
    best_idx[rows] = index.gather(1, pos)


def _merge_entries(best_val, best_idx, row, value, index):
    """_merge for a list of (row, distance, index) candidates, rows ascending, several per row allowed."""
    touched, count = torch.unique_consecutive(row, return_counts=True)
    width = int(count.max())
    first = count.cumsum(0) - count
    slot = torch.arange(row.numel(), device=row.device) - torch.repeat_interleave(first, count)
    group = torch.repeat_interleave(torch.arange(touched.numel(), device=row.device), count)
    pad_val = torch.full((touched.numel(), width), float("inf"), dtype=value.dtype, device=value.device)
    pad_idx = torch.full((touched.numel(), width), best_val.shape[0], dtype=torch.int64, device=row.device)
    pad_val[group, slot] = value
    pad_idx[group, slot] = index
    _merge(best_val, best_idx, touched, pad_val, pad_idx)


def _neighbours(feats, sq_norms, num_query, width, step):
    """Nearest `width` neighbours of every row in (distance, index) order with their distances, the row
    maxima, and the query x gallery block of the (not yet normalised) distances.

    The distance matrix is symmetric, so only strips right of the diagonal are computed: a strip of rows
    [start, stop) x columns [start, n) gives candidates to its own rows and, read down its columns, to
    every later row. Down the columns, after the first strip, only entries below a row's current worst
    kept distance can enter its list, so those are picked by one comparison instead of a top-k.
    """
    n, device, dtype = feats.shape[0], feats.device, feats.dtype
    spare = min(n, width + 8)  # a few more than needed, to order ties at the boundary by index
    best_val = torch.full((n, spare), float("inf"), dtype=dtype, device=device)
    best_idx = torch.full((n, spare), n, dtype=torch.int64, device=device)
    row_max = torch.full((n,), float("-inf"), dtype=dtype, device=device)
    qg = torch.empty(num_query, n - num_query, dtype=dtype, device=device)
    for start, stop in chunks(n, step):
        strip = torch.addmm(sq_norms[None, start:], feats[start:stop], feats[start:].t(), alpha=-2.0)
        strip.add_(sq_norms[start:stop, None])
        torch.maximum(row_max[start:stop], strip.amax(1), out=row_max[start:stop])
        value, index = strip.topk(min(spare, n - start), dim=1, largest=False, sorted=False)
        _merge(best_val, best_idx, slice(start, stop), value, index + start)
        if stop < n:
            below = strip[:, stop - start:]
            torch.maximum(row_max[stop:], below.amax(0), out=row_max[stop:])
            if start == 0:
                value, index = below.t().topk(min(spare, stop), dim=1, largest=False, sorted=False)
                _merge(best_val, best_idx, slice(stop, n), value, index)
            else:
                # Transposed, so that the candidates come out grouped by the row they may enter.
                c, r = torch.nonzero((below < best_val[stop:].amax(1)).t(), as_tuple=True)
                if r.numel():
                    _merge_entries(best_val, best_idx, c + stop, below[r, c], r + start)
        if start < num_query:
            last = min(stop, num_query)
            qg[start:last] = strip[:last - start, num_query - start:]
    best_val.clamp_(min=0)
    # (distance, index) order: sort by index, then stably by distance.
    best_idx, order = best_idx.sort(1)
    best_val, order = best_val.gather(1, order).sort(dim=1, stable=True)
    best_idx = best_idx.gather(1, order)
    row_max.clamp_(min=torch.finfo(dtype).tiny)
    return best_idx[:, :width].contiguous(), best_val[:, :width].contiguous(), row_max, qg.clamp_(min=0)


def _reciprocal(near, budget):
    """mask[i, m]: i is among the neighbours of its m-th neighbour near[i, m]."""
    n, k = near.shape
    mask = torch.empty(n, k, dtype=torch.bool, device=near.device)
    for start, stop in chunks(n, max(1, budget // (k * k))):
        own = torch.arange(start, stop, device=near.device)[:, None, None]
        mask[start:stop] = (near[near[start:stop]] == own).any(2)
    return mask


def _expanded_sets(near, half, budget):
    """(row, column) of every member of each row's expanded k-reciprocal set, rows ascending and
    columns ascending within a row."""
    n, k = near.shape
    kh = half.shape[1]
    recip = _reciprocal(near, budget)
    recip_half = _reciprocal(half, budget)
    sets = near.masked_fill(~recip, -1)  # R(i, k1), -1 where not reciprocal
    half_sets = half.masked_fill(~recip_half, -2)  # R(c, k1 / 2), -2 so pads never match
    half_size = recip_half.sum(1).to(torch.float64)
    keys = []
    for start, stop in chunks(n, max(1, budget // (k * kh * k))):
        cand = sets[start:stop]
        cand_sets = half_sets[cand.clamp(min=0)]  # rows x k x kh
        overlap = (cand_sets[..., None] == cand[:, None, None, :]).any(3).sum(2)
        accept = recip[start:stop] & (overlap.to(torch.float64) > (2 / 3) * half_size[cand.clamp(min=0)])
        members = torch.cat([cand, cand_sets.masked_fill(~accept[..., None], -1).flatten(1)], 1)
        row = torch.arange(start, stop, device=near.device)[:, None].expand_as(members)
        valid = members >= 0
        keys.append(row[valid] * n + members[valid])
    keys = _coalesce(torch.cat(keys))
    return keys // n, keys % n


def _pair_distances(rows, cols, near_idx, near_dist, feats, sq_norms, budget):
    """d(rows, cols), looked up among the stored neighbours, computed directly for the few others."""
    n, width = near_idx.shape
    idx_sorted, order = near_idx.sort(1)
    keys = (torch.arange(n, device=feats.device)[:, None] * n + idx_sorted).flatten()
    stored = near_dist.gather(1, order).flatten()
    want = rows * n + cols
    pos = torch.searchsorted(keys, want).clamp_(max=keys.numel() - 1)
    dist = stored[pos]
    missing = (keys[pos] != want).nonzero().squeeze(1)
    for lo, hi in chunks(missing.numel(), max(1, budget // (2 * feats.shape[1]))):
        i, j = rows[missing[lo:hi]], cols[missing[lo:hi]]
        dot = torch.bmm(feats[i][:, None, :], feats[j][:, :, None]).flatten()
        dist[missing[lo:hi]] = dot.mul_(-2.0).add_(sq_norms[j]).add_(sq_norms[i]).clamp_(min=0)  # as in the strips
    logger.debug("re-ranking: %d of %d expanded-set distances computed outside the stored neighbours",
                 missing.numel(), rows.numel())
    return dist


def _row_starts(rows, n):
    counts = torch.bincount(rows, minlength=n)
    return counts.cumsum(0) - counts, counts


def _query_expansion(rows, cols, vals, nbrs, budget):
    """V[i] <- mean of V over the rows nbrs[i] (sparse rows in, sparse rows out, sorted)."""
    n, kq = nbrs.shape
    starts, counts = _row_starts(rows, n)
    per_row = counts[nbrs].sum(1)
    out_keys, out_vals = [], []
    for start, stop in _budget_chunks(per_row, budget, n):
        seg, pos = _segments(starts[nbrs[start:stop]].flatten(), counts[nbrs[start:stop]].flatten())
        keys, summed = _coalesce((seg // kq + start) * n + cols[pos], vals[pos])
        out_keys.append(keys)
        out_vals.append(summed / kq)
    keys = torch.cat(out_keys)
    return keys // n, keys % n, torch.cat(out_vals)


def _budget_chunks(cost, budget, max_rows):
    """Consecutive row ranges whose summed cost stays within budget (a single row may exceed it)."""
    cum = cost.cumsum(0).cpu().numpy()
    total, start = cost.numel(), 0
    while start < total:
        base = int(cum[start - 1]) if start else 0
        stop = int(np.searchsorted(cum, base + budget, side="right"))
        stop = min(max(stop, start + 1), start + max_rows, total)
        yield start, stop
        start = stop


def _jaccard_into(out, rows, cols, vals, lambda_value, budget):
    """out (query x gallery original distances) <- Jaccard * (1 - lambda) + out * lambda."""
    num_query, num_gallery = out.shape
    n = num_query + num_gallery
    in_gallery = rows >= num_query
    g_rows, g_cols, g_vals = rows[in_gallery] - num_query, cols[in_gallery], vals[in_gallery]
    order = _argsort(g_cols)  # inverted index: gallery rows of each feature
    g_rows, g_vals = g_rows[order], g_vals[order]
    col_start, col_count = _row_starts(g_cols, n)
    row_start, row_count = _row_starts(rows, n)
    q_end = int((rows < num_query).sum())  # rows are sorted: the query rows come first
    q_rows, q_cols, q_vals = rows[:q_end], cols[:q_end], vals[:q_end]
    cost = torch.zeros(num_query, dtype=torch.int64, device=out.device).index_add_(0, q_rows, col_count[q_cols])
    max_rows = max(1, budget // max(1, num_gallery))
    shared_sum = torch.empty(min(max_rows, num_query) * num_gallery, dtype=out.dtype, device=out.device)
    for start, stop in _budget_chunks(cost, budget, max_rows):
        lo, hi = int(row_start[start]), int(row_start[stop - 1] + row_count[stop - 1])
        f = q_cols[lo:hi]
        entry, pos = _segments(col_start[f], col_count[f])
        shared = torch.minimum(q_vals[lo:hi][entry], g_vals[pos])
        target = ((q_rows[lo:hi] - start) * num_gallery)[entry] + g_rows[pos]
        s = shared_sum[:(stop - start) * num_gallery].zero_().index_add_(0, target, shared)
        s = s.view(stop - start, num_gallery)
        # Jaccard distance 1 - s / (2 - s) = 2 (1 - s) / (2 - s)
        jaccard = torch.rsub(s, 1.0).div_(s.neg_().add_(2.0))
        out[start:stop].mul_(lambda_value).add_(jaccard, alpha=2.0 * (1.0 - lambda_value))


def re_ranking(qf, gf, k1=20, k2=6, lambda_value=0.3, chunk_size=None):
    """Query x gallery distances after k-reciprocal re-ranking (float32 tensor on qf's device).

    qf, gf: query and gallery features (torch tensors or numpy arrays); float64 features are processed
    in float64. chunk_size: rows per block of the N x N distances (default from a memory budget).
    """
    k1, k2, lambda_value = _check_params(k1, k2, lambda_value)
    qf, gf = features_pair(qf, gf)
    num_query = qf.shape[0]
    feats = torch.cat([qf, gf])
    n, device = feats.shape[0], feats.device
    budget = block_budget(device)
    k_recip = min(k1 + 1, n)
    k_half = min(int(round(k1 / 2)) + 1, n)  # round half to even, as numpy's around in the paper's code
    k_qe = min(k2, n)
    width = min(max(2 * (k1 + 1), k2), n)  # neighbours kept per row, with their distances

    sq_norms = squared_norms(feats)
    step = rows_per_block(n, device, chunk_size, scale=2)  # bigger strips: faster matmul, fewer merges
    near_idx, near_dist, row_max, out = _neighbours(feats, sq_norms, num_query, width, step)
    out /= row_max[:num_query, None]
    rows, cols = _expanded_sets(near_idx[:, :k_recip], near_idx[:, :k_half], budget)
    weight = torch.exp(-_pair_distances(rows, cols, near_idx, near_dist, feats, sq_norms, budget) / row_max[rows])
    row_sum = torch.zeros(n, dtype=weight.dtype, device=device).index_add_(0, rows, weight)
    vals = weight / row_sum[rows]
    if k2 != 1:
        rows, cols, vals = _query_expansion(rows, cols, vals, near_idx[:, :k_qe], budget)
    _jaccard_into(out, rows, cols, vals, lambda_value, budget)
    logger.debug("re-ranking: %d queries x %d gallery, %d nonzeros in V", num_query, n - num_query, vals.numel())
    return out.to(torch.float32)
