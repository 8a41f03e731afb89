"""mAP, CMC and mINP under the Market-1501 protocol, vectorised over blocks of queries.

Protocol (that of reid-strong-baseline): for each query, gallery images with the same id AND the same
camera are removed; every other gallery image stays, pid -1 "junk" and pid 0 distractors included, and
is a true match exactly when its id is the query's. Queries without any true match are skipped and
counted. The gallery is ranked by distance, ties broken by gallery index, so results are deterministic.

How a block of queries is ranked without sorting indices: only the ranks of the true matches matter.
The true matches of each query (its id's gallery images from other cameras) come from a pid-sorted
gallery index; their distances are gathered and sorted, a handful per query. A true match's rank is its
place among the true matches plus the number of other-id images before it, which is a binary search in
the row's other-id distances sorted by value (numpy's vectorised sort on the CPU). Other-id images at
exactly a true match's distance rank before it when their gallery index is lower; those rare ties are
counted exactly on the side.

Camera-free data (cross_camera=False): no camera rule; only the query's own image is removed from its
gallery, and a query's own image is the gallery entry named in `q_self` (the same file, found by the caller;
-1 or no `q_self`: nothing removed). This is the camera rule with the gallery index as the "camera" of each
gallery image and the index of its own image as the "camera" of each query, so both run the same code.
"""
import logging
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..utils.errors import UserError
from ._inputs import as_tensor, chunks, features_pair, labels, require_finite, rows_per_block
from .distance import GalleryDistance
from .roc import RocAccumulator

logger = logging.getLogger(__name__)

NO_VALID_QUERY = ("no query has a true match in the gallery from another camera: check that query and "
                  "gallery come from the same dataset, or set TEST.CROSS_CAMERA 'no' for data without camera ids")
NO_VALID_QUERY_CAMERA_FREE = ("no query has a true match in the gallery (TEST.CROSS_CAMERA 'no'): check that "
                              "query and gallery come from the same dataset")


@dataclass
class RankingResult:
    """mAP and mINP are fractions in [0, 1]; cmc[k - 1] is the fraction of valid queries whose first
    true match is at rank <= k."""
    mAP: float
    mINP: float
    cmc: np.ndarray = field(repr=False)
    num_valid_queries: int
    num_queries: int
    # AP of every query in query order; NaN for a query without a true match (skipped).
    ap: np.ndarray = field(default=None, repr=False)
    # Set when the result averages several query/gallery splits: their number and the standard deviation
    # of each headline figure (mAP, mINP, rank1, rank5, rank10).
    repeats: int = 1
    std: dict = field(default_factory=dict)
    roc: object = field(default=None, repr=False)  # an roc.RocResult when asked for

    def rank(self, k):
        """CMC at rank k (1-based); ranks past max_rank stay at the last level."""
        return float(self.cmc[min(k, len(self.cmc)) - 1])


