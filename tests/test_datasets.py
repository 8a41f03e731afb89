"""Dataset parsers on small trees laid out and named like the real datasets (blank files; counts by hand)."""
import os

import pytest
from fixtures_datasets import make_files

from reid_gc.data.datasets import DATASETS, init_dataset, init_datasets
from reid_gc.data.datasets.combined import CombinedDataset
from reid_gc.data.datasets.market1501 import Market1501
from reid_gc.utils.errors import UserError


def stats(ds):
    return {s: (getattr(ds, f"num_{s}_pids"), getattr(ds, f"num_{s}_imgs"), getattr(ds, f"num_{s}_cams"))
            for s in ("train", "query", "gallery")}


def names(records):
    return sorted(os.path.basename(r[0]) for r in records)


def one_line_error(excinfo, *needles):
    msg = str(excinfo.value)
    assert "\n" not in msg, msg
    for n in needles:
        assert n in msg, f"{n!r} not in {msg!r}"
    return msg


# --------------------------------------------------------------------------------------------- Market

MARKET_TRAIN = ["0002_c1s1_000451_03.jpg", "0002_c2s1_000301_01.jpg", "0007_c3s3_077419_03.jpg",
                "0007_c6s4_002202_01.jpg", "0010_c1s1_000501_01.jpg", "-1_c1s1_000401_03.jpg", "Thumbs.db"]
MARKET_QUERY = ["0001_c1s1_001051_00.jpg", "0001_c2s1_000301_00.jpg", "0003_c1s1_000001_00.jpg"]
MARKET_TEST = ["0001_c3s1_000551_01.jpg", "0001_c4s2_000151_02.jpg", "0003_c5s3_015240_04.jpg",
               "0000_c1s1_000000_01.jpg", "0000_c6s1_000010_02.jpg", "-1_c1s1_000010_01.jpg",
               "-1_c3s1_000020_01.jpg"]


def make_market(root, top="market1501"):
    base = os.path.join(root, top)
    make_files(os.path.join(base, "bounding_box_train"), MARKET_TRAIN)
    make_files(os.path.join(base, "query"), MARKET_QUERY)
    make_files(os.path.join(base, "bounding_box_test"), MARKET_TEST)
    return base


def test_market_counts_relabel_and_cameras(tmp_path):
    make_market(tmp_path)
    ds = init_dataset("market1501", str(tmp_path))
    # train: ids 2, 7, 10 (junk and Thumbs.db skipped); cameras 1, 2, 3, 6
    # query: ids 1, 3; cameras 1, 2.  gallery: ids 0 (distractors), 1, 3, junk dropped; cameras 1, 3, 4, 5, 6
    assert stats(ds) == {"train": (3, 5, 4), "query": (2, 3, 2), "gallery": (3, 5, 5)}
    assert sorted({r[1] for r in ds.train}) == [0, 1, 2]
    assert dict((os.path.basename(p), (pid, cam)) for p, pid, cam in ds.train) == {
        "0002_c1s1_000451_03.jpg": (0, 0), "0002_c2s1_000301_01.jpg": (0, 1), "0007_c3s3_077419_03.jpg": (1, 2),
        "0007_c6s4_002202_01.jpg": (1, 5), "0010_c1s1_000501_01.jpg": (2, 0)}
    assert sorted((pid, cam) for _, pid, cam in ds.query) == [(1, 0), (1, 1), (3, 0)]
    assert sorted((pid, cam) for _, pid, cam in ds.gallery) == [(0, 0), (0, 5), (1, 2), (1, 3), (3, 4)]
    assert all(-1 not in (r[1],) for r in ds.train + ds.query + ds.gallery)
    assert all(os.path.isfile(r[0]) for r in ds.train + ds.query + ds.gallery)


def test_market_alternative_folder_name_and_statistics_log(tmp_path, caplog):
    make_market(tmp_path, top="Market-1501-v15.09.15")
    ds = init_datasets(("market1501",), str(tmp_path))
    assert isinstance(ds, Market1501) and ds.num_train_imgs == 5
    with caplog.at_level("INFO"):
        ds.log_statistics()
    text = caplog.text
    assert "subset   | # ids | # images | # cameras" in text
    assert "train    |     3 |        5 |         4" in text
    assert "gallery  |     3 |        5 |         5" in text


