"""The synthetic dataset's bar: a trained run's last epoch against the same network untrained and against
nearest neighbour on raw pixels (L2-normalised 32x16 thumbnails), all under the Market protocol, and whether
it passes the bar (mAP >= 50 and Rank-1 >= 70).

    python tools/train.py --config_file configs/quickstart.yml     # writes out/quickstart/checkpoint_16.pt
    python benchmarks/synthetic_bar.py [--run out/quickstart]

    # another backbone at the quickstart's budget
    python tools/train.py --config_file configs/quickstart.yml MODEL.NAME se_resnet50 OUTPUT_DIR out/bar_se_resnet50
    python benchmarks/synthetic_bar.py --run out/bar_se_resnet50

The run's config.yml builds and feeds the model, and its newest checkpoint_<epoch>.pt is evaluated (not
model_best.pt, which is selected on the test set).
"""
import argparse
import os

import numpy as np
import torch
from ignite.utils import manual_seed
from PIL import Image

from reid_gc.cli.common import run_cli
from reid_gc.config import load_config
from reid_gc.data.build import load_dataset, make_val_loader
from reid_gc.engine.evaluator import METRIC_NAME, create_evaluator
from reid_gc.engine.testing import build_inference_model
from reid_gc.evaluation import evaluate_features
from reid_gc.modeling import build_model
from reid_gc.utils.errors import UserError
from reid_gc.utils.run_dir import CONFIG, RunDir

BAR_MAP, BAR_RANK1 = 0.50, 0.70


def evaluate_model(cfg, model, dataset):
    evaluator = create_evaluator(cfg, model, torch.device("cpu"), len(dataset.query))
    evaluator.run(make_val_loader(cfg, dataset))
    return evaluator.state.metrics[METRIC_NAME]


def thumbnails(records):
    feats = np.stack([np.asarray(Image.open(p).convert("RGB").resize((16, 32), Image.BILINEAR), np.float32).ravel()
                      for p, _, _ in records])
    return torch.nn.functional.normalize(torch.from_numpy(feats), dim=1)


def labels(records):
    return np.array([r[1] for r in records]), np.array([r[2] for r in records])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", default="out/quickstart", help="a training's OUTPUT_DIR")
    args = parser.parse_args(argv)
    run = RunDir(args.run)
    checkpoints = run.checkpoints()
    if not checkpoints or not os.path.isfile(run.path(CONFIG)):
        raise UserError(f"{args.run} holds no config.yml and checkpoint_<epoch>.pt: train first, e.g. "
                        "python tools/train.py --config_file configs/quickstart.yml")
    epoch, weight = checkpoints[0]
    cfg = load_config(run.path(CONFIG), ["MODEL.DEVICE", "cpu", "TEST.WEIGHT", weight])
    dataset = load_dataset(cfg)
    rows = []
    trained = evaluate_model(cfg, build_inference_model(cfg, dataset.num_train_pids, torch.device("cpu")), dataset)
    rows.append((f"trained {cfg.MODEL.NAME}, epoch {epoch}", trained))
    manual_seed(cfg.SOLVER.SEED)
    untrained = build_model(cfg, dataset.num_train_pids, pretrained=False)
    rows.append(("same network, untrained", evaluate_model(cfg, untrained, dataset)))
    (qp, qc), (gp, gc) = labels(dataset.query), labels(dataset.gallery)
    raw = evaluate_features(thumbnails(dataset.query), thumbnails(dataset.gallery), qp, gp, qc, gc)
    rows.append(("nearest neighbour on raw pixels (32x16)", raw))
    print(f"\nsynthetic dataset: {len(dataset.query)} queries, {len(dataset.gallery)} gallery images "
          f"(weights {weight})\n")
    print("| method | mAP (%) | Rank-1 (%) | Rank-5 (%) | Rank-10 (%) |")
    print("| --- | --- | --- | --- | --- |")
    for name, r in rows:
        print(f"| {name} | {100 * r.mAP:.1f} | {100 * r.cmc[0]:.1f} | {100 * r.cmc[4]:.1f} | {100 * r.cmc[9]:.1f} |")
    passes = trained.mAP >= BAR_MAP and trained.cmc[0] >= BAR_RANK1
    print(f"\nbar (mAP >= {100 * BAR_MAP:.0f}, Rank-1 >= {100 * BAR_RANK1:.0f}): "
          f"{'passes' if passes else 'below'} at {cfg.SOLVER.MAX_EPOCHS} epochs, "
          f"{'x'.join(map(str, cfg.INPUT.SIZE_TRAIN))}")


if __name__ == "__main__":
    run_cli(main)  # a missing checkpoint or dataset: one line, exit 2
