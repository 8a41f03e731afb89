"""Query x gallery distances by matrix multiplication, one block of query rows at a time."""
import torch
import torch.nn.functional as F

from ..utils.errors import UserError
from ._inputs import chunks, features_pair, rows_per_block

METRICS = ("euclidean", "cosine")


def squared_norms(x, rows=4096):
    """||x_i||^2 per row as a sum of squares (exact for exactly representable inputs), a few rows at a
    time so that no temporary the size of x is made."""
    out = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
    for start in range(0, x.shape[0], rows):
        part = x[start:start + rows]
        torch.sum(part * part, dim=1, out=out[start:start + rows])
    return out


class GalleryDistance:
    """Distances from any block of query rows to a fixed gallery.

    euclidean: squared Euclidean distance ||q||^2 + ||g||^2 - 2 q.g, clamped at 0 (the strong baseline's
    distance); cosine: 1 - cosine similarity. The gallery side (norms, normalised rows) is prepared once.
    """

    def __init__(self, gf, metric="euclidean"):
        if metric not in METRICS:
            raise UserError(f"unknown distance metric {metric!r}: use one of {', '.join(METRICS)}")
        self.metric = metric
        if metric == "cosine":
            self.gallery_t = F.normalize(gf, dim=1).t()
        else:
            self.gallery_t = gf.t()
            self.gallery_sq = squared_norms(gf)

    @property
    def num_gallery(self):
        return self.gallery_t.shape[1]

    def block(self, qf, out=None):
        """Distances of the rows of `qf` to the gallery, written into `out` when given."""
        if self.metric == "cosine":
            out = torch.matmul(F.normalize(qf, dim=1), self.gallery_t, out=out)
            return out.neg_().add_(1.0)
        out = torch.addmm(self.gallery_sq[None, :], qf, self.gallery_t, alpha=-2.0, out=out)
        return out.add_(squared_norms(qf)[:, None]).clamp_(min=0.0)


def compute_distance(qf, gf, metric="euclidean", chunk_size=None):
    """The full query x gallery distance matrix (torch tensor on qf's device).

    Accepts numpy arrays or torch tensors; float64 inputs give a float64 matrix, anything else float32.
    """
    qf, gf = features_pair(qf, gf)
    dist = GalleryDistance(gf, metric)
    out = torch.empty(qf.shape[0], gf.shape[0], dtype=qf.dtype, device=qf.device)
    for start, stop in chunks(qf.shape[0], rows_per_block(gf.shape[0], qf.device, chunk_size)):
        dist.block(qf[start:stop], out=out[start:stop])
    return out
