"""DukeMTMC-reID (Zheng et al., ICCV 2017): 8 cameras, names like ``0001_c2_f0046182.jpg``.

Layout: ``<ROOT_DIR>/dukemtmc-reid/DukeMTMC-reID/`` holding ``bounding_box_train``, ``query`` and
``bounding_box_test``. Camera ids become 0-based, training pids are relabelled 0..N-1; the gallery's
distractor identities have ordinary ids and are kept.
"""
import os
import re

from .bases import BaseImageDataset, find_dataset_dir
from .market1501 import MARKET_SPLITS, load_market_layout

PATTERN = re.compile(r"^(-1|\d+)_c(\d)_f\d+\.(?:jpg|jpeg|png)$", re.IGNORECASE)


class DukeMTMCreID(BaseImageDataset):
    name = "dukemtmc"
    CANDIDATES = (os.path.join("dukemtmc-reid", "DukeMTMC-reID"), "DukeMTMC-reID")
    FIX = "download DukeMTMC-reID.zip and unpack it under DATASETS.ROOT_DIR/dukemtmc-reid"

    def __init__(self, root):
        self.dataset_dir = find_dataset_dir(root, self.CANDIDATES, MARKET_SPLITS, "DukeMTMC-reID", self.FIX)
        self._set_splits(*load_market_layout(
            self.dataset_dir, "DukeMTMC-reID", PATTERN, "0001_c2_f0046182.jpg", self.FIX,
            pid_range=(0, 9999), cam_range=(1, 8)))
