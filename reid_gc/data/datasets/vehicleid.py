"""VehicleID (Liu et al., CVPR 2016): 26,267 vehicles, no camera ids, splits given by list files.

Layout: ``<ROOT_DIR>/VehicleID_V1.0/`` (or ``vehicleid/``) holding ``image/<name>.jpg`` and
``train_test_split/train_list.txt`` and ``test_list_800.txt`` / ``test_list_1600.txt`` /
``test_list_2400.txt`` (DATASETS.VEHICLEID.TEST_SIZE picks one). Each list line is ``<image name> <vehicle
id>``, the name without its extension, e.g. ``0000004 0002`` for ``image/0000004.jpg``.

Standard protocol: the test list has no query/gallery split; each evaluation draws one random gallery image
per vehicle and uses the rest as queries, repeated over TEST.REPEATS seeded draws whose figures are
averaged. :func:`one_gallery_per_id` is that draw, a pure function of the (name, id) pairs and the seed
(not of their order). ``query``/``gallery`` hold draw 0. Evaluation is camera-free (every camid 0).
"""
import logging
import os

import numpy as np

from ...utils.errors import UserError
from .bases import BaseImageDataset, describe_folder, relabel

logger = logging.getLogger(__name__)

CANDIDATES = ("VehicleID_V1.0", "vehicleid", os.path.join("vehicleid", "VehicleID_V1.0"))
TEST_SIZES = (800, 1600, 2400)
FIX = "download VehicleID_V1.0 and unpack it under DATASETS.ROOT_DIR"


def one_gallery_per_id(pids, names, seed):
    """Boolean gallery mask: one image per id drawn with `seed`, the rest are queries. The draw depends only
    on the set of (name, id) pairs and the seed: the images are put in name order first."""
    pids = np.asarray(pids)
    canonical = np.argsort(np.asarray(names), kind="stable")
    order = canonical[np.random.default_rng(seed).permutation(len(pids))]
    _, first = np.unique(pids[order], return_index=True)
    gallery = np.zeros(len(pids), dtype=bool)
    gallery[order[first]] = True
    return gallery


def parse_list(path, image_dir):
    """Records (img_path, vehicle id, 0) of one list file, in file order."""
    records = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or not parts[1].isdigit():
                raise UserError(f"{path} line {lineno}: expected '<image name> <vehicle id>' like '0000004 0002', "
                                f"got {line.strip()!r}; {FIX}")
            name = parts[0] if os.path.splitext(parts[0])[1] else parts[0] + ".jpg"
            records.append((os.path.join(image_dir, name), int(parts[1]), 0))
    if not records:
        raise UserError(f"{path} lists no image; {FIX}")
    return records


class VehicleID(BaseImageDataset):
    name = "vehicleid"
    OPTIONS = ("test_size",)
    camera_free = True  # no camera ids: evaluated camera-free whatever TEST.CROSS_CAMERA says
    random_gallery = True  # query/gallery drawn per evaluation (one_gallery_per_id), TEST.REPEATS times

    def __init__(self, root, test_size=800):
        if test_size not in TEST_SIZES:
            raise UserError(f"DATASETS.VEHICLEID.TEST_SIZE is {test_size!r}; accepted values: "
                            f"{', '.join(map(str, TEST_SIZES))}")
        root = os.path.expanduser(os.fspath(root))
        found = [os.path.join(root, c) for c in CANDIDATES if os.path.isdir(os.path.join(root, c, "image"))]
        if not found:
            raise UserError(f"VehicleID not found: expected {os.path.join(root, CANDIDATES[0], 'image')}/ "
                            f"(or {CANDIDATES[1]}/image/); {describe_folder(root)}; {FIX}")
        self.dataset_dir = found[0]
        image_dir = os.path.join(self.dataset_dir, "image")
        split_dir = os.path.join(self.dataset_dir, "train_test_split")
        train_list = os.path.join(split_dir, "train_list.txt")
        test_list = os.path.join(split_dir, f"test_list_{test_size}.txt")
        for path in (train_list, test_list):
            if not os.path.isfile(path):
                raise UserError(f"VehicleID list file missing: expected {path} (DATASETS.VEHICLEID.TEST_SIZE "
                                f"{test_size}); {describe_folder(split_dir)}; {FIX}")
        train = parse_list(train_list, image_dir)
        test = parse_list(test_list, image_dir)
        self.test = test
        gallery = one_gallery_per_id([r[1] for r in test], [r[0] for r in test], seed=0)
        query = [r for r, g in zip(test, gallery) if not g]
        if not query:
            raise UserError(f"{test_list}: every vehicle has a single image, so no query is left; {FIX}")
        self._set_splits(relabel(train), query, [r for r, g in zip(test, gallery) if g])
