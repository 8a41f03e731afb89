"""Loader workers never outnumber the cores (issue 11: tools/extract.py started 8 workers on 2 cores)."""
import os

import pytest

from reid_gc.config import load_config
from reid_gc.data.build import loader_workers


def test_loader_workers_are_capped_at_the_cpu_count(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert loader_workers(load_config("configs/softmax_triplet.yml")) == 2  # the config asks for 8
    assert loader_workers(load_config("", ["DATALOADER.NUM_WORKERS", "1"])) == 1
    assert loader_workers(load_config("", ["DATALOADER.NUM_WORKERS", "0"])) == 0


def test_extract_folder_uses_the_capped_count(monkeypatch, tmp_path):
    import numpy as np
    from PIL import Image

    import reid_gc.inference.extract as extract

    Image.fromarray(np.zeros((8, 4, 3), np.uint8)).save(tmp_path / "a.png")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    seen = {}

    class Stop(Exception):
        pass

    def loader(*args, num_workers=0, **kwargs):
        seen["workers"] = num_workers
        raise Stop

    monkeypatch.setattr(extract, "DataLoader", loader)
    with pytest.raises(Stop):
        extract.extract_folder(load_config("configs/softmax_triplet.yml"), None, None, str(tmp_path))
    assert seen["workers"] == 2
