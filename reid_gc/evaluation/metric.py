"""An ignite Metric that collects features, ids and cameras, then ranks the gallery for each query."""
import ignite.distributed as idist
import torch
import torch.nn.functional as F
from ignite.metrics import Metric
from ignite.metrics.metric import reinit__is_reduced

from .ranking import evaluate, evaluate_features
from .repeated import evaluate_splits
from .rerank import re_ranking


class ReIDMetric(Metric):
    """Expects engine output (features, pids, camids, indices); the first `num_query` dataset indices are
    the queries. Features of every rank are gathered and padded repeats dropped by index, so a
    distributed evaluation equals a single-process one. compute() returns the ranking result and keeps
    the query/gallery features in `.features` for later use (ranked-list pictures).

    set_test_set() switches to another test set between runs: its number of queries, the protocol
    (cross_camera, q_self: the gallery index of each query's own image for camera-free data) or, for
    protocols that draw the split, the list of (query indices, gallery indices) into the loader's images."""

    def __init__(self, num_query, feat_norm=True, distance="euclidean", max_rank=50, rerank=None,
                 output_transform=lambda x: x, device="cpu", cross_camera=True, roc=False):
        self.feat_norm = feat_norm
        self.distance = distance
        self.max_rank = max_rank
        self.rerank = rerank  # None or dict(k1=, k2=, lambda_value=)
        self.roc = roc
        self.features = None
        self.set_test_set(num_query, cross_camera)
        super().__init__(output_transform=output_transform, device=device)

    def set_test_set(self, num_query, cross_camera=True, q_self=None, splits=None):
        self.num_query = num_query
        self.cross_camera = cross_camera
        self.q_self = q_self
        self.splits = splits

    @reinit__is_reduced
    def reset(self):
        self._feats, self._pids, self._camids, self._indices = [], [], [], []

    @reinit__is_reduced
    def update(self, output):
        feats, pids, camids, indices = output
        self._feats.append(feats.detach().float())
        self._pids.append(pids.detach().cpu())
        self._camids.append(camids.detach().cpu())
        self._indices.append(indices.detach().cpu())

    def _gathered(self):
        feats = torch.cat(self._feats)
        pids, camids, indices = (torch.cat(x) for x in (self._pids, self._camids, self._indices))
        if idist.get_world_size() > 1:
            feats = idist.all_gather(feats)
            pids, camids, indices = (idist.all_gather(x.to(feats.device)).cpu() for x in (pids, camids, indices))
        order = torch.argsort(indices, stable=True)
        indices = indices[order]
        first = torch.ones_like(indices, dtype=torch.bool)
        first[1:] = indices[1:] != indices[:-1]
        keep = order[first]
        return feats[keep.to(feats.device)], pids[keep], camids[keep]

    def completed(self, engine, name):
        """Stores the result under `name`, and its headline numbers as plain floats for loggers."""
        result = self.compute()
        engine.state.metrics[name] = result
        engine.state.metrics.update(mAP=float(result.mAP), rank1=float(result.cmc[0]), mINP=float(result.mINP))

    def compute(self):
        feats, pids, camids = self._gathered()
        if self.feat_norm:
            feats = F.normalize(feats, dim=1)
        q, g = slice(0, self.num_query), slice(self.num_query, None)
        self.features = (feats[q], feats[g])
        if self.splits is not None:
            return evaluate_splits(feats, pids.numpy(), self.splits, metric=self.distance, max_rank=self.max_rank,
                                   rerank=self.rerank, roc=self.roc)
        args = (pids[q].numpy(), pids[g].numpy(), camids[q].numpy(), camids[g].numpy())
        protocol = {"max_rank": self.max_rank, "cross_camera": self.cross_camera, "q_self": self.q_self,
                    "roc": self.roc}
        if self.rerank:
            distmat = re_ranking(feats[q], feats[g], **self.rerank)
            return evaluate(distmat, *args, **protocol)
        return evaluate_features(feats[q], feats[g], *args, metric=self.distance, **protocol)
