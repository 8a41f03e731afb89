"""The built-in synthetic dataset (DATASETS.NAMES 'synthetic'): a small ReID problem generated on first use.

It is a pure function of the DATASETS.SYNTHETIC keys (passed lowercased as keyword arguments), written once
to ``<ROOT_DIR>/synthetic/<key>/`` where ``<key>`` hashes those parameters and the generator version, and
then read back through the Market-1501 parser: ``bounding_box_train``, ``query`` and ``bounding_box_test``
of 128x64 JPEGs named ``PPPP_cCsS_FFFFFF_NN.jpg``, with distractors (pid 0000) and junk (pid -1) in
``bounding_box_test`` as in Market-1501. The folder is built under a temporary name and renamed when
complete (``params.json`` records the parameters), so an interrupted generation is never used.

What is in it (drawing in :mod:`.synthetic_render`):

- identities: clothing colours, top pattern, sleeves, trousers/shorts/skirt, shoes, hair, hat, bag and
  build; about half of the people come in families of two or three near-twins that share the clothing
  colours and differ in one or two visible details (pattern, bag, hair, hat, sleeves or cut; sometimes
  also the shoes); distractors are drawn from the same population, so some are twins of test ids;
- cameras: each its own scene, light, colour cast, gamma, saturation, haze, person scale, resolution,
  blur, noise, JPEG quality and mix of front/back/side views;
- images: pose (stride, arm swing, lean), view, position, scale, a crop of the camera's scene, and with
  the camera's probability an occlusion (another passer-by, an object at the bottom, a pole, a block);
- split: train ids in ``bounding_box_train``; each id appears in 2..min(6, cameras) cameras (at least two
  images in each); for a test id the first image in each of its cameras is a query and the rest go to
  the gallery, as Market-1501 has about one query per id and camera.
"""
import hashlib
import json
import logging
import os
import shutil
import time
import uuid

import numpy as np
from PIL import Image

from ...config.defaults import get_defaults
from ...utils.errors import UserError
from . import synthetic_render as render
from .bases import BaseImageDataset, market_pattern
from .market1501 import MARKET_SPLITS, load_market_layout

logger = logging.getLogger(__name__)

GENERATOR_VERSION = 1  # bump when the drawing changes: it is part of the cache key
OPTIONS = ("num_train_ids", "num_test_ids", "num_cameras", "images_per_id", "num_distractors", "num_junk", "seed")
STAMP = "params.json"
FAMILY_SIZES = (1, 2, 3)
FAMILY_PROBS = (0.75, 0.2, 0.05)


