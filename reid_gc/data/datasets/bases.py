"""What every dataset parser shares: the record lists, their statistics, and Market-style folder scanning.

A dataset is three lists of records ``(img_path: str, pid: int, camid: int)``:

- ``train``: pids relabelled 0..N-1 (sorted by original id), camids 0-based;
- ``query`` and ``gallery``: original pids (0 = distractor where the dataset has them; junk, pid -1, is
  dropped by the parsers), camids 0-based.

Parsers never read image bytes: they look at file names (or list files) only.
"""
import logging
import os
import re

from ...utils.errors import UserError

logger = logging.getLogger(__name__)

def split_statistics(records):
    """(# distinct pids, # images, # distinct camids) of a list of records."""
    return len({r[1] for r in records}), len(records), len({r[2] for r in records})


def relabel(records):
    """The records with pids mapped to 0..N-1 in increasing order of the original pid."""
    mapping = {pid: label for label, pid in enumerate(sorted({r[1] for r in records}))}
    return [(path, mapping[pid], camid) for path, pid, camid in records]


class BaseImageDataset:
    """Base class: holds ``train``/``query``/``gallery`` and the ``num_*`` statistics.

    Subclasses build the three lists and call :meth:`_set_splits`. ``OPTIONS`` names the keyword
    arguments a dataset understands; :func:`reid_gc.data.datasets.init_dataset` passes it only those.
    """

    name = "dataset"
    OPTIONS = ()

    def _set_splits(self, train, query, gallery):
        self.train = list(train)
        self.query = list(query)
        self.gallery = list(gallery)
        for split in ("train", "query", "gallery"):
            pids, imgs, cams = split_statistics(getattr(self, split))
            setattr(self, f"num_{split}_pids", pids)
            setattr(self, f"num_{split}_imgs", imgs)
            setattr(self, f"num_{split}_cams", cams)

    @property
    def num_cameras(self):
        """One more than the largest camid of any split: the width of this dataset's camera id range."""
        camids = [r[2] for split in (self.train, self.query, self.gallery) for r in split]
        return max(camids) + 1 if camids else 0

    def statistics_table(self):
        """The usual table as a list of lines."""
        rule = "  " + "-" * 40
        lines = [f"=> {self.name} loaded", "Dataset statistics:", rule,
                 "  subset   | # ids | # images | # cameras", rule]
        for split in ("train", "query", "gallery"):
            pids = getattr(self, f"num_{split}_pids")
            imgs = getattr(self, f"num_{split}_imgs")
            cams = getattr(self, f"num_{split}_cams")
            lines.append(f"  {split:<8} | {pids:5d} | {imgs:8d} | {cams:9d}")
        lines.append(rule)
        return lines

    def log_statistics(self):
        for line in self.statistics_table():
            logger.info(line)

    def __repr__(self):
        return (f"<{type(self).__name__} {self.name}: train {self.num_train_pids} ids/{self.num_train_imgs} imgs, "
                f"query {self.num_query_pids}/{self.num_query_imgs}, "
                f"gallery {self.num_gallery_pids}/{self.num_gallery_imgs}>")


def describe_folder(path, limit=8):
    """A short human description of what is at `path`, for error messages."""
    if not os.path.exists(path):
        return f"{path} does not exist"
    if not os.path.isdir(path):
        return f"{path} is a file, not a folder"
    entries = sorted(os.listdir(path))
    if not entries:
        return f"{path} is empty"
    shown = ", ".join(e + ("/" if os.path.isdir(os.path.join(path, e)) else "") for e in entries[:limit])
    more = f" (+{len(entries) - limit} more)" if len(entries) > limit else ""
    return f"{path} holds {shown}{more}"


def find_dataset_dir(root, candidates, required, title, fix):
    """The first ``root/<candidate>`` holding every folder in `required`; else a one-line UserError.

    A candidate that exists but lacks some required folders is reported as incomplete.
    """
    root = os.path.expanduser(os.fspath(root))
    for cand in candidates:
        path = os.path.join(root, cand)
        if all(os.path.isdir(os.path.join(path, r)) for r in required):
            return path
    for cand in candidates:
        path = os.path.join(root, cand)
        if os.path.isdir(path):
            missing = [r for r in required if not os.path.isdir(os.path.join(path, r))]
            raise UserError(
                f"{title} at {path} is incomplete: missing {', '.join(m + '/' for m in missing)} "
                f"(expected {', '.join(r + '/' for r in required)}; {describe_folder(path)}); {fix}")
    expected = os.path.join(root, candidates[0], required[0])
    others = " or ".join(os.path.join(c, "...") for c in candidates[1:])
    alt = f" (or {others})" if others else ""
    raise UserError(f"{title} not found: expected {expected}{alt}; {describe_folder(root)}; {fix}")


def scan_split(folder, pattern, title, example, fix, pid_range, cam_range, drop_junk=True):
    """Records of the image files in `folder` whose names match `pattern` (groups: pid, camera).

    Files that do not match (Thumbs.db, readme ...) are skipped; a folder with no image at all, or with
    files of which none matches, raises a UserError. Camera ids become 0-based; pid -1 (junk) is dropped
    when `drop_junk`. Records come sorted by file name, so the order does not depend on the file system.
    """
    try:
        names = sorted(os.listdir(folder))
    except OSError as e:
        raise UserError(f"{title}: cannot list {folder} ({e.strerror}); {fix}") from None
    files = [n for n in names if os.path.isfile(os.path.join(folder, n))]
    if not files:
        raise UserError(f"{title} split {folder} is empty: expected images named like {example}; {fix}")
    records, skipped, junk = [], 0, 0
    for name in files:
        m = pattern.match(name)
        if m is None:
            skipped += 1
            continue
        pid, cam = int(m.group(1)), int(m.group(2))
        if pid == -1:
            junk += 1
            if drop_junk:
                continue
        elif not pid_range[0] <= pid <= pid_range[1]:
            raise UserError(f"{title}: id {pid} of {os.path.join(folder, name)} is outside "
                            f"{pid_range[0]}..{pid_range[1]}: is this folder really {title}? {fix}")
        if not cam_range[0] <= cam <= cam_range[1]:
            raise UserError(f"{title}: camera {cam} of {os.path.join(folder, name)} is outside "
                            f"{cam_range[0]}..{cam_range[1]}: is this folder really {title}? {fix}")
        records.append((os.path.join(folder, name), pid, cam - 1))
    if not records:
        if junk:
            raise UserError(f"{title} split {folder} holds only junk images (id -1); {fix}")
        raise UserError(f"{title} split {folder} has {len(files)} files but none named like {example}; {fix}")
    if skipped:
        logger.debug("%s: skipped %d files in %s not named like %s", title, skipped, folder, example)
    if junk and drop_junk:
        logger.debug("%s: dropped %d junk images (id -1) in %s", title, junk, folder)
    return records


def market_pattern(extensions=("jpg",)):
    """Regex for ``PPPP_cCsS_FFFFFF_NN.jpg`` (PPPP may be -1): groups pid, camera."""
    ext = "|".join(re.escape(e) for e in extensions)
    return re.compile(r"^(-1|\d+)_c(\d)s\d+_\d+_\d+\.(?:" + ext + r")$", re.IGNORECASE)
