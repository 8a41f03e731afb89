"""VeRi-776 (Liu et al., ICME 2016): vehicles, 20 cameras, names like ``0001_c001_00016450_0.jpg``.

Layout: ``<ROOT_DIR>/veri/`` (or ``VeRi/``, the name its archive unpacks to) holding ``image_train``,
``image_query`` and ``image_test``: 576 ids / 37,778 images for training, 200 / 1,678 queries and
200 / 11,579 gallery images. As reid-strong-baseline reads it: ids 0..776, cameras 1..20 made 0-based,
training ids relabelled 0..N-1, id -1 dropped; evaluation follows the Market-1501 protocol (same id and
camera removed from each query's gallery).
"""
import os
import re

from .bases import BaseImageDataset, find_dataset_dir, relabel, scan_split

PATTERN = re.compile(r"^(-1|\d+)_c(\d+)_\d+_\d+\.jpg$", re.IGNORECASE)
SPLITS = ("image_train", "image_query", "image_test")


class VeRi(BaseImageDataset):
    name = "veri"
    CANDIDATES = ("veri", "VeRi")
    FIX = "download VeRi-776 (VeRi.zip) and unpack it as DATASETS.ROOT_DIR/veri"

    def __init__(self, root):
        self.dataset_dir = find_dataset_dir(root, self.CANDIDATES, SPLITS, "VeRi-776", self.FIX)
        train, query, gallery = (
            scan_split(os.path.join(self.dataset_dir, split), PATTERN, "VeRi-776", "0001_c001_00016450_0.jpg",
                       self.FIX, pid_range=(0, 776), cam_range=(1, 20))
            for split in SPLITS)
        self._set_splits(relabel(train), query, gallery)