def test_market_missing_dataset(tmp_path):
    (tmp_path / "something_else").mkdir()
    with pytest.raises(UserError) as e:
        init_dataset("market1501", str(tmp_path))
    one_line_error(e, "Market-1501 not found", os.path.join("market1501", "bounding_box_train"),
                   "something_else/", "DATASETS.ROOT_DIR")


def test_market_incomplete(tmp_path):
    base = make_market(tmp_path)
    os.rename(os.path.join(base, "query"), os.path.join(base, "queries"))
    with pytest.raises(UserError) as e:
        init_dataset("market1501", str(tmp_path))
    one_line_error(e, "incomplete", "missing query/", "queries/")


def test_market_empty_split(tmp_path):
    base = make_market(tmp_path)
    for n in MARKET_QUERY:
        os.remove(os.path.join(base, "query", n))
    with pytest.raises(UserError) as e:
        init_dataset("market1501", str(tmp_path))
    one_line_error(e, "empty", os.path.join(base, "query"), "0002_c1s1_000451_03.jpg")


def test_market_split_without_matching_names(tmp_path):
    base = make_market(tmp_path)
    for n in MARKET_QUERY:
        os.remove(os.path.join(base, "query", n))
    make_files(os.path.join(base, "query"), ["Thumbs.db", "readme.txt", "person1.jpg"])
    with pytest.raises(UserError) as e:
        init_dataset("market1501", str(tmp_path))
    one_line_error(e, "3 files but none named like", os.path.join(base, "query"))


@pytest.mark.parametrize("bad", ["1502_c1s1_000001_01.jpg", "0005_c7s1_000001_01.jpg"])
def test_market_out_of_range_id_or_camera(tmp_path, bad):
    base = make_market(tmp_path)
    make_files(os.path.join(base, "bounding_box_test"), [bad])
    with pytest.raises(UserError) as e:
        init_dataset("market1501", str(tmp_path))
    one_line_error(e, bad)


# ----------------------------------------------------------------------------------------------- Duke


def make_duke(root):
    base = os.path.join(root, "dukemtmc-reid", "DukeMTMC-reID")
    make_files(os.path.join(base, "bounding_box_train"),
               ["0001_c2_f0046182.jpg", "0001_c8_f0000001.jpg", "0005_c5_f0010000.jpg", "0005_c6_f0010050.jpg"])
    make_files(os.path.join(base, "query"), ["0003_c1_f0000010.jpg", "0004_c2_f0000011.jpg"])
    make_files(os.path.join(base, "bounding_box_test"),
               ["0003_c7_f0000100.jpg", "0004_c3_f0000101.jpg", "7140_c8_f0000200.jpg", "CONTENTS.txt"])
    return base


def test_duke_counts(tmp_path):
    make_duke(tmp_path)
    ds = init_dataset("dukemtmc", str(tmp_path))
    assert stats(ds) == {"train": (2, 4, 4), "query": (2, 2, 2), "gallery": (3, 3, 3)}
    assert sorted((pid, cam) for _, pid, cam in ds.train) == [(0, 1), (0, 7), (1, 4), (1, 5)]
    assert sorted((pid, cam) for _, pid, cam in ds.gallery) == [(3, 6), (4, 2), (7140, 7)]


def test_duke_missing(tmp_path):
    with pytest.raises(UserError) as e:
        init_dataset("dukemtmc", str(tmp_path / "nowhere"))
    one_line_error(e, "DukeMTMC-reID not found", "does not exist",
                   os.path.join("dukemtmc-reid", "DukeMTMC-reID", "bounding_box_train"))


# -------------------------------------------------------------------------------------------- CUHK03


def make_cuhk03(root):
    base = os.path.join(root, "cuhk03-np")
    make_files(os.path.join(base, "labeled", "bounding_box_train"), ["0001_c1_1.png", "0001_c2_6.png", "0002_c1_1.png"])
    make_files(os.path.join(base, "labeled", "query"), ["0003_c1_22.png", "0003_c2_27.png"])
    make_files(os.path.join(base, "labeled", "bounding_box_test"),
               ["0003_c1_21.jpg", "0003_c2_28.png", "0004_c2_3.png"])
    make_files(os.path.join(base, "detected", "bounding_box_train"), ["0001_c1_1.png", "0001_c2_6.png"])
    make_files(os.path.join(base, "detected", "query"), ["0003_c1_22.png"])
    make_files(os.path.join(base, "detected", "bounding_box_test"), ["0003_c2_21.png", "0005_c1_2.png"])


