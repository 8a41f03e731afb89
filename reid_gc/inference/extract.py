"""extract_folder(cfg, folder): features of every image under a folder, computed as the evaluator does."""
import os

import torch
import torch.nn.functional as F
from ignite.engine import Events
from torch.utils.data import DataLoader

from ..data.build import collate_images, loader_workers
from ..data.image_dataset import ImageDataset
from ..data.transforms import build_loader_transform
from ..engine.evaluator import create_feature_engine
from ..utils.atomic import atomic_path, write_text
from ..utils.errors import UserError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def list_images(folder, flag="--input"):
    """Image files under `folder` (recursively), as sorted paths relative to it; `flag` names the
    command-line option in the messages."""
    if not os.path.isdir(folder):
        raise UserError(f"{folder} is not a folder: give {flag} a folder of images")
    names = []
    for root, _, files in os.walk(folder):
        names += [os.path.relpath(os.path.join(root, f), folder) for f in files
                  if f.lower().endswith(IMAGE_EXTENSIONS)]
    if not names:
        raise UserError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {folder}: give {flag} a folder of images")
    return sorted(names)


def extract_folder(cfg, model, device, folder):
    """(names, features): features as TEST.NECK_FEAT / FLIP_FEAT / FEAT_NORM define them, on the CPU."""
    names = list_images(folder)
    records = [(os.path.join(folder, n), -1, -1) for n in names]
    loader = DataLoader(ImageDataset(records, build_loader_transform(cfg, is_train=False)),
                        batch_size=cfg.TEST.IMS_PER_BATCH, num_workers=loader_workers(cfg),
                        collate_fn=collate_images)
    engine = create_feature_engine(cfg, model, device)
    feats = []
    engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e: feats.append(e.state.output[0].cpu()))
    engine.run(loader)
    features = torch.cat(feats)
    if cfg.TEST.FEAT_NORM == "yes":
        features = F.normalize(features, dim=1)
    return names, features


def save_features(path, names, features):
    """.pt: {'names', 'features'} (loads with weights_only); .npy: the array, names in <path>.names.txt."""
    if path.endswith(".pt"):
        with atomic_path(path) as tmp:
            torch.save({"names": list(names), "features": features}, tmp)
        return [path]
    if path.endswith(".npy"):
        import numpy as np

        names_path = path[:-4] + ".names.txt"
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, features.numpy())
        write_text(names_path, "\n".join(names) + "\n")
        return [path, names_path]
    raise UserError(f"--output {path} must end in .pt or .npy")
