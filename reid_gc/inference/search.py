"""Search a folder of crops with query images: ranked gallery files and distances.

The gallery's features are cached beside the folder (`.<folder>.reid_gc_features.pt`), keyed by the
model (checkpoint path, size and modification time, and the config keys that shape features) and by
each file's (name, size, modification time): a second search computes only the queries' features and
the files added or changed since.
"""
import hashlib
import json
import logging
import os

import torch

from ..evaluation.distance import compute_distance
from ..utils.atomic import atomic_path
from ..utils.errors import UserError
from ..utils.weights import safe_load
from .extract import list_images

logger = logging.getLogger(__name__)

CACHE_VERSION = 1
# Config keys that change a feature (besides the weights): a change invalidates the cache.
FEATURE_KEYS = ("MODEL.NAME", "INPUT.SIZE_TEST", "INPUT.PIXEL_MEAN", "INPUT.PIXEL_STD", "TEST.NECK_FEAT",
                "TEST.FLIP_FEAT", "TEST.FEAT_NORM")


def cache_path(folder):
    folder = os.path.abspath(folder)
    return os.path.join(os.path.dirname(folder), f".{os.path.basename(folder)}.reid_gc_features.pt")


def model_key(cfg, weights):
    """A digest of what determines the features: the checkpoint file's identity and the feature keys."""
    st = os.stat(weights)
    parts = {"weights": os.path.abspath(weights), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    for key in FEATURE_KEYS:
        section, leaf = key.split(".")
        value = cfg[section][leaf]
        parts[key] = list(value) if isinstance(value, (list, tuple)) else value
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _file_stamps(folder, names):
    stamps = []
    for name in names:
        st = os.stat(os.path.join(folder, name))
        stamps.append([st.st_size, st.st_mtime_ns])
    return stamps


def _read_cache(path, key):
    if not os.path.isfile(path):
        return None
    try:
        cache = safe_load(path, what="gallery cache")
    except UserError as e:
        logger.warning("%s; computing the gallery features again", e)
        return None
    if not isinstance(cache, dict) or cache.get("version") != CACHE_VERSION or cache.get("model") != key:
        logger.info("gallery cache %s is for another model or version: computing the features again", path)
        return None
    return cache


def gallery_features(extractor, folder, weights, use_cache=True):
    """(names, features) of every image under `folder`, through the cache beside it."""
    names = list_images(folder, flag="--gallery")
    stamps = _file_stamps(folder, names)
    path = cache_path(folder)
    key = model_key(extractor.cfg, weights)
    cache = _read_cache(path, key) if use_cache else None
    known = {}
    if cache is not None:
        for i, (name, stamp) in enumerate(zip(cache["names"], cache["stamps"])):
            known[name] = (list(stamp), i)
    todo = [i for i, (n, s) in enumerate(zip(names, stamps)) if n not in known or known[n][0] != s]
    feats = None
    if todo:
        logger.info("computing the features of %d of %d gallery images", len(todo), len(names))
        new = extractor([os.path.join(folder, names[i]) for i in todo])
        feats = torch.empty(len(names), new.shape[1], dtype=new.dtype)
        feats[todo] = new
    computed = set(todo)
    reuse = [i for i in range(len(names)) if i not in computed]
    if reuse:
        old = cache["features"]
        if feats is None:
            feats = torch.empty(len(names), old.shape[1], dtype=old.dtype)
        feats[reuse] = old[[known[names[i]][1] for i in reuse]]
        logger.info("reused the cached features of %d gallery images (%s)", len(reuse), path)
    if use_cache and (todo or len(names) != len(cache["names"])):
        try:
            with atomic_path(path) as tmp:
                torch.save({"version": CACHE_VERSION, "model": key, "names": names, "stamps": stamps,
                            "features": feats}, tmp)
        except OSError as e:
            logger.warning("could not write the gallery cache %s (%s): the next search computes it again", path,
                           e.strerror or e)
    return names, feats


def search(extractor, weights, queries, gallery, topk=10, use_cache=True):
    """(names, distmat, order): the gallery's file names, the query x gallery distances (TEST.DISTANCE)
    and, per query, the indices of its `topk` nearest gallery images (ties to the lower index)."""
    if isinstance(topk, bool) or not isinstance(topk, int) or topk < 1:
        raise UserError(f"--topk must be a positive whole number, got {topk!r}")
    if not queries:
        raise UserError("no query image: give --query with an image file (repeat it for several)")
    names, gf = gallery_features(extractor, gallery, weights, use_cache)
    qf = extractor(list(queries))
    distmat = compute_distance(qf, gf, metric=extractor.cfg.TEST.DISTANCE)
    order = torch.sort(distmat, dim=1, stable=True).indices[:, :topk]
    return names, distmat, order
