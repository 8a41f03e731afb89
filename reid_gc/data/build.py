"""make_data_loaders(cfg): dataset records -> samplers -> torch DataLoaders of uint8 images.

The loaders decode and resize; augmentation and normalisation happen on the training device
(data/transforms.py BatchTransform, applied by the engine).
"""
import logging
import os
from dataclasses import dataclass

import ignite.distributed as idist
import torch
from torch.utils.data import DataLoader

from ..utils.errors import UserError
from .datasets import init_datasets
from .image_dataset import ImageDataset
from .samplers import RandomIdentitySampler, ShardedRandomSampler, ShardedSequentialSampler
from .transforms import build_loader_transform

logger = logging.getLogger(__name__)


@dataclass
class DataBundle:
    train_loader: DataLoader
    val_loader: DataLoader
    num_query: int
    num_classes: int
    dataset: object  # the parsed dataset: .train, .query, .gallery records
    test_sets: list = None  # one TestSet per DATASETS.TEST_NAMES (val_loader and num_query: the first's)


def collate_images(batch):
    imgs, pids, camids, indices = zip(*batch)
    return torch.stack(imgs), torch.tensor(pids), torch.tensor(camids), torch.tensor(indices)


def dataset_options(cfg):
    """The keyword options init_dataset passes on to the datasets that take them."""
    options = {k.lower(): v for k, v in cfg.DATASETS.SYNTHETIC.items()}
    options["test_size"] = cfg.DATASETS.VEHICLEID.TEST_SIZE
    return options


def load_dataset(cfg, names=None):
    """The dataset(s) `names` (default DATASETS.NAMES: their union when several)."""
    # Rank 0 first: it generates the synthetic dataset once, the other ranks then read it.
    first, world = idist.get_rank() == 0, idist.get_world_size()
    if world > 1 and not first:
        idist.barrier()
    dataset = init_datasets(cfg.DATASETS.NAMES if names is None else names, cfg.DATASETS.ROOT_DIR,
                            **dataset_options(cfg))
    if world > 1 and first:
        idist.barrier()
    if idist.get_rank() == 0:
        dataset.log_statistics()
    return dataset


def test_set_names(cfg):
    """DATASETS.TEST_NAMES, or DATASETS.NAMES when it is empty."""
    return tuple(cfg.DATASETS.TEST_NAMES) or tuple(cfg.DATASETS.NAMES)


@dataclass
class TestSet:
    name: str  # the dataset's name in DATASETS.TEST_NAMES: the label of its results
    dataset: object  # the parsed dataset (its .query and .gallery are evaluated)
    loader: DataLoader  # query images first, then gallery images


def make_val_loaders(cfg, dataset=None):
    """One TestSet per name of DATASETS.TEST_NAMES (in order). `dataset` (the training dataset) is reused
    when the only test set is the one it was loaded from."""
    names = test_set_names(cfg)
    sets = []
    for name in names:
        if dataset is not None and (name,) == tuple(cfg.DATASETS.NAMES):
            parsed = dataset
        else:
            parsed = load_dataset(cfg, (name,))
        sets.append(TestSet(name, parsed, make_val_loader(cfg, parsed)))
    return sets


def loader_workers(cfg):
    """DATALOADER.NUM_WORKERS, at most this process's share of the CPU cores."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    # More workers than cores only adds context switches.
    return min(cfg.DATALOADER.NUM_WORKERS, max(cpus // idist.get_world_size(), 1))


def make_val_loader(cfg, dataset):
    records = dataset.query + dataset.gallery
    rank, world = idist.get_rank(), idist.get_world_size()
    return DataLoader(
        ImageDataset(records, build_loader_transform(cfg, is_train=False)),
        batch_size=cfg.TEST.IMS_PER_BATCH,
        sampler=ShardedSequentialSampler(len(records), rank, world),
        num_workers=loader_workers(cfg), collate_fn=collate_images, pin_memory=torch.cuda.is_available(),
    )


def make_data_loaders(cfg, dataset=None):
    dataset = dataset if dataset is not None else load_dataset(cfg)
    rank, world = idist.get_rank(), idist.get_world_size()
    batch = cfg.SOLVER.IMS_PER_BATCH
    if batch % world:
        raise UserError(f"SOLVER.IMS_PER_BATCH ({batch}) is the global batch and must divide evenly "
                        f"over {world} processes")
    if cfg.DATALOADER.SAMPLER == "softmax":
        sampler = ShardedRandomSampler(len(dataset.train), rank, world, seed=cfg.SOLVER.SEED)
    else:
        sampler = RandomIdentitySampler(dataset.train, batch, cfg.DATALOADER.NUM_INSTANCE, rank, world,
                                        seed=cfg.SOLVER.SEED)
    if len(sampler) < batch // world:
        raise UserError(f"the training set has {len(dataset.train)} images, fewer than one batch of "
                        f"{batch}: lower SOLVER.IMS_PER_BATCH")
    workers = loader_workers(cfg)
    train_loader = DataLoader(
        ImageDataset(dataset.train, build_loader_transform(cfg, is_train=True)),
        batch_size=batch // world, sampler=sampler, drop_last=True,
        num_workers=workers, persistent_workers=workers > 0, collate_fn=collate_images,
        pin_memory=torch.cuda.is_available(),
    )
    test_sets = make_val_loaders(cfg, dataset)
    return DataBundle(train_loader, test_sets[0].loader, len(test_sets[0].dataset.query), dataset.num_train_pids,
                      dataset, test_sets)
