"""The built-in synthetic dataset: layout and counts, determinism, atomic caching, difficulty."""
import hashlib
import json
import os
from collections import Counter, defaultdict

import numpy as np
import pytest
from fixtures_datasets import plain_map_cmc, raw_pixel_nn
from PIL import Image

from reid_gc.data.datasets import init_dataset, init_datasets, synthetic
from reid_gc.utils.errors import UserError

SMALL = dict(num_train_ids=4, num_test_ids=6, num_cameras=3, images_per_id=6, num_distractors=4, num_junk=3, seed=0)


def tree_hashes(folder):
    """{relative path: sha256} of every file under `folder`."""
    out = {}
    for dirpath, _, files in os.walk(folder):
        for f in files:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, folder)] = hashlib.sha256(fh.read()).hexdigest()
    return out


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    return init_dataset("synthetic", str(root), **SMALL), str(root)


def test_layout_and_counts(small):
    ds, root = small
    folder = os.path.join(root, "synthetic", synthetic.dataset_key(synthetic.resolve_params(SMALL)))
    assert ds.dataset_dir == folder
    splits = ("bounding_box_train", "query", "bounding_box_test")
    files = {s: sorted(os.listdir(os.path.join(folder, s))) for s in splits}
    # every identity has images_per_id images; test ids are split into query and gallery
    assert len(files["bounding_box_train"]) == 4 * 6
    assert len(files["query"]) + len(files["bounding_box_test"]) == 6 * 6 + 4 + 3
    assert sum(n.startswith("-1_") for n in files["bounding_box_test"]) == 3
    assert sum(n.startswith("0000_") for n in files["bounding_box_test"]) == 4
    # parsed: junk dropped, distractors kept, training ids relabelled, cameras 0-based
    assert (ds.num_train_pids, ds.num_train_imgs) == (4, 24)
    assert sorted({r[1] for r in ds.train}) == [0, 1, 2, 3]
    assert ds.num_query_pids == 6
    assert ds.num_gallery_pids == 7 and 0 in {r[1] for r in ds.gallery}
    assert ds.num_query_imgs + ds.num_gallery_imgs == 6 * 6 + 4
    assert {r[2] for r in ds.train + ds.query + ds.gallery} <= {0, 1, 2}
    # train and test ids are disjoint (in the original file names)
    train_ids = {n.split("_")[0] for n in files["bounding_box_train"]}
    test_ids = {n.split("_")[0] for n in files["query"]}
    assert not train_ids & test_ids and len(train_ids) == 4 and len(test_ids) == 6
    # Market-1501 file names, 128x64 JPEGs
    for n in files["bounding_box_train"][:3] + files["bounding_box_test"][:3]:
        with Image.open(os.path.join(folder, "bounding_box_train" if n in files["bounding_box_train"]
                                     else "bounding_box_test", n)) as im:
            assert im.format == "JPEG" and im.size == (64, 128) and im.mode == "RGB"


def test_query_protocol(small):
    ds, _ = small
    # one query per test id and camera it appears in; each test id in >= 2 cameras; every query has a
    # match in another camera in the gallery
    pairs = Counter((pid, cam) for _, pid, cam in ds.query)
    assert max(pairs.values()) == 1
    cams_of = defaultdict(set)
    for _, pid, cam in ds.query:
        cams_of[pid].add(cam)
    assert all(len(c) >= 2 for c in cams_of.values())
    gallery_cams = defaultdict(set)
    for _, pid, cam in ds.gallery:
        gallery_cams[pid].add(cam)
    for pid, cams in cams_of.items():
        assert gallery_cams[pid] == cams  # at least two images per camera: each camera also in the gallery
    train_cams = defaultdict(set)
    for _, pid, cam in ds.train:
        train_cams[pid].add(cam)
    assert all(len(c) >= 2 for c in train_cams.values())


def test_deterministic_and_seed_dependent(tmp_path, small):
    ds, root = small
    again = init_dataset("synthetic", str(tmp_path / "a"), **SMALL)
    assert tree_hashes(again.dataset_dir) == tree_hashes(ds.dataset_dir)
    other = init_dataset("synthetic", str(tmp_path / "b"), **dict(SMALL, seed=1))
    assert other.dataset_dir != again.dataset_dir
    h0, h1 = tree_hashes(again.dataset_dir), tree_hashes(other.dataset_dir)
    common = set(h0) & set(h1)
    assert set(h0) != set(h1) or any(h0[k] != h1[k] for k in common)
    assert sum(h0[k] == h1[k] for k in common if k.endswith(".jpg")) == 0


