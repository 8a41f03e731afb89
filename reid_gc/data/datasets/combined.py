"""Several datasets trained and tested as one (DATASETS.NAMES with more than one name)."""
from .bases import BaseImageDataset


class CombinedDataset(BaseImageDataset):
    """The union of datasets, with ids and cameras shifted so that no two datasets share one.

    For dataset k (in the order given), with the sums taken over datasets 0..k-1:

    - training pids (already 0..N_j-1 in each) are offset by the total number of training ids, so the
      union's training pids are 0..N-1 again;
    - camids of every split are offset by the total camera range (largest camid + 1), so a camera of one
      dataset never matches a camera of another (the same-camera filter of the evaluation stays right);
    - query and gallery pids are offset by the total test id range (largest query/gallery pid + 1). This
      includes pid 0, the distractors of Market-1501-style galleries: dataset k's distractors become its
      offset, which no real id of another dataset can take (only dataset 0's distractors stay 0). Junk,
      pid -1 (parsers drop it, but a subclass may keep it), stays -1.
    """

    def __init__(self, datasets):
        self.datasets = list(datasets)
        self.name = "+".join(d.name for d in self.datasets)
        train, query, gallery = [], [], []
        pid_off = cam_off = test_off = 0
        for d in self.datasets:
            train += [(p, pid + pid_off, cam + cam_off) for p, pid, cam in d.train]

            def shift(records):
                return [(p, pid if pid == -1 else pid + test_off, cam + cam_off) for p, pid, cam in records]

            query += shift(d.query)
            gallery += shift(d.gallery)
            pid_off += d.num_train_pids
            cam_off += d.num_cameras
            test_off += max([pid for _, pid, _ in d.query + d.gallery] + [-1]) + 1
        self._set_splits(train, query, gallery)
