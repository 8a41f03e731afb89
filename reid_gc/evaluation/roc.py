"""The verification view of a query x gallery distance matrix: ROC, its AUC and operating points.

Pairs: exactly those the ranking keeps (the same protocol exclusions: same id and camera under the
Market-1501 rule, the query's own image when camera-free). A pair is positive when both images show the
same id (the ranking's true matches) and negative when the ids differ; gallery junk (pid -1) has no identity
and is left out; distractors (pid 0) are negatives. A pair is accepted when its distance is at most a
threshold, so TPR(t) = #positives <= t / P and FPR(t) = #negatives <= t / N.

Exact in bounded memory, two passes over the distance blocks: the ranking pass keeps the positive
distances (a handful per query); the second pass sorts each block's negative distances (numpy's sort on
the CPU) and counts, for every positive, the negatives strictly below and at its distance (two binary
searches of the sorted positives into the sorted block), keeps the smallest negatives for the operating
points and bins them for the histogram.

- AUC is the Mann-Whitney statistic: P(d_pos < d_neg) + 0.5 P(d_pos == d_neg).
- The operating point at target FPR f: with k = floor(f N), the threshold is the (k+1)-th smallest negative
  distance; pairs strictly below it are accepted, so its FPR is the largest achievable that is <= f and its
  TPR is the share of positives strictly below it.
"""
import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import torch

from ..utils.errors import UserError

FPR_TARGETS = (1e-4, 1e-3, 1e-2)
HISTOGRAM_BINS = 100
MASK_ROWS = 256


@dataclass
class RocResult:
    auc: float
    num_positive: int
    num_negative: int
    points: list  # one dict per target FPR: fpr_target, threshold, tpr, fpr
    fpr: np.ndarray = field(repr=False)  # the curve's vertices, from (0, 0) to (1, 1)
    tpr: np.ndarray = field(repr=False)
    edges: np.ndarray = field(repr=False)  # histogram bin edges and counts of the pair distances
    positive_counts: np.ndarray = field(repr=False)
    negative_counts: np.ndarray = field(repr=False)

    def to_dict(self):
        return {"auc": self.auc, "num_positive_pairs": self.num_positive, "num_negative_pairs": self.num_negative,
                "operating_points": self.points}


def _floor_fraction(f, n):
    """floor(f * n) without float rounding (1e-3 * 1000 is 1, not 0.999...)."""
    return math.floor(Fraction(repr(float(f))) * n)


def _sort_flat(t):
    if t.device.type == "cpu":
        t.numpy().sort()
        return t
    return torch.sort(t).values