def test_cuhk03_labeled_and_detected(tmp_path):
    make_cuhk03(tmp_path)
    lab = init_dataset("cuhk03_labeled", str(tmp_path))
    det = init_dataset("cuhk03_detected", str(tmp_path))
    assert stats(lab) == {"train": (2, 3, 2), "query": (1, 2, 2), "gallery": (2, 3, 2)}
    assert stats(det) == {"train": (1, 2, 2), "query": (1, 1, 1), "gallery": (2, 2, 2)}
    assert sorted((pid, cam) for _, pid, cam in lab.train) == [(0, 0), (0, 1), (1, 0)]
    assert all("labeled" in p for p, _, _ in lab.train + lab.query + lab.gallery)
    assert all("detected" in p for p, _, _ in det.train + det.query + det.gallery)


def test_cuhk03_missing_detected(tmp_path):
    make_files(os.path.join(tmp_path, "cuhk03-np", "labeled", "query"), ["0003_c1_22.png"])
    with pytest.raises(UserError) as e:
        init_dataset("cuhk03_detected", str(tmp_path))
    one_line_error(e, "CUHK03-NP (detected) not found", os.path.join("cuhk03-np", "detected", "bounding_box_train"))


# -------------------------------------------------------------------------------------------- MSMT17


def make_msmt(root, version="MSMT17_V1", nested=True):
    base = os.path.join(root, "msmt17", version) if nested else os.path.join(root, version)
    train_dir, test_dir = ("train", "test") if version == "MSMT17_V1" else ("mask_train_v2", "mask_test_v2")
    lists = {
        "list_train.txt": (train_dir, [("0000/0000_000_01_0303morning_0015_0.jpg", 0),
                                       ("0000/0000_001_05_0303morning_0020_1.jpg", 0),
                                       ("0005/0005_000_15_0113noon_0101_0.jpg", 5)]),
        "list_val.txt": (train_dir, [("0003/0003_000_02_0302afternoon_0042_0.jpg", 3)]),
        "list_query.txt": (test_dir, [("0000/0000_000_07_0114morning_0005_0.jpg", 0)]),
        "list_gallery.txt": (test_dir, [("0000/0000_003_08_0114noon_0107_2.jpg", 0),
                                        ("0001/0001_000_03_0114noon_0001_0.jpg", 1)]),
    }
    for list_name, (folder, entries) in lists.items():
        for rel, _ in entries:
            make_files(os.path.join(base, folder, os.path.dirname(rel)), [os.path.basename(rel)])
        with open(os.path.join(base, list_name), "w") as f:
            f.write("".join(f"{rel} {pid}\n" for rel, pid in entries))
    return base


@pytest.mark.parametrize("version,nested", [("MSMT17_V1", True), ("MSMT17_V2", True), ("MSMT17_V1", False)])
def test_msmt17_counts(tmp_path, version, nested):
    make_msmt(tmp_path, version, nested)
    ds = init_dataset("msmt17", str(tmp_path))
    # train + val merged: ids 0, 3, 5 -> 0, 1, 2; cameras 01, 05, 15, 02
    assert stats(ds) == {"train": (3, 4, 4), "query": (1, 1, 1), "gallery": (2, 2, 2)}
    assert sorted((pid, cam) for _, pid, cam in ds.train) == [(0, 0), (0, 4), (1, 1), (2, 14)]
    assert sorted((pid, cam) for _, pid, cam in ds.query) == [(0, 6)]
    assert sorted((pid, cam) for _, pid, cam in ds.gallery) == [(0, 7), (1, 2)]
    assert all(os.path.isfile(p) for p, _, _ in ds.train + ds.query + ds.gallery)


