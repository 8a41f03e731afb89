"""Ranked-list pictures: file, pixel size, order of the gallery images and frame colours."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

from reid_gc.evaluation import save_ranked_lists
from reid_gc.evaluation.visualize import (
    BORDER,
    FALSE_MATCH,
    GAP,
    QUERY_FRAME,
    QUERY_GAP,
    TRUE_MATCH,
    cell_box,
    select_queries,
)
from reid_gc.utils.errors import UserError

SIZE = (20, 10)  # (height, width) of each image in the picture


def solid(folder, name, colour, size=(30, 14)):
    path = os.path.join(folder, name + ".png")
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def dataset(tmp_path):
    """2 queries, 5 gallery images, each image one solid colour so its place in the picture is visible."""
    folder = str(tmp_path)
    query = [(solid(folder, "q0", (10, 10, 10)), 1, 0), (solid(folder, "q1", (20, 20, 20)), 2, 1)]
    gallery_specs = [(1, 0), (1, 1), (2, 0), (-1, 1), (2, 1)]  # (pid, camid)
    gallery = [(solid(folder, f"g{j}", (100 + 30 * j, 50, 200)), pid, cam)
               for j, (pid, cam) in enumerate(gallery_specs)]
    distmat = np.array([
        # q0 (pid 1, cam 0): g0 is same id + same camera: left out. Order: g2, g1, g3, g4.
        [0.0, 0.2, 0.1, 0.3, 0.4],
        # q1 (pid 2, cam 1): g4 left out. Order (tie g0/g2 -> lower index first): g0, g2, g1, g3.
        [0.1, 0.3, 0.1, 0.5, 0.0],
    ])
    return tmp_path, distmat, query, gallery


def centre(box):
    return (box[0] + box[2]) // 2, (box[1] + box[3]) // 2


def test_picture_size_order_and_frames(dataset):
    tmp_path, distmat, query, gallery = dataset
    path = tmp_path / "out" / "ranked.png"
    size = save_ranked_lists(path, torch.from_numpy(distmat), query, gallery, num_queries=2, topk=3, size=SIZE)
    cell_w, cell_h = SIZE[1] + 2 * BORDER, SIZE[0] + 2 * BORDER
    expected = (GAP + cell_w + QUERY_GAP + 3 * (cell_w + GAP), GAP + 2 * (cell_h + GAP))
    assert size == expected
    img = Image.open(path)
    assert img.size == expected and img.format == "PNG"
    expected_rows = [[2, 1, 3], [0, 2, 1]]
    expected_frames = [[FALSE_MATCH, TRUE_MATCH, FALSE_MATCH], [FALSE_MATCH, TRUE_MATCH, FALSE_MATCH]]
    for row in range(2):
        query_box = cell_box(row, 0, SIZE)
        assert img.getpixel(query_box[:2]) == QUERY_FRAME
        assert img.getpixel(centre(query_box)) == Image.open(query[row][0]).getpixel((0, 0))
        for col, (g_index, frame) in enumerate(zip(expected_rows[row], expected_frames[row]), start=1):
            box = cell_box(row, col, SIZE)
            assert img.getpixel((box[0] + 1, box[1] + 1)) == frame
            assert img.getpixel((box[2] - 1, box[3] - 1)) == frame
            assert img.getpixel(centre(box)) == Image.open(gallery[g_index][0]).getpixel((0, 0))
    assert sorted(os.listdir(tmp_path / "out")) == ["ranked.png"]  # no temporary file left behind


def test_short_gallery_and_query_selection(dataset):
    tmp_path, distmat, query, gallery = dataset
    path = tmp_path / "ranked.png"
    path.write_bytes(b"old")
    width, height = save_ranked_lists(path, distmat, query, gallery, num_queries=1, topk=10, size=SIZE)
    cell_h = SIZE[0] + 2 * BORDER
    assert height == GAP + cell_h + GAP  # one row: the first query
    img = Image.open(path)
    assert img.size == (width, height)
    # q0 keeps 4 gallery images: cells 5 .. 10 stay background.
    assert img.getpixel(centre(cell_box(0, 4, SIZE))) == Image.open(gallery[4][0]).getpixel((0, 0))
    assert img.getpixel(centre(cell_box(0, 5, SIZE))) == (255, 255, 255)
    assert select_queries(10, 4) == [0, 3, 6, 9]
    assert select_queries(3, 5) == [0, 1, 2]


def test_bad_input(dataset):
    tmp_path, distmat, query, gallery = dataset
    with pytest.raises(UserError, match="distmat has shape"):
        save_ranked_lists(tmp_path / "x.png", distmat[:, :4], query, gallery, num_queries=2)
    with pytest.raises(UserError, match="num_queries must be a positive whole number"):
        save_ranked_lists(tmp_path / "x.png", distmat, query, gallery, num_queries=0)
    missing = [(str(tmp_path / "nope.jpg"), 1, 0)] + query[1:]
    with pytest.raises(UserError, match="cannot read image"):
        save_ranked_lists(tmp_path / "x.png", distmat, missing, gallery, num_queries=2)
    assert not (tmp_path / "x.png").exists()


def test_query_order_worst_first_and_even():
    from reid_gc.evaluation.ranked import query_order

    ap = np.array([0.5, np.nan, 0.1, 1.0, 0.1])
    assert query_order(ap, "worst") == [2, 4, 0, 3, 1]  # lowest AP first, ties by index, no-match queries last
    assert query_order(ap, "worst", 2) == [2, 4]
    assert query_order(ap, "even", 3) == [0, 2, 4] and query_order(ap, "even") == [0, 1, 2, 3, 4]


def test_top_k_follows_the_protocol_and_ties():
    from reid_gc.evaluation.ranked import excluded_pairs, top_k

    dist = np.array([[0.3, 0.1, 0.1, 0.0], [0.2, 0.2, 0.5, 0.1]])
    # Market rule: q0 (pid 1, cam 0) loses g3 (pid 1, cam 0); ties to the lower index
    excluded = excluded_pairs([1, 2], [4, 1, 1, 1], [0, 0], [0, 1, 2, 0])
    index, d = top_k(dist, excluded, 3)
    assert index.tolist() == [[1, 2, 0], [3, 0, 1]]
    # camera-free: only the query's own image (q1 is g0) goes; rows run short of k: padded
    excluded = excluded_pairs([1, 2], [4, 1, 1, 1], None, None, cross_camera=False, q_self=[-1, 0])
    index, d = top_k(dist, excluded, 4)
    assert index.tolist() == [[3, 1, 2, 0], [3, 1, 2, -1]] and np.isnan(d[1, 3])


def test_camera_free_picture_leaves_out_only_the_query_itself(monkeypatch):
    """The picture's rule (same id and same camera left out) given the cameras write_ranked_lists passes for a
    camera-free test set: only the query's own image goes; same-camera images of its id stay."""
    from types import SimpleNamespace

    import reid_gc.engine.ranked_lists as ranked_lists

    seen = {}

    def capture(path, distmat, query, gallery, num_queries, **kwargs):
        seen.update(query=query, gallery=gallery)
        return (1, 1)

    monkeypatch.setattr(ranked_lists, "save_ranked_lists", capture)
    gallery = [("g0.jpg", 1, 0), ("q0.jpg", 1, 0), ("g2.jpg", 2, 0), ("q1.jpg", 2, 0)]
    dataset = SimpleNamespace(query=[("q0.jpg", 1, 0), ("q1.jpg", 2, 0)], gallery=gallery)
    metric = SimpleNamespace(features=(torch.zeros(2, 3), torch.zeros(4, 3)), rerank=None, distance="euclidean",
                             cross_camera=False, q_self=np.array([1, 3]), splits=None)
    cfg = SimpleNamespace(TEST=SimpleNamespace(VISUALIZE_ORDER="even", VISUALIZE=2), INPUT=SimpleNamespace(
        SIZE_TEST=[8, 4]))
    ranked_lists.write_ranked_lists(cfg, metric, dataset, "unused.png", SimpleNamespace(ap=np.array([1.0, 1.0])))
    for (q_path, q_pid, q_cam) in seen["query"]:
        left_out = [g[0] for g in seen["gallery"] if g[1] == q_pid and g[2] == q_cam]
        assert left_out == [q_path]
