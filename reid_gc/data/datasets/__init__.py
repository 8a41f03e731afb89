"""Dataset parsers: each turns a dataset on disk into lists of ``(img_path, pid, camid)`` records.

``DATASETS`` maps the names of DATASETS.NAMES to their classes. :func:`init_datasets` is what the data
pipeline calls; it returns one dataset, or the union of several (see :class:`CombinedDataset`).
"""
import logging

from ...utils.errors import UserError
from .bases import BaseImageDataset
from .combined import CombinedDataset
from .csv_list import CSVDataset
from .cuhk03 import CUHK03Detected, CUHK03Labeled
from .dukemtmcreid import DukeMTMCreID
from .market1501 import Market1501
from .msmt17 import MSMT17
from .synthetic import Synthetic
from .vehicleid import VehicleID
from .veri import VeRi

logger = logging.getLogger(__name__)

DATASETS = {
    "market1501": Market1501,
    "synthetic": Synthetic,
    "dukemtmc": DukeMTMCreID,
    "cuhk03_labeled": CUHK03Labeled,
    "cuhk03_detected": CUHK03Detected,
    "msmt17": MSMT17,
    "veri": VeRi,
    "csv": CSVDataset,
    "vehicleid": VehicleID,
}


def init_dataset(name, root, **kwargs):
    """The dataset `name` under `root`.

    Each dataset receives only the keyword arguments named in its ``OPTIONS`` (only 'synthetic' has any:
    the lowercased DATASETS.SYNTHETIC keys), so the pipeline can pass the same keywords whatever the
    names; a keyword that no dataset knows is a programming error (TypeError).
    """
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r} in DATASETS.NAMES: valid names are {', '.join(DATASETS)}")
    known = {opt for cls in DATASETS.values() for opt in cls.OPTIONS}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise TypeError(f"init_dataset() got unknown keyword arguments {unknown}; known: {sorted(known)}")
    cls = DATASETS[name]
    return cls(root, **{k: v for k, v in kwargs.items() if k in cls.OPTIONS})


def check_dataset_names(names, key="DATASETS.NAMES"):
    """A UserError naming `key` and the valid names when one of `names` is not a dataset."""
    for name in (names,) if isinstance(names, str) else names:
        if name not in DATASETS:
            raise UserError(f"unknown dataset {name!r} in {key}: valid names are {', '.join(DATASETS)}")


def init_datasets(names, root, **kwargs):
    """One name (a string or a 1-tuple) gives that dataset; several give their union (CombinedDataset)."""
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    if not names:
        raise UserError(f"DATASETS.NAMES is empty: name at least one of {', '.join(DATASETS)}")
    check_dataset_names(names)  # report an unknown name before any dataset is loaded (or generated)
    datasets = [init_dataset(name, root, **kwargs) for name in names]
    return datasets[0] if len(datasets) == 1 else CombinedDataset(datasets)


__all__ = ["DATASETS", "check_dataset_names", "init_dataset", "init_datasets", "BaseImageDataset", "CombinedDataset"]
