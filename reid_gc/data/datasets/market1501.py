"""Market-1501 (Zheng et al., ICCV 2015): 1,501 ids, 6 cameras, names like ``0002_c1s1_000451_03.jpg``.

Layout: ``<ROOT_DIR>/market1501/`` (or ``Market-1501-v15.09.15/``) holding ``bounding_box_train``,
``query`` and ``bounding_box_test``. As in reid-strong-baseline: pid -1 (junk) is dropped everywhere,
pid 0 (distractors) is kept in the gallery, camera ids become 0-based and training pids are relabelled
0..N-1.
"""
import logging
import os

from .bases import BaseImageDataset, find_dataset_dir, market_pattern, relabel, scan_split

logger = logging.getLogger(__name__)

MARKET_SPLITS = ("bounding_box_train", "query", "bounding_box_test")


def load_market_layout(dataset_dir, title, pattern, example, fix, pid_range, cam_range):
    """(train, query, gallery) of a folder with Market-1501's three split folders."""
    splits = [scan_split(os.path.join(dataset_dir, s), pattern, title, example, fix, pid_range, cam_range)
              for s in MARKET_SPLITS]
    train, query, gallery = splits
    return relabel(train), query, gallery


class Market1501(BaseImageDataset):
    name = "market1501"
    CANDIDATES = ("market1501", "Market-1501-v15.09.15", os.path.join("market1501", "Market-1501-v15.09.15"))
    FIX = "download Market-1501-v15.09.15.zip and unpack it under DATASETS.ROOT_DIR"

    def __init__(self, root):
        self.dataset_dir = find_dataset_dir(root, self.CANDIDATES, MARKET_SPLITS, "Market-1501", self.FIX)
        self._set_splits(*load_market_layout(
            self.dataset_dir, "Market-1501", market_pattern(), "0002_c1s1_000451_03.jpg", self.FIX,
            pid_range=(0, 1501), cam_range=(1, 6)))