def test_cached_not_regenerated(small, monkeypatch):
    ds, root = small
    stamp = os.path.join(ds.dataset_dir, "params.json")
    before = os.stat(stamp).st_mtime_ns

    def boom(*a, **k):
        raise AssertionError("regenerated a cached dataset")

    monkeypatch.setattr(synthetic, "render_dataset", boom)
    again = init_datasets(("synthetic",), root, **SMALL)
    assert os.stat(stamp).st_mtime_ns == before
    assert again.train == ds.train and again.gallery == ds.gallery
    with open(stamp) as f:
        assert json.load(f)["params"] == synthetic.resolve_params(SMALL)


def test_leftover_temp_folder_is_ignored(tmp_path):
    params = dict(SMALL, num_train_ids=2, num_test_ids=2, num_distractors=0, num_junk=0)
    key = synthetic.dataset_key(synthetic.resolve_params(params))
    leftover = tmp_path / "synthetic" / f".tmp-{key}-12345-deadbeef"
    (leftover / "query").mkdir(parents=True)
    (leftover / "query" / "0001_c1s1_000001_01.jpg").write_bytes(b"half")
    ds = init_dataset("synthetic", str(tmp_path), **params)
    assert ds.dataset_dir == str(tmp_path / "synthetic" / key)
    assert ds.num_train_imgs == 2 * 6 and ds.num_query_imgs + ds.num_gallery_imgs == 2 * 6


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    params = dict(SMALL, num_train_ids=2, num_test_ids=2, num_distractors=0, num_junk=0)
    real = synthetic.render_dataset

    def interrupted(folder, p):
        os.makedirs(os.path.join(folder, "bounding_box_train"))
        open(os.path.join(folder, "bounding_box_train", "0001_c1s1_000001_01.jpg"), "wb").close()
        raise KeyboardInterrupt

    monkeypatch.setattr(synthetic, "render_dataset", interrupted)
    with pytest.raises(KeyboardInterrupt):
        init_dataset("synthetic", str(tmp_path), **params)
    assert os.listdir(tmp_path / "synthetic") == []
    monkeypatch.setattr(synthetic, "render_dataset", real)
    ds = init_dataset("synthetic", str(tmp_path), **params)
    assert ds.num_train_imgs == 12


def test_folder_without_stamp_is_refused(tmp_path):
    params = dict(SMALL, num_train_ids=2, num_test_ids=2)
    key = synthetic.dataset_key(synthetic.resolve_params(params))
    (tmp_path / "synthetic" / key).mkdir(parents=True)
    with pytest.raises(UserError) as e:
        init_dataset("synthetic", str(tmp_path), **params)
    assert "delete the folder" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("bad", [dict(num_cameras=1), dict(num_cameras=10), dict(images_per_id=3),
                                 dict(num_train_ids=0), dict(seed=-1), dict(num_junk=-2), dict(num_test_ids=2.5)])
def test_bad_parameters(tmp_path, bad):
    with pytest.raises(UserError) as e:
        init_dataset("synthetic", str(tmp_path), **dict(SMALL, **bad))
    assert "DATASETS.SYNTHETIC." in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "synthetic").exists()


def test_defaults_come_from_config():
    from reid_gc.config import get_defaults

    params = synthetic.resolve_params({})
    assert params == {k.lower(): v for k, v in get_defaults().DATASETS.SYNTHETIC.items()}


def test_plain_map_by_hand():
    # one query (id 1, camera 0); gallery ids [1 (cam 0: removed), 2, 1, 3, 1] at distances 0..4
    dist = np.array([[0.0, 1.0, 2.0, 3.0, 4.0]])
    m, r1 = plain_map_cmc(dist, np.array([1]), np.array([1, 2, 1, 3, 1]), np.array([0]), np.array([0, 1, 1, 1, 2]))
    # remaining ranking: 2, 1, 3, 1 -> hits at ranks 2 and 4: AP = (1/2 + 2/4) / 2
    assert m == pytest.approx(0.5) and r1 == 0.0


def test_raw_pixels_do_not_solve_it(tmp_path):
    """Camera and image nuisance must dominate raw pixels: nearest neighbour on 32x16 pixels stays weak,
    while the identities are far from random."""
    params = dict(num_train_ids=1, num_test_ids=40, num_cameras=6, images_per_id=10, num_distractors=20,
                  num_junk=0, seed=0)
    ds = init_dataset("synthetic", str(tmp_path), **params)
    m, r1 = raw_pixel_nn(ds)
    assert m < 0.35 and r1 < 0.5, (m, r1)
    # random ranking would give about (images per id - 1) / gallery size
    assert m > 2 * (params["images_per_id"] / ds.num_gallery_imgs), m
