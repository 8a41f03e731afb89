"""Ranked lists as one PNG: a row per query, its image then its top-k gallery images, each gallery image
framed green for a true match and red otherwise. Gallery images of the query's id taken by the query's
camera are left out, as in the evaluation protocol. PIL only."""
import logging

import numpy as np
import torch
from PIL import Image

from ..utils.atomic import atomic_path
from ..utils.errors import UserError

logger = logging.getLogger(__name__)

BORDER = 4  # frame width around every image
GAP = 6  # space around cells
QUERY_GAP = 18  # extra space between the query and its ranked list
BACKGROUND = (255, 255, 255)
QUERY_FRAME = (0, 0, 0)
TRUE_MATCH = (0, 190, 0)
FALSE_MATCH = (220, 0, 0)
UNLABELLED = (128, 128, 128)  # identities unknown (a search of unlabelled crops)


def select_queries(num_total, num_queries):
    """All queries when num_queries >= num_total, else num_queries evenly spaced ones, first and last
    included (deterministic)."""
    if num_queries >= num_total:
        return list(range(num_total))
    if num_queries == 1:
        return [0]
    return [k * (num_total - 1) // (num_queries - 1) for k in range(num_queries)]


def cell_box(row, col, size):
    """(left, top, right, bottom) of the framed cell at `row`; col 0 is the query, col k its k-th match."""
    height, width = size
    cell_w, cell_h = width + 2 * BORDER, height + 2 * BORDER
    left = GAP + (col > 0) * (cell_w + QUERY_GAP) + max(0, col - 1) * (cell_w + GAP)
    top = GAP + row * (cell_h + GAP)
    return left, top, left + cell_w, top + cell_h


def _paste(canvas, img_path, box, colour, size):
    try:
        with Image.open(img_path) as img:
            img = img.convert("RGB").resize((size[1], size[0]), Image.Resampling.BILINEAR)
    except OSError as exc:
        raise UserError(f"cannot read image {img_path} for the ranked lists ({exc.__class__.__name__}): "
                        f"check the dataset folder") from None
    canvas.paste(Image.new("RGB", (box[2] - box[0], box[3] - box[1]), colour), box[:2])
    canvas.paste(img, (box[0] + BORDER, box[1] + BORDER))


def save_ranked_lists(path, distmat, query, gallery, num_queries, topk=10, size=(128, 64), labelled=True):
    """Write the ranked lists of `num_queries` queries to the PNG `path` (atomically); return its
    (width, height).

    distmat: query x gallery distances (numpy or torch); query, gallery: lists of (img_path, pid, camid);
    size: (height, width) of each image in the picture. Ties in distance go to the lower gallery index.
    labelled=False: identities are unknown; every gallery image is framed grey and none is left out.
    """
    distmat = distmat if isinstance(distmat, torch.Tensor) else torch.as_tensor(np.asarray(distmat))
    if distmat.dim() != 2 or tuple(distmat.shape) != (len(query), len(gallery)):
        raise UserError(f"distmat has shape {tuple(distmat.shape)} but there are {len(query)} queries and "
                        f"{len(gallery)} gallery images: pass the distances of these query and gallery lists")
    if len(query) == 0 or len(gallery) == 0:
        raise UserError("ranked lists need at least one query and one gallery image: check the dataset folders")
    for name, value in (("num_queries", num_queries), ("topk", topk)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise UserError(f"ranked lists: {name} must be a positive whole number, got {value!r}")
    if len(size) != 2 or any(int(s) < 1 for s in size):
        raise UserError(f"ranked lists: size must be (height, width) in pixels, got {size!r}")
    size = (int(size[0]), int(size[1]))
    rows = select_queries(len(query), int(num_queries))
    dist = distmat[torch.as_tensor(rows, device=distmat.device)].double().cpu().numpy()
    g_pids = np.asarray([pid for _, pid, _ in gallery])
    g_cams = np.asarray([cam for _, _, cam in gallery])

    right, bottom = cell_box(len(rows) - 1, topk, size)[2:]
    canvas = Image.new("RGB", (right + GAP, bottom + GAP), BACKGROUND)
    for row, (q_index, d) in enumerate(zip(rows, dist)):
        q_path, q_pid, q_cam = query[q_index]
        _paste(canvas, q_path, cell_box(row, 0, size), QUERY_FRAME, size)
        kept = np.nonzero(~((g_pids == q_pid) & (g_cams == q_cam)) | (not labelled))[0]
        ranked = kept[np.argsort(d[kept], kind="stable")][:topk]
        for col, g_index in enumerate(ranked, start=1):
            colour = UNLABELLED if not labelled else TRUE_MATCH if g_pids[g_index] == q_pid else FALSE_MATCH
            _paste(canvas, gallery[g_index][0], cell_box(row, col, size), colour, size)
    with atomic_path(path) as tmp:
        canvas.save(tmp, format="PNG")
    logger.info("ranked lists of %d queries written to %s", len(rows), path)
    return canvas.size