def resolve_params(options):
    """The generator parameters: `options` over the DATASETS.SYNTHETIC defaults, checked."""
    defaults = {k.lower(): v for k, v in get_defaults().DATASETS.SYNTHETIC.items()}
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise TypeError(f"unknown synthetic dataset options {unknown}; known: {list(OPTIONS)}")
    params = {k: options.get(k, defaults[k]) for k in OPTIONS}
    for k, v in params.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise UserError(f"DATASETS.SYNTHETIC.{k.upper()} must be an integer, got {v!r}")
        params[k] = int(v)
    p = params
    checks = [
        (p["num_train_ids"] >= 1, "NUM_TRAIN_IDS must be at least 1"),
        (p["num_test_ids"] >= 1, "NUM_TEST_IDS must be at least 1"),
        (p["num_train_ids"] + p["num_test_ids"] <= 9999, "NUM_TRAIN_IDS + NUM_TEST_IDS must be at most 9999 "
                                                          "(ids are 4-digit Market-1501 names)"),
        (2 <= p["num_cameras"] <= 9, "NUM_CAMERAS must be 2..9 (every test id is seen by at least two cameras; "
                                     "Market-1501 names hold one camera digit)"),
        (p["images_per_id"] >= 4, "IMAGES_PER_ID must be at least 4 (two cameras with two images each, so every "
                                  "query has a match in another camera)"),
        (p["num_distractors"] >= 0, "NUM_DISTRACTORS must be >= 0"),
        (p["num_junk"] >= 0, "NUM_JUNK must be >= 0"),
        (p["seed"] >= 0, "SEED must be >= 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise UserError(f"DATASETS.SYNTHETIC.{message}; got {p}")
    return params


def dataset_key(params):
    blob = json.dumps({"params": params, "version": GENERATOR_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _stamp(params):
    return {"generator": "reid_gc synthetic", "version": GENERATOR_VERSION, "params": params}


def plan_dataset(params):
    """Cameras, appearances and the list of images to draw (split, pid, camera, person or None for junk)."""
    seed = params["seed"]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    n_cam = params["num_cameras"]
    cameras = render.make_cameras(np.random.default_rng(np.random.SeedSequence([seed, 1])), n_cam)

    n_tr, n_te, per_id = params["num_train_ids"], params["num_test_ids"], params["images_per_id"]
    ids = rng.permutation(np.arange(1, n_tr + n_te + 1))
    train_pids, test_pids = sorted(ids[:n_tr].tolist()), sorted(ids[n_tr:].tolist())
    n_distractor_people = (params["num_distractors"] + 1) // 2

    # Appearances: people are grouped into families of near-twins (shuffled, so families mix train, test
    # and distractor people).
    population = n_tr + n_te + n_distractor_people
    appearances = [None] * population
    order = rng.permutation(population)
    i = 0
    while i < population:
        size = int(rng.choice(FAMILY_SIZES, p=FAMILY_PROBS))
        members = order[i:i + size]
        base = render.sample_appearance(rng)
        appearances[members[0]] = base
        for m in members[1:]:
            relatives = [appearances[x] for x in members if appearances[x] is not None]
            appearances[m] = render.family_variant(base, rng, relatives)
        i += size

    images = []  # (split, pid, camera index, person index or -1)
    max_cams = min(n_cam, 6, per_id // 2)
    for person, pid in enumerate(train_pids + test_pids):
        k = int(rng.integers(2, max_cams + 1))
        cams = sorted(rng.choice(n_cam, size=k, replace=False).tolist())
        counts = np.full(k, 2) + rng.multinomial(per_id - 2 * k, np.ones(k) / k)
        is_test = person >= n_tr
        for cam, count in zip(cams, counts):
            for j in range(int(count)):
                split = "bounding_box_train" if not is_test else ("query" if j == 0 else "bounding_box_test")
                images.append((split, pid, cam, person))
    for j in range(params["num_distractors"]):
        person = n_tr + n_te + j // 2
        images.append(("bounding_box_test", 0, int(rng.integers(n_cam)), person))
    for _ in range(params["num_junk"]):
        images.append(("bounding_box_test", -1, int(rng.integers(n_cam)), -1))

    # Market-1501 style names: frames increase along each camera's recording; sessions every 40,000 frames.
    frame = rng.integers(0, 500, size=n_cam)
    names = []
    for split, pid, cam, _ in images:
        frame[cam] += int(rng.integers(5, 300))
        f = int(frame[cam])
        session = min(1 + f // 40000, 9)
        det = int(rng.integers(1, 4))
        names.append(f"{pid:04d}_c{cam + 1}s{session}_{f:06d}_{det:02d}.jpg" if pid >= 0
                     else f"-1_c{cam + 1}s{session}_{f:06d}_{det:02d}.jpg")
    return cameras, appearances, images, names


def render_dataset(folder, params):
    """Draw the whole dataset into `folder` (which must exist and be empty)."""
    cameras, appearances, images, names = plan_dataset(params)
    for split in MARKET_SPLITS:
        os.makedirs(os.path.join(folder, split), exist_ok=True)
    seed = params["seed"]
    for index, ((split, pid, cam, person), name) in enumerate(zip(images, names)):
        rng = np.random.default_rng(np.random.SeedSequence([seed, 2, index]))
        camera = cameras[cam]
        if person < 0:
            arr = render.render_junk_image(camera, rng)
        else:
            arr = render.render_person_image(appearances[person], camera, rng)
        Image.fromarray(arr).save(os.path.join(folder, split, name), quality=camera.jpeg_quality)
    return len(images)


def ensure_generated(root, params):
    """The folder of the dataset for `params` under `root`, generated (atomically) if not there yet."""
    base = os.path.join(os.path.expanduser(os.fspath(root)), "synthetic")
    key = dataset_key(params)
    final = os.path.join(base, key)
    stamp_path = os.path.join(final, STAMP)
    if os.path.isdir(final):
        try:
            with open(stamp_path, encoding="utf-8") as f:
                stamp = json.load(f)
        except (OSError, ValueError):
            stamp = None
        if stamp != _stamp(params):
            raise UserError(f"{final} exists but its {STAMP} is missing or does not match {params}: "
                            f"delete the folder to have the synthetic dataset generated again")
        logger.info("synthetic dataset: using %s", final)
        return final
    try:
        os.makedirs(base, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create {base} for the synthetic dataset ({e.strerror}): "
                        f"set DATASETS.ROOT_DIR to a writable folder") from None
    tmp = os.path.join(base, f".tmp-{key}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.makedirs(tmp)
    logger.info("synthetic dataset: generating %s (%s) ...", final, ", ".join(f"{k}={v}" for k, v in params.items()))
    start = time.perf_counter()
    try:
        count = render_dataset(tmp, params)
        with open(os.path.join(tmp, STAMP), "w", encoding="utf-8") as f:
            json.dump(_stamp(params), f, indent=2, sort_keys=True)
            f.write("\n")
        try:
            os.rename(tmp, final)
        except OSError:
            if not os.path.isfile(stamp_path):  # not a concurrent generation that finished first
                raise
            logger.info("synthetic dataset: another process generated %s first; using it", final)
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("synthetic dataset: %d images in %.1f s", count, time.perf_counter() - start)
    return final


class Synthetic(BaseImageDataset):
    name = "synthetic"
    OPTIONS = OPTIONS

    def __init__(self, root, **options):
        self.params = resolve_params(options)
        self.dataset_dir = ensure_generated(root, self.params)
        fix = f"delete {self.dataset_dir} to have it generated again"
        self._set_splits(*load_market_layout(
            self.dataset_dir, "synthetic dataset", market_pattern(), "0002_c1s1_000451_03.jpg", fix,
            pid_range=(0, 9999), cam_range=(1, self.params["num_cameras"])))