def test_msmt17_missing_list_file(tmp_path):
    base = make_msmt(tmp_path)
    os.remove(os.path.join(base, "list_val.txt"))
    with pytest.raises(UserError) as e:
        init_dataset("msmt17", str(tmp_path))
    one_line_error(e, "list file missing", os.path.join(base, "list_val.txt"))


def test_msmt17_missing_image_folder(tmp_path):
    base = make_msmt(tmp_path)
    os.rename(os.path.join(base, "test"), os.path.join(base, "testing"))
    with pytest.raises(UserError) as e:
        init_dataset("msmt17", str(tmp_path))
    one_line_error(e, "missing image folder", os.path.join(base, "test") + "/")


def test_msmt17_malformed_line(tmp_path):
    base = make_msmt(tmp_path)
    with open(os.path.join(base, "list_query.txt"), "a") as f:
        f.write("0002/0002_000_xx_0114morning_0005_0.jpg 2\n")
    with pytest.raises(UserError) as e:
        init_dataset("msmt17", str(tmp_path))
    one_line_error(e, "list_query.txt line 2", "camera")


def test_msmt17_not_found(tmp_path):
    with pytest.raises(UserError) as e:
        init_dataset("msmt17", str(tmp_path))
    one_line_error(e, "MSMT17 not found", os.path.join("msmt17", "MSMT17_V1"))


# ----------------------------------------------------------------------------------------------- CSV


def write_csv(tmp_path, rows, header="path,pid,camid,split"):
    make_files(os.path.join(tmp_path, "imgs"), [f"{i}.jpg" for i in range(10)])
    path = tmp_path / "data.csv"
    path.write_text("\n".join([header] + rows) + "\n")
    return str(path)


GOOD_ROWS = ["imgs/0.jpg,17,0,train", "imgs/1.jpg,17,1,train", "imgs/2.jpg,4,0,train", "imgs/3.jpg,9,2,query",
             "imgs/4.jpg,9,1,gallery", "imgs/5.jpg,0,1,gallery", "imgs/6.jpg,-1,0,gallery", "",
             "imgs/7.jpg,12,3,gallery"]


def test_csv_counts(tmp_path):
    path = write_csv(tmp_path, GOOD_ROWS)
    ds = init_dataset("csv", path)
    assert stats(ds) == {"train": (2, 3, 2), "query": (1, 1, 1), "gallery": (3, 3, 2)}
    assert sorted((os.path.basename(p), pid, cam) for p, pid, cam in ds.train) == [
        ("0.jpg", 1, 0), ("1.jpg", 1, 1), ("2.jpg", 0, 0)]
    assert all(os.path.isabs(p) and os.path.isfile(p) for p, _, _ in ds.train + ds.query + ds.gallery)


def test_csv_columns_in_any_order(tmp_path):
    rows = ["train,17,0,imgs/0.jpg", "query,9,2,imgs/3.jpg", "gallery,9,1,imgs/4.jpg"]
    ds = init_dataset("csv", write_csv(tmp_path, rows, header="split,pid,camid,path"))
    assert stats(ds) == {"train": (1, 1, 1), "query": (1, 1, 1), "gallery": (1, 1, 1)}


@pytest.mark.parametrize("rows,header,needles", [
    (GOOD_ROWS, "file,id,cam,subset", ("line 1", "header")),
    (GOOD_ROWS[:2] + ["imgs/2.jpg,abc,0,train"] + GOOD_ROWS[3:], "path,pid,camid,split", ("line 4", "pid 'abc'")),
    (GOOD_ROWS[:3] + ["imgs/3.jpg,9,2,test"] + GOOD_ROWS[4:], "path,pid,camid,split", ("line 5", "split 'test'")),
    (GOOD_ROWS[:1] + ["imgs/1.jpg,17,-3,train"] + GOOD_ROWS[2:], "path,pid,camid,split", ("line 3", "camid")),
    (GOOD_ROWS[:1] + ["imgs/1.jpg,17"] + GOOD_ROWS[2:], "path,pid,camid,split", ("line 3", "columns")),
    (GOOD_ROWS[:1] + ["imgs/missing.jpg,17,1,train"] + GOOD_ROWS[2:], "path,pid,camid,split",
     ("line 3", "missing.jpg", "does not exist")),
    ([r for r in GOOD_ROWS if "query" not in r], "path,pid,camid,split", ("no query rows",)),
])
def test_csv_malformed(tmp_path, rows, header, needles):
    path = write_csv(tmp_path, rows, header=header)
    with pytest.raises(UserError) as e:
        init_dataset("csv", path)
    one_line_error(e, *needles)