class _Ranker:
    """Accumulates per-query statistics block by block for one query/gallery labelling."""

    def __init__(self, q_pids, g_pids, q_camids, g_camids, max_rank, device, cross_camera=True):
        self.cross_camera = cross_camera
        self.positives = None  # a list of true-match distance tensors when collected (ROC)
        self.q_pids, self.g_pids, self.q_camids, self.g_camids = q_pids, g_pids, q_camids, g_camids
        self.max_rank = max_rank
        # Gallery indices grouped by pid (index order kept inside a group): a query's candidates for
        # true matches are one contiguous range of this order.
        self.by_pid = torch.argsort(g_pids, stable=True)
        sorted_pids = g_pids[self.by_pid]
        self.group_start = torch.searchsorted(sorted_pids, q_pids)
        self.group_size = torch.searchsorted(sorted_pids, q_pids, right=True) - self.group_start
        self.sizes_cpu = self.group_size.cpu()
        zero = torch.zeros((), dtype=torch.float64, device=device)
        self.ap_sum, self.inp_sum = zero.clone(), zero.clone()
        self.num_valid = torch.zeros((), dtype=torch.int64, device=device)
        self.first_hist = torch.zeros(max_rank + 2, dtype=torch.int64, device=device)
        self.ap = torch.full((len(q_pids),), float("nan"), dtype=torch.float64, device=device)
        self.work = None

    def add(self, dist, start):
        """Rank the gallery for queries start .. start + len(dist) given their distance rows."""
        rows = dist.shape[0]
        stop = start + rows
        device = dist.device
        q_pid, q_cam = self.q_pids[start:stop], self.q_camids[start:stop]
        width = max(1, int(self.sizes_cpu[start:stop].max()))
        slot = torch.arange(width, device=device)

        # True matches: same pid, other camera. Sorted by distance; the stable sort keeps index order
        # among equal distances because each group lists gallery indices in increasing order.
        members = self.by_pid[(self.group_start[start:stop, None] + slot).clamp_(max=len(self.by_pid) - 1)]
        is_true = (slot < self.group_size[start:stop, None]) & (self.g_camids[members] != q_cam[:, None])
        true_dist = dist.gather(1, members).masked_fill_(~is_true, float("inf"))
        true_dist, order = torch.sort(true_dist, dim=1, stable=True)
        true_index = members.gather(1, order)
        num_true = is_true.sum(1)
        valid = num_true > 0
        last = (num_true - 1).clamp_(min=0)

        # Distances to the other ids (every kept image that is not a true match), sorted per row: the
        # number of them below a true match's distance is its rank minus its place among true matches.
        others = self._work(dist).copy_(dist)
        others.index_put_(self._same_pid(start, stop, members, slot), torch.tensor(float("inf"), dtype=dist.dtype,
                                                                                 device=device))
        others = _sorted_rows(others)
        before = torch.searchsorted(others, true_dist)
        ties = torch.searchsorted(others, true_dist, right=True) > before
        ties &= slot < num_true[:, None]
        if bool(ties.any()):
            before += self._tied_before(dist, q_pid, true_dist, true_index, ties)

        # 1-based rank of the k-th true match (k from 0): k + 1 + kept others before it.
        position = (slot + 1).to(torch.float64)
        rank = position + before.to(torch.float64)
        counted = slot < num_true[:, None]
        ap = torch.where(counted, position / rank, torch.zeros_like(rank)).sum(1) / num_true.clamp(min=1)
        inp = num_true.to(torch.float64) / rank.gather(1, last[:, None]).squeeze(1)
        first = rank[:, 0].to(torch.int64).clamp_(max=self.max_rank + 1)
        self.ap[start:stop] = torch.where(valid, ap, torch.full_like(ap, float("nan")))
        if self.positives is not None:
            self.positives.append(true_dist[counted])
        self.ap_sum += ap[valid].sum()
        self.inp_sum += inp[valid].sum()
        self.num_valid += valid.sum()
        self.first_hist += torch.bincount(first[valid], minlength=self.max_rank + 2)

    def _work(self, dist):
        """A reusable buffer the shape of `dist` (the distances must not be sorted in place)."""
        if self.work is None or self.work.shape[0] < dist.shape[0] or self.work.dtype != dist.dtype:
            self.work = torch.empty_like(dist)
        return self.work[:dist.shape[0]]

    def _same_pid(self, start, stop, members, slot):
        """(row, column) of every gallery image with the query's id: true matches and junk."""
        in_group = slot < self.group_size[start:stop, None]
        rows = torch.arange(stop - start, device=members.device)[:, None].expand_as(members)
        return rows[in_group], members[in_group]

    def _tied_before(self, dist, q_pid, true_dist, true_index, ties):
        """For true matches whose distance equals some other-id image's: how many of those have a lower
        gallery index (they rank first). Exact ties are rare, so this looks at whole rows."""
        extra = torch.zeros(ties.shape, dtype=torch.int64, device=dist.device)
        row, slot = torch.nonzero(ties, as_tuple=True)
        index = torch.arange(dist.shape[1], device=dist.device)
        for lo, hi in chunks(row.numel(), max(1, (1 << 22) // dist.shape[1])):
            r, k = row[lo:hi], slot[lo:hi]
            tied = (dist[r] == true_dist[r, k][:, None]) & (index < true_index[r, k][:, None])
            tied &= self.g_pids[None, :] != q_pid[r][:, None]
            extra[r, k] = tied.sum(1)
        return extra

    def result(self):
        num_valid = int(self.num_valid)
        if num_valid == 0:
            raise UserError(NO_VALID_QUERY if self.cross_camera else NO_VALID_QUERY_CAMERA_FREE)
        num_queries = len(self.q_pids)
        cmc = self.first_hist[1:self.max_rank + 1].cumsum(0).cpu().numpy().astype(np.float64) / num_valid
        result = RankingResult(mAP=float(self.ap_sum) / num_valid, mINP=float(self.inp_sum) / num_valid,
                               cmc=cmc, num_valid_queries=num_valid, num_queries=num_queries,
                               ap=self.ap.cpu().numpy())
        if num_valid < num_queries:
            logger.debug("%d of %d queries have no true match in the gallery and were skipped",
                        num_queries - num_valid, num_queries)
        return result


def _sorted_rows(t):
    """`t` with each row sorted ascending, in place where possible (numpy's vectorised sort is an order
    of magnitude faster than torch's on the CPU)."""
    if t.device.type == "cpu":
        t.numpy().sort(axis=1)
        return t
    return torch.sort(t, dim=1).values


def _ranker(num_query, num_gallery, q_pids, g_pids, q_camids, g_camids, max_rank, device, cross_camera=True,
            q_self=None):
    if isinstance(max_rank, bool) or not isinstance(max_rank, (int, np.integer)) or max_rank < 1:
        raise UserError(f"max_rank must be a positive whole number, got {max_rank!r}")
    q_pids = labels(q_pids, "q_pids", num_query, "queries", device)
    g_pids = labels(g_pids, "g_pids", num_gallery, "gallery images", device)
    if cross_camera:
        if q_camids is None or g_camids is None:
            raise UserError("camera ids are missing: pass q_camids and g_camids, or evaluate camera-free "
                            "(TEST.CROSS_CAMERA 'no')")
        q_camids = labels(q_camids, "q_camids", num_query, "queries", device)
        g_camids = labels(g_camids, "g_camids", num_gallery, "gallery images", device)
    else:
        # See the module docstring: each gallery image is its own "camera", a query shares its own image's.
        g_camids = torch.arange(num_gallery, device=device)
        if q_self is None:
            q_camids = torch.full((num_query,), -1, dtype=torch.int64, device=device)
        else:
            q_camids = labels(q_self, "q_self", num_query, "queries", device)
            if bool(((q_camids < -1) | (q_camids >= num_gallery)).any()):
                raise UserError(f"q_self must hold gallery indices 0..{num_gallery - 1} or -1 (no own image)")
    return _Ranker(q_pids, g_pids, q_camids, g_camids, int(max_rank), device, cross_camera)


def _blocks_with_roc(ranker, blocks, roc):
    """Rank every block; with roc, keep the true-match distances, then feed the same blocks again to the ROC."""
    if roc:
        ranker.positives = []
    extent = [math.inf, -math.inf]
    for start, block in blocks():
        ranker.add(block, start)
        if roc:
            extent = [min(extent[0], float(block.min())), max(extent[1], float(block.max()))]
    result = ranker.result()
    if roc:
        positives = torch.cat(ranker.positives) if ranker.positives else torch.empty(0)
        ranker.positives = None
        accumulator = RocAccumulator(positives, ranker.q_pids, ranker.g_pids, extent)
        if ranker.work is not None:  # the ranking's scratch block serves the second pass (same memory budget)
            accumulator.scratch, ranker.work = ranker.work.view(-1), None
        for start, block in blocks():
            accumulator.add(block, start)
        result.roc = accumulator.result()
    return result


def evaluate(distmat, q_pids, g_pids, q_camids=None, g_camids=None, max_rank=50, chunk_size=None,
             cross_camera=True, q_self=None, roc=False):
    """mAP, CMC and mINP of a query x gallery distance matrix (numpy array or torch tensor).

    Runs where the matrix is (GPU tensors stay on the GPU), a block of query rows at a time.
    cross_camera=False evaluates camera-free (cameras ignored, `q_self[i]`: gallery index of query i's own
    image or -1); roc=True adds the verification figures (roc.py) as `result.roc`.
    """
    distmat = as_tensor(distmat, "distmat")
    if distmat.dim() != 2:
        raise UserError(f"distmat must be a 2-D query x gallery matrix, got shape {tuple(distmat.shape)}")
    num_query, num_gallery = distmat.shape
    if num_query == 0 or num_gallery == 0:
        raise UserError(f"distmat is {num_query} x {num_gallery}: evaluation needs at least one query and one "
                        f"gallery image; check the dataset's query and gallery folders")
    ranker = _ranker(num_query, num_gallery, q_pids, g_pids, q_camids, g_camids, max_rank, distmat.device,
                     cross_camera, q_self)
    dtype = distmat.dtype if distmat.dtype in (torch.float32, torch.float64) else torch.float64

    def blocks():
        for start, stop in chunks(num_query, rows_per_block(num_gallery, distmat.device, chunk_size)):
            block = distmat[start:stop].to(dtype)
            require_finite(block, "distances")
            yield start, block

    return _blocks_with_roc(ranker, blocks, roc)


def evaluate_features(qf, gf, q_pids, g_pids, q_camids=None, g_camids=None, metric="euclidean", max_rank=50,
                      chunk_size=None, cross_camera=True, q_self=None, roc=False):
    """evaluate() on the distances between query and gallery features, computed one block of query rows
    at a time so that the full query x gallery matrix never exists (bounded memory). With roc=True the
    blocks are computed a second time, identically, for the ROC pass."""
    qf, gf = features_pair(qf, gf)
    ranker = _ranker(qf.shape[0], gf.shape[0], q_pids, g_pids, q_camids, g_camids, max_rank, qf.device,
                     cross_camera, q_self)
    dist = GalleryDistance(gf, metric)
    # Bigger blocks than the default budget: the matrix product dominates and runs faster on them.
    step = rows_per_block(gf.shape[0], qf.device, chunk_size, scale=4)
    buffer = torch.empty(min(step, qf.shape[0]), gf.shape[0], dtype=qf.dtype, device=qf.device)

    def blocks():
        for start, stop in chunks(qf.shape[0], step):
            yield start, dist.block(qf[start:stop], out=buffer[:stop - start])

    return _blocks_with_roc(ranker, blocks, roc)
