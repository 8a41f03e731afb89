"""Shared by the tests that run the tools as a user does: subprocess runs and tiny settings."""
import os
import subprocess
import sys

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Tiny and fast, but the strong baseline's command-line form; no ImageNet download here.
SMALL = ["MODEL.NAME", "resnet18", "MODEL.PRETRAIN_CHOICE", "scratch", "INPUT.SIZE_TRAIN", "[64, 32]",
         "INPUT.SIZE_TEST", "[64, 32]", "SOLVER.MAX_EPOCHS", "2", "SOLVER.IMS_PER_BATCH", "16",
         "DATALOADER.NUM_INSTANCE", "4", "DATALOADER.NUM_WORKERS", "0", "SOLVER.EVAL_PERIOD", "1",
         "SOLVER.CHECKPOINT_PERIOD", "1", "SOLVER.LOG_PERIOD", "2", "SOLVER.WARMUP_ITERS", "1",
         "MODEL.DEVICE", "cpu"]


def write_market(root, train_ids=8, test_ids=6, seed=0):
    """A Market-1501 tree in the real naming PPPP_cCsS_FFFFFF_NN.jpg: each id a colour, junk (-1) and
    distractors (0000) in the gallery, a stray non-image file."""
    rng = np.random.default_rng(seed)
    base = os.path.join(root, "market1501")

    def save(split, pid, cam, frame):
        os.makedirs(os.path.join(base, split), exist_ok=True)
        colour = rng.integers(0, 256, 3) if pid <= 0 else np.array([(pid * 67) % 256, (pid * 131) % 256,
                                                                     (pid * 29) % 256])
        img = np.clip(colour + rng.normal(0, 20, (32, 16, 3)), 0, 255).astype(np.uint8)
        name = f"{pid:04d}_c{cam}s1_{frame:06d}_01.jpg" if pid >= 0 else f"-1_c{cam}s1_{frame:06d}_01.jpg"
        Image.fromarray(img).save(os.path.join(base, split, name))

    frame = 0
    for pid in range(1, train_ids + 1):
        for k in range(6):
            frame += 1
            save("bounding_box_train", pid * 2, 1 + k % 3, frame)  # non-contiguous ids get relabelled
    for pid in range(100, 100 + test_ids):
        for cam in (1, 2, 3):
            frame += 1
            save("query", pid, cam, frame)
            for _ in range(2):
                frame += 1
                save("bounding_box_test", pid, 1 + cam % 3, frame)
    for cam in (1, 2):
        frame += 1
        save("bounding_box_test", 0, cam, frame)
        frame += 1
        save("bounding_box_test", -1, cam, frame)
    open(os.path.join(base, "bounding_box_test", "Thumbs.db"), "w").close()
    return root


def run_tool(tool, *args, cwd=None):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, os.path.join(ROOT, "tools", tool), *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, env=env, timeout=600)


# A tiny built-in synthetic dataset: 8 training ids, 6 test ids.
TINY_SYNTHETIC = ["DATASETS.NAMES", "synthetic", "DATASETS.SYNTHETIC.NUM_TRAIN_IDS", "8",
                  "DATASETS.SYNTHETIC.NUM_TEST_IDS", "6", "DATASETS.SYNTHETIC.IMAGES_PER_ID", "8",
                  "DATASETS.SYNTHETIC.NUM_DISTRACTORS", "10", "DATASETS.SYNTHETIC.NUM_JUNK", "5"]