class RocAccumulator:
    """Second pass of the ROC: feed every block of distance rows with add(); positives are the ranking's
    true-match distances (any order)."""

    def __init__(self, positives, q_pids, g_pids, extent, targets=FPR_TARGETS, bins=HISTOGRAM_BINS):
        self.q_pids, self.g_pids = q_pids, g_pids
        self.junk = g_pids < 0
        self.positives = torch.sort(positives).values
        self.targets = tuple(targets)
        # Negative pairs per query: gallery images of another id, junk left out.
        identities = g_pids[g_pids >= 0]
        ids, counts = torch.unique(identities, return_counts=True)  # (ids are labels: they may be huge numbers)
        same = torch.zeros_like(q_pids)
        if len(ids):
            at = torch.searchsorted(ids, q_pids).clamp_(max=len(ids) - 1)
            same = torch.where(ids[at] == q_pids, counts[at], same)
        self.num_negative = len(identities) * len(q_pids) - int(same.sum())
        self.keep = min(self.num_negative, max(_floor_fraction(f, self.num_negative) for f in self.targets) + 1)
        self.smallest = positives.new_empty(0)
        self.below = torch.zeros(len(positives), dtype=torch.int64, device=positives.device)
        self.at_or_below = torch.zeros_like(self.below)
        lo, hi = extent
        hi = hi if hi > lo else lo + 1.0
        self.edges = torch.linspace(lo, hi, bins + 1, dtype=positives.dtype, device=positives.device)
        self.negative_counts = torch.zeros(bins, dtype=torch.int64, device=positives.device)
        self.seen = 0
        self.scratch = None

    def add(self, dist, start):
        if self.scratch is None or self.scratch.numel() < dist.numel() or self.scratch.dtype != dist.dtype:
            self.scratch = torch.empty(dist.numel(), dtype=dist.dtype, device=dist.device)
        flat = self.scratch[:dist.numel()]
        rows = flat.view_as(dist).copy_(dist)
        count = 0
        for lo in range(0, rows.shape[0], MASK_ROWS):  # a few rows' mask at a time: no block-sized temporary
            hi = min(rows.shape[0], lo + MASK_ROWS)
            excluded = self.g_pids[None, :] == self.q_pids[start + lo:start + hi, None]
            excluded |= self.junk[None, :]
            rows[lo:hi].masked_fill_(excluded, float("inf"))
            count += excluded.numel() - int(torch.count_nonzero(excluded))  # (bool sum() makes an int64 copy)
        values = _sort_flat(flat)[:count]
        self.seen += count
        self.below += torch.searchsorted(values, self.positives)
        self.at_or_below += torch.searchsorted(values, self.positives, right=True)
        self.smallest = torch.sort(torch.cat([self.smallest, values[:self.keep]])).values[:self.keep]
        cumulative = torch.searchsorted(values, self.edges[1:-1], right=True)
        cumulative = torch.cat([cumulative.new_zeros(1), cumulative, cumulative.new_full((1,), count)])
        self.negative_counts += cumulative.diff()

    def result(self):
        P, N = len(self.positives), self.num_negative
        assert self.seen == N, (self.seen, N)  # every negative pair was fed exactly once
        if P == 0 or N == 0:
            raise UserError(f"the ROC needs positive and negative pairs, got {P} positive and {N} negative: "
                            f"the test set needs ids with several images and more than one id (or TEST.ROC 'no')")
        below = self.below.cpu().numpy()
        at = self.at_or_below.cpu().numpy()
        pos = self.positives.double().cpu().numpy()
        auc = float(((N - at).sum() + 0.5 * (at - below).sum()) / (P * N))
        # Vertices: for each distinct positive distance u, the point just below it and the point at it.
        values, first, mult = np.unique(pos, return_index=True, return_counts=True)
        fpr = np.concatenate([[0.0], np.stack([below[first], at[first]], 1).ravel() / N, [1.0]])
        tpr = np.concatenate([[0.0], np.stack([first, first + mult], 1).ravel() / P, [1.0]])
        smallest = self.smallest.double().cpu().numpy()
        points = []
        for f in self.targets:
            k = _floor_fraction(f, N)
            threshold = float(smallest[k])
            points.append({"fpr_target": f, "threshold": threshold,
                           "tpr": float(np.searchsorted(pos, threshold, side="left") / P),
                           "fpr": float(np.searchsorted(smallest, threshold, side="left") / N)})
        edges = self.edges.double().cpu().numpy()
        positive_counts, _ = np.histogram(np.clip(pos, edges[0], edges[-1]), bins=edges)
        return RocResult(auc=auc, num_positive=P, num_negative=N, points=points, fpr=fpr, tpr=tpr, edges=edges,
                         positive_counts=positive_counts, negative_counts=self.negative_counts.cpu().numpy())


def save_roc_plot(path, roc, title=""):
    """roc.png: the ROC (FPR on a log axis) with the operating points, and the positive/negative distance
    histograms (each normalised to its own total)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..utils.atomic import atomic_path

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(np.maximum(roc.fpr, 1e-7), roc.tpr)
    for p in roc.points:
        ax1.plot(max(p["fpr"], 1e-7), p["tpr"], "o", label=f"FPR<={p['fpr_target']:g}: TPR {p['tpr']:.3f}, "
                                                          f"d < {p['threshold']:.4g}")
    ax1.set_xscale("log")
    ax1.set_xlim(1e-6, 1)
    ax1.set_xlabel("false positive rate")
    ax1.set_ylabel("true positive rate")
    ax1.set_title(f"ROC {title} (AUC {roc.auc:.4f})")
    ax1.legend(fontsize=7, loc="lower right")
    width = np.diff(roc.edges)
    for counts, name in ((roc.positive_counts, "same id"), (roc.negative_counts, "different id")):
        ax2.bar(roc.edges[:-1], counts / max(counts.sum(), 1), width=width, align="edge", alpha=0.5, label=name)
    ax2.set_xlabel("distance")
    ax2.set_ylabel("share of pairs")
    ax2.set_title(f"pair distances ({roc.num_positive} / {roc.num_negative})")
    ax2.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return path
