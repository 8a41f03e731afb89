"""A dataset described by a CSV file (DATASETS.NAMES 'csv', DATASETS.ROOT_DIR = the CSV file).

The header row names the columns ``path,pid,camid,split`` (any order; other columns are ignored; ``camid``
may be left out). ``path`` is an image file, relative paths being resolved against the CSV's folder; ``pid``
an integer id (-1 marks junk and is dropped, as for Market-1501; 0 is an ordinary id); ``camid`` a
non-negative integer used as it is, every image camera 0 without the column (then evaluate with
TEST.CROSS_CAMERA 'no': under the Market-1501 rule one camera leaves no true match); ``split`` one of
train, query, gallery. Training pids are relabelled 0..N-1; query and gallery keep
theirs. Every named file must exist (checked with a stat, never read).
"""
import csv
import logging
import os

from ...utils.errors import UserError
from .bases import BaseImageDataset, relabel

logger = logging.getLogger(__name__)

COLUMNS = ("path", "pid", "camid", "split")
OPTIONAL = ("camid",)
SPLITS = ("train", "query", "gallery")


def _int(text):
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return None


class CSVDataset(BaseImageDataset):
    name = "csv"

    def __init__(self, root):
        path = os.path.expanduser(os.fspath(root))
        if os.path.isdir(path):
            raise UserError(f"dataset 'csv' needs DATASETS.ROOT_DIR to name the CSV file, but {path} is a folder; "
                            f"set DATASETS.ROOT_DIR to e.g. {os.path.join(path, 'dataset.csv')}")
        if not os.path.isfile(path):
            raise UserError(f"CSV dataset file {path} does not exist; set DATASETS.ROOT_DIR to a CSV file with "
                            f"the header path,pid,camid,split")
        self.dataset_dir = os.path.dirname(os.path.abspath(path))
        splits = {s: [] for s in SPLITS}
        junk = 0
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            names = [h.strip().lower() for h in header] if header else []
            missing = [c for c in COLUMNS if c not in names and c not in OPTIONAL]
            if missing:
                raise UserError(f"{path} line 1: the header must name the columns path,pid,split and optionally "
                                f"camid (missing {', '.join(missing)}; got {','.join(header or [])!r})")
            col = {c: names.index(c) for c in COLUMNS if c in names}
            for row in reader:
                lineno = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) < len(names):
                    raise UserError(f"{path} line {lineno}: expected {len(names)} columns, got {len(row)}")
                img, pid, camid, split = (row[col[c]].strip() if c in col else "0" for c in COLUMNS)
                where = f"{path} line {lineno}"
                if not img:
                    raise UserError(f"{where}: empty path")
                if _int(pid) is None or _int(pid) < -1:
                    raise UserError(f"{where}: pid {pid!r} is not an integer >= -1")
                if _int(camid) is None or _int(camid) < 0:
                    raise UserError(f"{where}: camid {camid!r} is not a non-negative integer")
                if split.lower() not in SPLITS:
                    raise UserError(f"{where}: split {split!r} is not one of train, query, gallery")
                full = img if os.path.isabs(img) else os.path.join(self.dataset_dir, img)
                if not os.path.isfile(full):
                    raise UserError(f"{where}: image {full} does not exist (relative paths are resolved "
                                    f"against the CSV's folder)")
                if _int(pid) == -1:
                    junk += 1
                    continue
                splits[split.lower()].append((full, _int(pid), _int(camid)))
        for s in SPLITS:
            if not splits[s]:
                raise UserError(f"{path} has no {s} rows (pid -1 rows are dropped); every split of "
                                f"train, query, gallery needs at least one image")
        if junk:
            logger.info("%s: dropped %d junk rows (pid -1)", path, junk)
        self._set_splits(relabel(splits["train"]), splits["query"], splits["gallery"])