def test_csv_root_must_be_a_file(tmp_path):
    with pytest.raises(UserError) as e:
        init_dataset("csv", str(tmp_path))
    one_line_error(e, "is a folder", "DATASETS.ROOT_DIR")
    with pytest.raises(UserError) as e:
        init_dataset("csv", str(tmp_path / "nope.csv"))
    one_line_error(e, "does not exist")


# -------------------------------------------------------------------------------------------- VeRi-776

VERI_TRAIN = ["0001_c001_00016450_0.jpg", "0001_c002_00017210_1.jpg", "0001_c001_00016460_0.jpg",
              "0004_c019_00088495_0.jpg", "0776_c020_00003120_1.jpg", "0776_c013_00003200_1.jpg"]
VERI_QUERY = ["0002_c002_00030600_0.jpg", "0010_c016_00032155_1.jpg"]
VERI_TEST = ["0002_c003_00030610_0.jpg", "0002_c002_00030620_0.jpg", "0010_c005_00031855_1.jpg",
             "0012_c010_00040505_0.jpg", "Thumbs.db"]


def make_veri(root, top="veri"):
    base = os.path.join(root, top)
    make_files(os.path.join(base, "image_train"), VERI_TRAIN)
    make_files(os.path.join(base, "image_query"), VERI_QUERY)
    make_files(os.path.join(base, "image_test"), VERI_TEST)
    with open(os.path.join(base, "name_query.txt"), "w") as f:  # the list files of the real archive
        f.write("\n".join(VERI_QUERY))
    return base


@pytest.mark.parametrize("top", ["veri", "VeRi"])
def test_veri_counts_relabel_and_cameras(tmp_path, top):
    base = make_veri(tmp_path, top)
    ds = init_dataset("veri", str(tmp_path))
    assert ds.dataset_dir == base
    assert stats(ds) == {"train": (3, 6, 5), "query": (2, 2, 2), "gallery": (3, 4, 4)}
    # ids 1, 4, 776 -> 0, 1, 2; cameras c001..c020 -> 0..19
    assert sorted((os.path.basename(p), pid, cam) for p, pid, cam in ds.train) == [
        ("0001_c001_00016450_0.jpg", 0, 0), ("0001_c001_00016460_0.jpg", 0, 0), ("0001_c002_00017210_1.jpg", 0, 1),
        ("0004_c019_00088495_0.jpg", 1, 18), ("0776_c013_00003200_1.jpg", 2, 12), ("0776_c020_00003120_1.jpg", 2, 19)]
    assert sorted((pid, cam) for _, pid, cam in ds.query) == [(2, 1), (10, 15)]
    assert sorted((pid, cam) for _, pid, cam in ds.gallery) == [(2, 1), (2, 2), (10, 4), (12, 9)]


def test_veri_missing_and_incomplete(tmp_path):
    with pytest.raises(UserError) as e:
        init_dataset("veri", str(tmp_path))
    one_line_error(e, "VeRi-776 not found", os.path.join("veri", "image_train"))
    base = make_veri(tmp_path)
    os.rename(os.path.join(base, "image_test"), os.path.join(base, "image_gallery"))
    with pytest.raises(UserError) as e:
        init_dataset("veri", str(tmp_path))
    one_line_error(e, "incomplete", "image_test/")


def test_veri_camera_out_of_range(tmp_path):
    base = make_veri(tmp_path)
    make_files(os.path.join(base, "image_query"), ["0002_c021_00030600_0.jpg"])
    with pytest.raises(UserError) as e:
        init_dataset("veri", str(tmp_path))
    one_line_error(e, "camera 21", "1..20")


# ------------------------------------------------------------------------------------ registry, union


def test_registry_names():
    assert set(DATASETS) == {"market1501", "synthetic", "dukemtmc", "cuhk03_labeled", "cuhk03_detected",
                             "msmt17", "csv", "veri", "vehicleid"}


