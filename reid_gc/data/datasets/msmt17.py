"""MSMT17 (Wei et al., CVPR 2018): 4,101 ids, 15 cameras, splits given by list files.

Layout: ``<ROOT_DIR>/msmt17/MSMT17_V1/`` (or ``MSMT17_V2``; the ``msmt17/`` level may be left out) holding
the image folders ``train/`` and ``test/`` (V2: ``mask_train_v2/`` and ``mask_test_v2/``) and the lists
``list_train.txt``, ``list_val.txt``, ``list_query.txt``, ``list_gallery.txt``. Each list line is
``<id folder>/<file> <pid>``, e.g. ``0000/0000_000_01_0303morning_0015_0.jpg 0``, whose file name's third
field is the camera (01..15). Train and val (both drawn from the training folder, one id space) are merged
and relabelled 0..N-1; query and gallery keep the listed pids; camera ids become 0-based.
"""
import logging
import os

from ...utils.errors import UserError
from .bases import BaseImageDataset, describe_folder, relabel

logger = logging.getLogger(__name__)

VERSIONS = ("MSMT17_V1", "MSMT17_V2")
IMAGE_DIRS = {"MSMT17_V1": ("train", "test"), "MSMT17_V2": ("mask_train_v2", "mask_test_v2")}
LISTS = ("list_train.txt", "list_val.txt", "list_query.txt", "list_gallery.txt")
EXAMPLE = "0000/0000_000_01_0303morning_0015_0.jpg 0"
FIX = "download MSMT17 and unpack it so that DATASETS.ROOT_DIR/msmt17/MSMT17_V1 (or MSMT17_V2) exists"


def _find_version_dir(root):
    candidates = [os.path.join(root, "msmt17", v) for v in VERSIONS] + [os.path.join(root, v) for v in VERSIONS]
    for path in candidates:
        if os.path.isdir(path):
            return path
    top = os.path.join(root, "msmt17")
    found = describe_folder(top) if os.path.isdir(top) else describe_folder(root)
    raise UserError(f"MSMT17 not found: expected {candidates[0]} (or {candidates[1]}); {found}; {FIX}")


def _image_dirs(version_dir):
    """(train folder, test folder) of a version folder, whichever naming it uses."""
    name = os.path.basename(version_dir)
    preferred = IMAGE_DIRS.get(name, IMAGE_DIRS["MSMT17_V1"])
    for pair in (preferred,) + tuple(p for p in IMAGE_DIRS.values() if p != preferred):
        if all(os.path.isdir(os.path.join(version_dir, d)) for d in pair):
            return tuple(os.path.join(version_dir, d) for d in pair)
    missing = [d for d in preferred if not os.path.isdir(os.path.join(version_dir, d))]
    raise UserError(f"MSMT17 at {version_dir} is incomplete: missing image folder "
                    f"{', '.join(os.path.join(version_dir, m) + '/' for m in missing)}; "
                    f"{describe_folder(version_dir)}; {FIX}")


def parse_list(list_path, image_dir):
    """Records of one list file; camid from the file name's third field, made 0-based."""
    if not os.path.isfile(list_path):
        raise UserError(f"MSMT17 list file missing: expected {list_path}; "
                        f"{describe_folder(os.path.dirname(list_path))}; {FIX}")
    records = []
    name = os.path.basename(list_path)
    with open(list_path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.split()
            fields = os.path.basename(parts[0]).split("_")
            problem = None
            if len(parts) != 2:
                problem = f"expected 2 fields, got {len(parts)}"
            elif not parts[1].lstrip("-").isdigit() or int(parts[1]) < 0:
                problem = f"pid {parts[1]!r} is not a non-negative integer"
            elif len(fields) < 3 or not fields[2].isdigit() or not 1 <= int(fields[2]) <= 15:
                problem = "the file name's third '_' field is not a camera 01..15"
            if problem:
                raise UserError(f"MSMT17 {list_path} line {lineno}: {problem} in {line[:80]!r}; "
                                f"lines look like '{EXAMPLE}'")
            records.append((os.path.join(image_dir, parts[0]), int(parts[1]), int(fields[2]) - 1))
    if not records:
        raise UserError(f"MSMT17 list file {list_path} is empty; {FIX}")
    if not os.path.isfile(records[0][0]):
        raise UserError(f"MSMT17 {name} line 1 names {records[0][0]}, which does not exist: "
                        f"are the images unpacked into {image_dir}? {FIX}")
    return records


class MSMT17(BaseImageDataset):
    name = "msmt17"

    def __init__(self, root):
        root = os.path.expanduser(os.fspath(root))
        self.dataset_dir = _find_version_dir(root)
        train_dir, test_dir = _image_dirs(self.dataset_dir)
        lists = {n: os.path.join(self.dataset_dir, n) for n in LISTS}
        train = parse_list(lists["list_train.txt"], train_dir)
        val = parse_list(lists["list_val.txt"], train_dir)
        query = parse_list(lists["list_query.txt"], test_dir)
        gallery = parse_list(lists["list_gallery.txt"], test_dir)
        self._set_splits(relabel(train + val), query, gallery)
