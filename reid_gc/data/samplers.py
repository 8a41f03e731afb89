"""Index samplers for training (P x K identities, or a plain shuffle) and evaluation, distributed-aware.

Every sampler draws from torch's global generator, which the training engine reseeds at each epoch
from (seed, epoch): every rank draws the same global order and keeps its own disjoint share, and a run
resumed at an epoch boundary draws exactly what the uninterrupted run drew.
"""
from collections import defaultdict

import torch
from torch.utils.data import Sampler

from ..utils.errors import UserError


class RandomIdentitySampler(Sampler):
    """Batches of P identities x K images (P = batch_size / K), ids split between ranks.

    An identity with fewer than K images is drawn with replacement. An epoch has a fixed number of
    batches (all of an epoch's K-chunks divided by P); identities that run out before the end are
    refilled, so every batch has P distinct identities and the epoch length never varies.
    """

    def __init__(self, records, batch_size, num_instances, rank=0, world_size=1):
        if batch_size % num_instances:
            raise UserError(f"SOLVER.IMS_PER_BATCH ({batch_size}) must be a multiple of "
                            f"DATALOADER.NUM_INSTANCE ({num_instances})")
        self.k = num_instances
        self.p = batch_size // num_instances
        if self.p % world_size:
            raise UserError(f"{self.p} identities per batch cannot be split over {world_size} processes: make "
                            "SOLVER.IMS_PER_BATCH / DATALOADER.NUM_INSTANCE a multiple of the process count")
        self.rank, self.world_size = rank, world_size
        by_pid = defaultdict(list)
        for index, (_, pid, _) in enumerate(records):
            by_pid[pid].append(index)
        self.pids = sorted(by_pid)
        self.index_of = [torch.tensor(by_pid[pid]) for pid in self.pids]
        if len(self.pids) < self.p:
            raise UserError(f"a P x K batch needs {self.p} identities but the training set has {len(self.pids)}: "
                            "lower SOLVER.IMS_PER_BATCH or raise DATALOADER.NUM_INSTANCE")
        chunks = sum(max(len(ix), self.k) // self.k for ix in self.index_of)
        self.num_batches = max(chunks // self.p, 1)

    def _chunks(self, j):
        ix = self.index_of[j]
        if len(ix) < self.k:
            ix = ix[torch.randint(len(ix), (self.k,))]
        else:
            ix = ix[torch.randperm(len(ix))]
        return list(ix[: len(ix) // self.k * self.k].view(-1, self.k))

    def global_batches(self):
        """The epoch's batches as lists of P chunks of K indices (the same on every rank)."""
        remaining = {j: self._chunks(j) for j in range(len(self.pids))}
        for _ in range(self.num_batches):
            available = [j for j, c in remaining.items() if c]
            if len(available) < self.p:
                for j in range(len(self.pids)):
                    if not remaining[j]:
                        remaining[j] = self._chunks(j)
                available = list(remaining)
            picked = torch.randperm(len(available))[: self.p].tolist()
            yield [remaining[available[i]].pop() for i in picked]

    def __iter__(self):
        share = self.p // self.world_size
        for batch in self.global_batches():
            for chunk in batch[self.rank * share:(self.rank + 1) * share]:
                yield from chunk.tolist()

    def __len__(self):
        return self.num_batches * self.p // self.world_size * self.k


class ShardedRandomSampler(Sampler):
    """A shuffle of the whole dataset, each rank taking every world_size-th index (equal shares)."""

    def __init__(self, num_samples, rank=0, world_size=1):
        self.n, self.rank, self.world_size = num_samples, rank, world_size

    def __iter__(self):
        order = torch.randperm(self.n)
        return iter(order[self.rank: len(self) * self.world_size: self.world_size].tolist())

    def __len__(self):
        return self.n // self.world_size


class ShardedSequentialSampler(Sampler):
    """Rank r takes indices r, r + W, ...; shares are padded to equal length by repeating the last index
    so that gathered features line up (the evaluator drops the repeats by index)."""

    def __init__(self, num_samples, rank=0, world_size=1):
        self.n, self.rank, self.world_size = num_samples, rank, world_size

    def __iter__(self):
        own = list(range(self.rank, self.n, self.world_size))
        return iter(own + [self.n - 1] * (len(self) - len(own)))

    def __len__(self):
        return -(-self.n // self.world_size)
