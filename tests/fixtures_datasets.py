"""Helpers for the dataset tests: fake dataset trees, a plain raw-pixel nearest-neighbour baseline, a contact sheet.

Run as a script to calibrate the synthetic dataset:

    python tests/fixtures_datasets.py --root /tmp/reid_synth [--sheet /tmp/reid_synth_contact.png] [KEY=VALUE ...]

prints the generation time and the raw-pixel NN mAP / Rank-1 (KEY=VALUE overrides a synthetic option,
e.g. seed=3 num_test_ids=50).
"""
import os
import sys

import numpy as np
from PIL import Image

TINY_JPEG = None


def tiny_jpeg_bytes():
    """A real (blank) 8x4 JPEG, for trees where the bytes do not matter."""
    global TINY_JPEG
    if TINY_JPEG is None:
        import io

        buf = io.BytesIO()
        Image.new("RGB", (4, 8), (128, 128, 128)).save(buf, format="JPEG")
        TINY_JPEG = buf.getvalue()
    return TINY_JPEG


def make_files(folder, names, content=None):
    """Create `folder` and the files `names` in it (blank JPEG bytes by default)."""
    os.makedirs(folder, exist_ok=True)
    data = tiny_jpeg_bytes() if content is None else content
    for n in names:
        with open(os.path.join(folder, n), "wb") as f:
            f.write(data)


# ------------------------------------------------------------------------------------------- baseline


def load_pixels(records, size=(16, 32)):
    """Images resized to `size` (width, height), flattened and L2-normalised: one row per record."""
    feats = np.empty((len(records), size[0] * size[1] * 3), np.float32)
    for i, (path, _, _) in enumerate(records):
        with Image.open(path) as im:
            feats[i] = np.asarray(im.convert("RGB").resize(size, Image.BILINEAR), np.float32).ravel()
    feats /= np.linalg.norm(feats, axis=1, keepdims=True) + 1e-12
    return feats


def plain_map_cmc(dist, q_pids, g_pids, q_cams, g_cams):
    """Market protocol, written out plainly: per query drop gallery images of the same id and camera,
    rank the rest by distance, average precision over the true matches; queries without a match skipped.
    Returns (mAP, rank-1)."""
    aps, r1 = [], []
    for i in range(len(q_pids)):
        keep = ~((g_pids == q_pids[i]) & (g_cams == q_cams[i]))
        order = np.argsort(dist[i][keep], kind="stable")
        matches = (g_pids[keep][order] == q_pids[i])
        if not matches.any():
            continue
        hits = np.flatnonzero(matches)
        precision = np.arange(1, len(hits) + 1) / (hits + 1)
        aps.append(precision.mean())
        r1.append(bool(matches[0]))
    return float(np.mean(aps)), float(np.mean(r1))


def raw_pixel_nn(dataset, size=(16, 32)):
    """(mAP, rank-1) of nearest-neighbour retrieval on raw pixels (32x16, L2-normalised, Euclidean)."""
    q = load_pixels(dataset.query, size)
    g = load_pixels(dataset.gallery, size)
    dist = np.sqrt(np.maximum((q * q).sum(1)[:, None] + (g * g).sum(1)[None] - 2 * q @ g.T, 0))
    arr = lambda recs, k: np.array([r[k] for r in recs])  # noqa: E731
    return plain_map_cmc(dist, arr(dataset.query, 1), arr(dataset.gallery, 1), arr(dataset.query, 2),
                         arr(dataset.gallery, 2))


def contact_sheet(dataset, path, num_ids=10, per_id=10, scale=2):
    """A PNG with `num_ids` test identities (one row each, cameras in order), then a row of distractors,
    a row of junk and two rows of training identities."""
    by_id = {}
    for rec in dataset.query + dataset.gallery:
        by_id.setdefault(rec[1], []).append(rec)
    test_ids = sorted(p for p in by_id if p > 0)[:num_ids]
    rows = [sorted(by_id[p], key=lambda r: r[2])[:per_id] for p in test_ids]
    rows.append(by_id.get(0, [])[:per_id])
    test_dir = os.path.join(getattr(dataset, "dataset_dir", ""), "bounding_box_test")
    if os.path.isdir(test_dir):  # junk (dropped by the parser) straight from the folder
        junk = sorted(n for n in os.listdir(test_dir) if n.startswith("-1_"))[:per_id]
        rows.append([(os.path.join(test_dir, n), -1, 0) for n in junk])
    train_ids = sorted({r[1] for r in dataset.train})[:2]
    for p in train_ids:
        rows.append(sorted([r for r in dataset.train if r[1] == p], key=lambda r: r[2])[:per_id])
    h, w = 128, 64
    sheet = Image.new("RGB", (per_id * (w + 2), len(rows) * (h + 2)), (255, 255, 255))
    for y, row in enumerate(rows):
        for x, (p, _, _) in enumerate(row):
            with Image.open(p) as im:
                sheet.paste(im.convert("RGB").resize((w, h)), (x * (w + 2), y * (h + 2)))
    sheet = sheet.resize((sheet.width * scale, sheet.height * scale), Image.NEAREST)
    sheet.save(path)
    return path


def write_vehicleid(root, train_ids=6, test_ids=5, per_id=3, lists=(800,)):
    """VehicleID_V1.0/image/<7-digit name>.jpg and train_test_split/*.txt with '<name> <vehicle id>' lines."""
    base = os.path.join(root, "VehicleID_V1.0")
    os.makedirs(os.path.join(base, "image"))
    os.makedirs(os.path.join(base, "train_test_split"))
    rng = np.random.default_rng(0)
    number = 0

    def images(vid):
        nonlocal number
        names = []
        for _ in range(per_id):
            number += 1
            colour = np.array([(vid * 53) % 256, (vid * 101) % 256, (vid * 23) % 256])
            img = np.clip(colour + rng.normal(0, 25, (32, 32, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(img).save(os.path.join(base, "image", f"{number:07d}.jpg"))
            names.append(f"{number:07d} {vid:04d}")
        return names

    train = [line for vid in range(1, train_ids + 1) for line in images(vid)]
    test = [line for vid in range(100, 100 + test_ids) for line in images(vid)]
    with open(os.path.join(base, "train_test_split", "train_list.txt"), "w") as f:
        f.write("\n".join(train) + "\n")
    for size in lists:
        with open(os.path.join(base, "train_test_split", f"test_list_{size}.txt"), "w") as f:
            f.write("\n".join(test) + "\n")
    return root


def main(argv):
    import argparse
    import logging
    import time

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from reid_gc.data.datasets import init_dataset

    parser = argparse.ArgumentParser()
    parser.add_argument("--root", default="/tmp/reid_synth")
    parser.add_argument("--sheet", default="")
    parser.add_argument("opts", nargs="*")
    args = parser.parse_args(argv)
    opts = {k: int(v) for k, v in (o.split("=") for o in args.opts)}
    start = time.perf_counter()
    ds = init_dataset("synthetic", args.root, **opts)
    print(f"load/generate: {time.perf_counter() - start:.1f} s")
    ds.log_statistics()
    start = time.perf_counter()
    m, r1 = raw_pixel_nn(ds)
    print(f"raw-pixel NN: mAP {m:.1%}  rank-1 {r1:.1%}  ({time.perf_counter() - start:.1f} s)")
    if args.sheet:
        print("contact sheet:", contact_sheet(ds, args.sheet))


if __name__ == "__main__":
    main(sys.argv[1:])