def test_unknown_name(tmp_path):
    for call in (lambda: init_dataset("market", str(tmp_path)),
                 lambda: init_datasets(("market1501", "viper"), str(tmp_path))):
        with pytest.raises(UserError) as e:
            call()
        one_line_error(e, "unknown dataset", "market1501, synthetic, dukemtmc")


def test_synthetic_options_are_ignored_by_real_datasets(tmp_path):
    make_market(tmp_path)
    opts = dict(num_train_ids=3, num_test_ids=3, num_cameras=2, images_per_id=4, num_distractors=0, num_junk=0, seed=1)
    ds = init_datasets("market1501", str(tmp_path), **opts)
    assert ds.num_train_imgs == 5
    with pytest.raises(TypeError):
        init_datasets("market1501", str(tmp_path), num_trian_ids=3)


def _check_union(parts, union):
    assert isinstance(union, CombinedDataset)
    for split in ("train", "query", "gallery"):
        assert len(getattr(union, split)) == sum(len(getattr(p, split)) for p in parts)
    # training ids: 0..N-1, each dataset in its own block
    assert sorted({r[1] for r in union.train}) == list(range(sum(p.num_train_pids for p in parts)))
    # records of each dataset are contiguous in each split; collect each dataset's ids and cameras
    train_ids, test_ids, cams = [], [], []
    t = q = g = 0
    for p in parts:
        tr = union.train[t:t + len(p.train)]
        qu = union.query[q:q + len(p.query)]
        ga = union.gallery[g:g + len(p.gallery)]
        t, q, g = t + len(p.train), q + len(p.query), g + len(p.gallery)
        assert [r[0] for r in tr] == [r[0] for r in p.train]
        train_ids.append({r[1] for r in tr})
        test_ids.append({r[1] for r in qu + ga if r[1] != -1})
        cams.append({r[2] for r in tr + qu + ga})
        # within a dataset the structure is kept: same-id and same-camera relations are unchanged
        for orig, new in ((p.query, qu), (p.gallery, ga)):
            assert len({(a[1], b[1]) for a, b in zip(orig, new)}) == len({a[1] for a in orig})
    for i in range(len(parts)):
        for j in range(i + 1, len(parts)):
            assert not train_ids[i] & train_ids[j]
            assert not test_ids[i] & test_ids[j]
            assert not cams[i] & cams[j]


def test_union_of_two_datasets(tmp_path):
    make_market(tmp_path)
    make_duke(tmp_path)
    market, duke = init_dataset("market1501", str(tmp_path)), init_dataset("dukemtmc", str(tmp_path))
    union = init_datasets(("market1501", "dukemtmc"), str(tmp_path))
    _check_union([market, duke], union)
    assert union.name == "market1501+dukemtmc"
    # by hand: market has 3 training ids and cameras 0..5; its largest test id is 3
    assert stats(union) == {"train": (5, 9, 8), "query": (4, 5, 4), "gallery": (6, 8, 8)}
    assert sorted({r[1] for r in union.gallery}) == [0, 1, 3, 4 + 3, 4 + 4, 4 + 7140]
    assert sorted({r[2] for r in union.query}) == [0, 1, 6 + 0, 6 + 1]
    # the other order: market's distractors (pid 0) move past duke's ids instead of colliding
    union2 = init_datasets(("dukemtmc", "market1501"), str(tmp_path))
    _check_union([duke, market], union2)
    assert 7141 in {r[1] for r in union2.gallery} and 0 not in {r[1] for r in union2.gallery}


def test_union_keeps_junk_as_minus_one(tmp_path):
    make_market(tmp_path)

    class WithJunk:  # a stand-in dataset whose gallery keeps junk
        name, num_train_pids, num_cameras = "junky", 1, 2
        train = [("a.jpg", 0, 0)]
        query = [("b.jpg", 5, 0)]
        gallery = [("c.jpg", 5, 1), ("d.jpg", -1, 1), ("e.jpg", 0, 0)]

    market = init_dataset("market1501", str(tmp_path))
    union = CombinedDataset([market, WithJunk])
    tail = union.gallery[-3:]
    assert [r[1] for r in tail] == [4 + 5, -1, 4 + 0]
    assert [r[2] for r in tail] == [6 + 1, 6 + 1, 6 + 0]
