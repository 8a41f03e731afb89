"""tools/search.py: ranked gallery files as the evaluator ranks them, the gallery cache, one-line errors."""
import csv
import os
import shutil

import pytest
import torch
from PIL import Image
from run_helpers import run_tool

from reid_gc.data.build import make_val_loader
from reid_gc.engine.evaluator import create_evaluator
from reid_gc.engine.testing import build_inference_model


def _evaluator_features(trained):
    cfg = trained.cfg.clone()
    cfg.defrost()
    cfg.TEST.WEIGHT = trained.weights
    model = build_inference_model(cfg, 1, torch.device("cpu"))
    evaluator = create_evaluator(cfg, model, torch.device("cpu"), len(trained.dataset.query))
    evaluator.run(make_val_loader(cfg, trained.dataset))
    return evaluator.reid_metric.features


def test_search_top1_is_the_evaluators(trained, tmp_path):
    queries = [q[0] for q in trained.dataset.query[:6]]
    out_csv = str(tmp_path / "res.csv")
    png = str(tmp_path / "ranked.png")
    args = ["--weights", trained.weights, *sum([["--query", q] for q in queries], []), "--gallery",
            trained.gallery_dir, "--topk", "5", "--csv", out_csv, "--visualize", png]
    r = run_tool("search.py", *args)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = list(csv.DictReader(open(out_csv)))
    assert len(rows) == 6 * 5
    qf, gf = _evaluator_features(trained)
    gallery = [os.path.basename(g[0]) for g in trained.dataset.gallery]
    # the evaluator's ranking, restated: squared Euclidean distances, ties to the lower gallery index
    dist = ((qf[:6, None, :].double() - gf[None, :, :].double()) ** 2).sum(-1)
    for qi, q in enumerate(queries):
        mine = [row for row in rows if row["query"] == q]
        assert [int(row["rank"]) for row in mine] == [1, 2, 3, 4, 5]
        assert os.path.basename(mine[0]["gallery"]) == gallery[int(dist[qi].argmin())]
        assert abs(float(mine[0]["distance"]) - float(dist[qi].min())) < 1e-4
        assert [float(row["distance"]) for row in mine] == sorted(float(row["distance"]) for row in mine)
        assert f"query {q}" in r.stdout
    img = Image.open(png)
    assert img.width >= 6 * 32 and img.height >= 6 * 64


@pytest.mark.slow
def test_gallery_cache_is_reused_and_invalidated(trained, tmp_path):
    gallery = tmp_path / "crops"
    gallery.mkdir()
    for g in trained.dataset.gallery[:20]:
        shutil.copy(g[0], gallery / os.path.basename(g[0]))
    query = trained.dataset.query[0][0]
    args = ["--weights", trained.weights, "--query", query, "--gallery", str(gallery), "--topk", "3",
            "--csv", str(tmp_path / "a.csv")]
    first = run_tool("search.py", *args)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "computing the features of 20 of 20" in first.stdout
    cache = tmp_path / ".crops.reid_gc_features.pt"
    assert cache.is_file()
    second = run_tool("search.py", *args)
    assert second.returncode == 0 and "computing the features" not in second.stdout
    assert "reused the cached features of 20" in second.stdout
    assert open(tmp_path / "a.csv").read().count("\n") == 4
    # a new file: only it is computed, and the ranking equals a search without the cache
    shutil.copy(trained.dataset.gallery[30][0], gallery / "new.jpg")
    third = run_tool("search.py", *args)
    assert "computing the features of 1 of 21" in third.stdout
    cached_rows = open(tmp_path / "a.csv").read()
    fresh = run_tool("search.py", *args, "--no-cache")
    assert fresh.returncode == 0 and open(tmp_path / "a.csv").read() == cached_rows
    # another model (a different checkpoint file): everything is computed again
    other = str(tmp_path / "other.pt")
    shutil.copy(trained.weights, other)
    fourth = run_tool("search.py", *[other if a == trained.weights else a for a in args])
    assert "computing the features of 21 of 21" in fourth.stdout


@pytest.mark.slow
def test_search_errors_are_one_line(trained, tmp_path):
    query = trained.dataset.query[0][0]

    def one_line(r, *words):
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, r.stderr[-2000:]
        assert all(w in lines[0] for w in words), lines[0]

    old = str(tmp_path / "old.pt")
    torch.save({"model": torch.load(trained.weights, weights_only=True)["model"]}, old)
    one_line(run_tool("search.py", "--weights", old, "--query", query, "--gallery", trained.gallery_dir),
             "old.pt", "--config_file")
    bad = tmp_path / "q.jpg"
    bad.write_bytes(b"\xff\xd8 truncated")
    one_line(run_tool("search.py", "--weights", trained.weights, "--query", str(bad), "--gallery",
                      trained.gallery_dir), "q.jpg")
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line(run_tool("search.py", "--weights", trained.weights, "--query", query, "--gallery", str(empty)),
             "no images", "--gallery")
    one_line(run_tool("search.py", "--weights", trained.weights, "--query", query, "--gallery",
                      trained.gallery_dir, "--topk", "0"), "--topk")
