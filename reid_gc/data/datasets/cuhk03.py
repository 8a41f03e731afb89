"""CUHK03 in the new protocol of Zhong et al. (CUHK03-NP, CVPR 2017): 767 training and 700 test ids.

Layout: ``<ROOT_DIR>/cuhk03-np/labeled/`` and ``<ROOT_DIR>/cuhk03-np/detected/``, each holding
``bounding_box_train``, ``query`` and ``bounding_box_test`` with names like ``0003_c1_22.png`` (id,
camera of the pair, image index; .png or .jpg). 'cuhk03_labeled' reads the hand-drawn boxes,
'cuhk03_detected' the DPM detections. Camera ids become 0-based, training pids are relabelled 0..N-1.
"""
import os
import re

from .bases import BaseImageDataset, find_dataset_dir
from .market1501 import MARKET_SPLITS, load_market_layout

PATTERN = re.compile(r"^(-1|\d+)_c(\d)_\d+\.(?:png|jpg|jpeg)$", re.IGNORECASE)


class CUHK03NP(BaseImageDataset):
    kind = None  # 'labeled' or 'detected'
    FIX = ("download CUHK03-NP (github.com/zhunzhong07/person-re-ranking, CUHK03-NP) and unpack it so that "
           "DATASETS.ROOT_DIR/cuhk03-np/labeled and .../detected exist")

    def __init__(self, root):
        title = f"CUHK03-NP ({self.kind})"
        candidates = tuple(os.path.join(top, self.kind) for top in ("cuhk03-np", "cuhk03_np", "CUHK03-NP"))
        self.dataset_dir = find_dataset_dir(root, candidates, MARKET_SPLITS, title, self.FIX)
        self._set_splits(*load_market_layout(
            self.dataset_dir, title, PATTERN, "0003_c1_22.png", self.FIX, pid_range=(0, 9999), cam_range=(1, 9)))


class CUHK03Labeled(CUHK03NP):
    name = "cuhk03_labeled"
    kind = "labeled"


class CUHK03Detected(CUHK03NP):
    name = "cuhk03_detected"
    kind = "detected"
